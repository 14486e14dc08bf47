//! Reading users for the pages and the JSON API alike; beside [`super::writes`].
//!
//! Every read is recorded into the request's [`Reads`] (the page cache's
//! recorder, which `db/` knows only as [`RecordReads`]), so a cached page is
//! filed under the rows it showed. The total is memoised in the cache, filed
//! under the table's membership, which inserts and deletes purge.

use std::fmt::Display;
use std::time::Duration;

use super::error::AppError;
use super::pagination::{PageInfo, PageRequest};
use crate::db::reads::RecordReads;
use crate::db::users::{self, User, UserId};
use crate::db::Db;
use rocket_page_cache::{Cache, Reads};

/// How long the users count is memoised; purged when users come or go.
const COUNT_TTL: Duration = Duration::from_mins(5);

/// The page cache's recorder stands in for whatever `db/` reports to.
impl RecordReads for Reads {
    fn row(&self, table: &str, key: &dyn Display) {
        Reads::row(self, table, key);
    }

    fn membership(&self, table: &str) {
        Reads::membership(self, table);
    }
}

/// One page of users with its total: what the list page and the list API show.
pub struct UserPage {
    pub info: PageInfo,
    pub items: Vec<User>,
}

/// Reads one page of users: the total first, so that a page past the end is a 400.
pub async fn load_page(
    db: &Db,
    cache: &Cache,
    reads: &Reads,
    request: PageRequest,
) -> Result<UserPage, AppError> {
    let total = users_total(db, cache, reads).await?;
    let info = request.locate(total)?;
    let mut conn = db.conn().await?;
    let items = users::page(&mut conn, reads, request.offset(), request.per_page).await?;
    Ok(UserPage { info, items })
}

/// How many users there are, memoised and filed under what counting read (the
/// table's membership), which the page that shows it inherits.
pub async fn users_total(db: &Db, cache: &Cache, reads: &Reads) -> Result<u64, AppError> {
    cache
        .get_or_compute_recorded("users:count", COUNT_TTL, reads, |own| async move {
            let mut conn = db.conn().await?;
            Ok::<_, AppError>(users::count(&mut conn, &own).await?)
        })
        .await
}

/// Reads one user; an unknown id is a 404.
pub async fn load_user(db: &Db, reads: &dyn RecordReads, id: UserId) -> Result<User, AppError> {
    let mut conn = db.conn().await?;
    users::find(&mut conn, reads, id)
        .await
        .map_err(|e| match e {
            diesel::result::Error::NotFound => {
                AppError::NotFound(format!("There is no user {id}."))
            }
            other => other.into(),
        })
}
