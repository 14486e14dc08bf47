//! Reading users for the pages and the JSON API alike; beside [`super::writes`].
//!
//! Every read is recorded into the request's [`Reads`] (the page cache's
//! recorder, which `db/` knows only as [`RecordReads`]), so a cached page is
//! filed under the rows it showed. The list's pages are read in
//! [`super::listing`].

use std::fmt::Display;

use futures_util::FutureExt;

use super::render_db::RenderDb;
use crate::db::reads::RecordReads;
use crate::db::users::{self, User, UserId};
use crate::web::error::AppError;
use rocket_page_cache::Reads;

/// The page cache's recorder stands in for whatever `db/` reports to.
impl RecordReads for Reads {
    fn row(&self, table: &str, key: &dyn Display) {
        Reads::row(self, table, key);
    }

    fn membership(&self, table: &str) {
        Reads::membership(self, table);
    }
}

/// Reads one user; an unknown id is a 404.
pub async fn load_user<R: RecordReads + Clone + 'static>(
    db: &RenderDb<'_>,
    reads: &R,
    id: UserId,
) -> Result<User, AppError> {
    db.read(|conn| {
        let reads = reads.clone();
        async move {
            users::find(conn, &reads, id).await.map_err(|e| match e {
                diesel::result::Error::NotFound => {
                    AppError::NotFound(format!("There is no user {id}."))
                }
                other => other.into(),
            })
        }
        .boxed()
    })
    .await
}
