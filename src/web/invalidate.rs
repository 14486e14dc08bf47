//! After a write commits: purge the pages it changed, in the shared cache, for
//! every instance at once.
//!
//! The purge bumps each tag's generation in the same atomic step, so a render that
//! read the old row before the commit cannot store itself afterwards (see
//! `cache::store::redis`). A purge that fails does not undo or hide the committed
//! write: it is retried once at once, then logged and retried in the background
//! for a while, and the caller is told so it can say the cache may lag.

use std::time::Duration;

use crate::db::users::UserId;
use rocket_page_cache::Cache;

/// The tags a write to user `id` changes: the lists (and the users count), and
/// the user's own page and API item, including a cached 404 for an id just made.
pub fn user_tags(id: UserId) -> Vec<String> {
    vec!["users".to_owned(), format!("user:{id}")]
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

/// Purges `tags` after a commit, hard unless `cache.soft_purge_on_write`.
pub async fn after_commit(cache: &Cache, tags: Vec<String>) -> Purge {
    let soft = cache.config().soft_purge_on_write;
    let Err(first) = cache.purge_tags(&tags, soft).await else {
        return Purge::Done;
    };
    tokio::time::sleep(RETRY_PAUSE).await;
    if cache.purge_tags(&tags, soft).await.is_ok() {
        return Purge::Done;
    }
    rocket::error!(
        "cache purge of {tags:?} failed after a commit ({first}); retrying in the background, \
         pages may show old data meanwhile"
    );
    let cache = cache.clone();
    tokio::spawn(async move {
        for pause in BACKGROUND_PAUSES {
            tokio::time::sleep(Duration::from_secs(pause)).await;
            if cache.purge_tags(&tags, soft).await.is_ok() {
                rocket::info!("cache purge of {tags:?} done on retry");
                return;
            }
        }
        rocket::error!(
            "cache purge of {tags:?} gave up; those pages may show old data until their \
             lifetime ends (at most cache.default_ttl or a rule's ttl)"
        );
    });
    Purge::Pending
}
