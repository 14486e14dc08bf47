//! The `user` table: the row type and the queries on it.
//!
//! Every function takes a connection and returns `QueryResult`, so the caller decides
//! what a missing row or a lost connection means for its response.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Serialize;

use super::schema::user;
use super::DbConn;

/// A user's primary key; a newtype so that no other number can stand in for it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, diesel_derive_newtype::DieselNewType,
)]
#[serde(transparent)]
pub struct UserId(pub u32);

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// One row of `user`, as pages and the JSON API show it.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize)]
#[diesel(table_name = user, check_for_backend(diesel::mysql::Mysql))]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub address: String,
}

/// How many users there are.
pub async fn count(conn: &mut DbConn) -> QueryResult<u64> {
    let total: i64 = user::table.count().get_result(conn).await?;
    Ok(u64::try_from(total).unwrap_or(0))
}

/// Users ordered by id, `limit` of them after skipping `offset`.
pub async fn page(conn: &mut DbConn, offset: u64, limit: u32) -> QueryResult<Vec<User>> {
    user::table
        .order(user::id.asc())
        .limit(i64::from(limit))
        .offset(i64::try_from(offset).unwrap_or(i64::MAX))
        .select(User::as_select())
        .load(conn)
        .await
}

/// The user with this id; `NotFound` when there is none.
pub async fn find(conn: &mut DbConn, id: UserId) -> QueryResult<User> {
    user::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .await
}
