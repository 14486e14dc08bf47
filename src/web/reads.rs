//! Reading users for the pages and the JSON API alike; beside [`super::writes`].
//! The total is memoised in the cache under the `users` tag, which writes purge.

use std::time::Duration;

use super::error::AppError;
use super::pagination::{PageInfo, PageRequest};
use crate::db::users::{self, User, UserId};
use crate::db::Db;
use rocket_page_cache::Cache;

/// How long the users count is memoised; purged with the `users` tag on writes.
const COUNT_TTL: Duration = Duration::from_mins(5);

/// One page of users with its total: what the list page and the list API show.
pub struct UserPage {
    pub info: PageInfo,
    pub items: Vec<User>,
}

/// Reads one page of users: the total first, so that a page past the end is a 400.
pub async fn load_page(db: &Db, cache: &Cache, request: PageRequest) -> Result<UserPage, AppError> {
    let total = users_total(db, cache).await?;
    let info = request.locate(total)?;
    let mut conn = db.conn().await?;
    let items = users::page(&mut conn, request.offset(), request.per_page).await?;
    Ok(UserPage { info, items })
}

/// How many users there are, memoised under the `users` tag (purged on writes).
pub async fn users_total(db: &Db, cache: &Cache) -> Result<u64, AppError> {
    cache
        .get_or_compute("users:count", COUNT_TTL, &["users"], async {
            let mut conn = db.conn().await?;
            Ok::<_, AppError>(users::count(&mut conn).await?)
        })
        .await
}

/// Reads one user; an unknown id is a 404.
pub async fn load_user(db: &Db, id: UserId) -> Result<User, AppError> {
    let mut conn = db.conn().await?;
    users::find(&mut conn, id).await.map_err(|e| match e {
        diesel::result::Error::NotFound => AppError::NotFound(format!("There is no user {id}.")),
        other => other.into(),
    })
}
