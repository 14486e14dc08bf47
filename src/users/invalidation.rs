//! After a write commits: purge the pages it changed, in the shared cache, for
//! every instance at once.
//!
//! A write is described in the words pages were filed under (see `db::reads`):
//! the row it touched, and the table's membership when rows came or went. The
//! purge marks each tag in the same atomic step, so a render that read the old
//! row before the commit cannot store itself afterwards (see the engine's
//! `store`). A purge that fails does not undo or hide the committed write: it is
//! retried once at once, then logged and retried in the background for a while,
//! and the caller is told so it can say the cache may lag (where the binlog
//! follower runs, it purges the same change from the log as well).

use std::fmt::Display;
use std::time::Duration;

use crate::db::reads::TableRow;
use crate::db::replicas::GtidPosition;
use crate::db::Db;
use crate::purged_position::{self, PositionError};
use rocket_page_cache::{Cache, Change, StoreError};

/// A row of `T` was inserted: its own page (perhaps a cached "no such" page)
/// and every answer that depends on which rows exist.
pub fn inserted<T: TableRow>(key: impl Display) -> Vec<Change> {
    let mut changes = updated::<T>(key);
    changes.push(Change::Membership {
        table: T::TABLE.to_owned(),
    });
    changes
}

/// A row of `T` was changed in place: the answers that showed it.
pub fn updated<T: TableRow>(key: impl Display) -> Vec<Change> {
    vec![Change::Row {
        table: T::TABLE.to_owned(),
        key: key.to_string(),
    }]
}

/// A row of `T` was deleted: as for an insert.
pub fn deleted<T: TableRow>(key: impl Display) -> Vec<Change> {
    inserted::<T>(key)
}

/// Whether the cache was purged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purge {
    Done,
    /// Not yet: retried in the background; pages may show the old data until then
    /// or until their lifetime ends.
    Pending,
}

impl Purge {
    /// For the `X-Cache-Purge` header of write responses.
    pub fn header_value(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Pending => "pending",
        }
    }
}

/// Pause before the single retry in the request.
const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// Pauses between background retries (about half a minute in all).
const BACKGROUND_PAUSES: [u64; 5] = [1, 2, 4, 8, 16];

/// Purges what `changes` touched after a commit, hard unless
/// `cache.soft_purge_on_write`. With read replicas, each try first records
/// the primary's position after the commit (see `purged_position`), so that
/// no render reads a replica that lacks the write.
pub async fn after_commit(db: &Db, cache: &Cache, changes: Vec<Change>) -> Purge {
    let soft = cache.config().soft_purge_on_write;
    // Read once, right after the commit: it covers the write on every try.
    let written = purged_position::primary_now(db).await.ok().flatten();
    let Err(first) = purge_once(db, cache, &changes, written.as_ref(), soft).await else {
        return Purge::Done;
    };
    tokio::time::sleep(RETRY_PAUSE).await;
    if purge_once(db, cache, &changes, written.as_ref(), soft)
        .await
        .is_ok()
    {
        return Purge::Done;
    }
    rocket::error!(
        "cache purge of {changes:?} failed after a commit ({first}); retrying in the \
         background, pages may show old data meanwhile"
    );
    let cache = cache.clone();
    let db = db.clone();
    tokio::spawn(async move {
        for pause in BACKGROUND_PAUSES {
            tokio::time::sleep(Duration::from_secs(pause)).await;
            if purge_once(&db, &cache, &changes, written.as_ref(), soft)
                .await
                .is_ok()
            {
                rocket::info!("cache purge of {changes:?} done on retry");
                return;
            }
        }
        rocket::error!(
            "cache purge of {changes:?} gave up; those pages may show old data until the \
             binlog follower purges them or their lifetime ends"
        );
    });
    Purge::Pending
}

/// Why one try of a purge failed.
#[derive(Debug, thiserror::Error)]
enum PurgeError {
    #[error("recording the purged position: {0}")]
    Position(#[from] PositionError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Records the write's position (with replicas), then purges.
async fn purge_once(
    db: &Db,
    cache: &Cache,
    changes: &[Change],
    written: Option<&GtidPosition>,
    soft: bool,
) -> Result<u64, PurgeError> {
    purged_position::record_purge(db, cache, written).await?;
    Ok(cache.purge_changes(changes, soft).await?)
}
