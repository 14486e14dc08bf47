//! The `user` table: the row type and the queries on it.
//!
//! Every function takes a connection and returns `QueryResult`, so the caller decides
//! what a missing row or a lost connection means for its response. Writes run in
//! a transaction: when they return `Ok`, the change is committed.

use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{BigInt, Unsigned};
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde::Serialize;

use super::reads::{self, RecordReads, TableRow};
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

impl TableRow for User {
    const TABLE: &'static str = "user";

    fn primary_key(&self) -> String {
        self.id.to_string()
    }
}

/// How many users there are.
pub async fn count(conn: &mut DbConn, recorder: &dyn RecordReads) -> QueryResult<u64> {
    let total: i64 = user::table.count().get_result(conn).await?;
    reads::counted::<User>(recorder);
    Ok(u64::try_from(total).unwrap_or(0))
}

/// Users ordered by id, `limit` of them after skipping `offset`.
pub async fn page(
    conn: &mut DbConn,
    recorder: &dyn RecordReads,
    offset: u64,
    limit: u32,
) -> QueryResult<Vec<User>> {
    let rows = user::table
        .order(user::id.asc())
        .limit(i64::from(limit))
        .offset(i64::try_from(offset).unwrap_or(i64::MAX))
        .select(User::as_select())
        .load(conn)
        .await?;
    reads::listed(recorder, &rows);
    Ok(rows)
}

/// The user with this id; `NotFound` when there is none.
pub async fn find(conn: &mut DbConn, recorder: &dyn RecordReads, id: UserId) -> QueryResult<User> {
    let found = user::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .await;
    if matches!(found, Ok(_) | Err(DieselError::NotFound)) {
        reads::looked_up::<User>(recorder, &id);
    }
    found
}

/// The user who has `email`, if any, compared as the unique index compares it (so
/// `Ada@x.com` finds `ada@x.com`). Lets a form report a taken address together with
/// its other mistakes instead of after they are fixed.
pub async fn email_owner(conn: &mut DbConn, email: &str) -> QueryResult<Option<UserId>> {
    user::table
        .filter(user::email.eq(email))
        .select(user::id)
        .first(conn)
        .await
        .optional()
}

/// The columns a write sets: a new row, or every column of an existing one.
/// Checked beforehand by the web layer; the unique index on `email` is checked here
/// (`DatabaseErrorKind::UniqueViolation`).
#[derive(Debug, Clone, PartialEq, Eq, Insertable, AsChangeset)]
#[diesel(table_name = user, check_for_backend(diesel::mysql::Mysql))]
pub struct NewUser {
    pub name: String,
    pub email: String,
    pub phone: String,
    pub address: String,
}

impl NewUser {
    fn with_id(self, id: UserId) -> User {
        User {
            id,
            name: self.name,
            email: self.email,
            phone: self.phone,
            address: self.address,
        }
    }
}

/// Inserts a user and returns it with its new id.
pub async fn insert(conn: &mut DbConn, new: NewUser) -> QueryResult<User> {
    conn.transaction(async |conn| {
        diesel::insert_into(user::table)
            .values(&new)
            .execute(conn)
            .await?;
        // Per connection, so no other session's insert can show up here.
        let id: u64 = diesel::select(diesel::dsl::sql::<Unsigned<BigInt>>("LAST_INSERT_ID()"))
            .get_result(conn)
            .await?;
        let id = u32::try_from(id).map_err(|e| DieselError::DeserializationError(Box::new(e)))?;
        Ok(new.with_id(UserId(id)))
    })
    .await
}

/// Replaces every column of user `id`; `NotFound` when there is no such user.
/// (The connection counts matched rows, not changed ones, so saving a user
/// unchanged is not mistaken for a missing one.)
pub async fn update(conn: &mut DbConn, id: UserId, changes: NewUser) -> QueryResult<User> {
    conn.transaction(async |conn| {
        let matched = diesel::update(user::table.find(id))
            .set(&changes)
            .execute(conn)
            .await?;
        if matched == 0 {
            return Err(DieselError::NotFound);
        }
        Ok(changes.with_id(id))
    })
    .await
}

/// Deletes user `id`; `NotFound` when there is no such user.
pub async fn delete(conn: &mut DbConn, id: UserId) -> QueryResult<()> {
    conn.transaction(async |conn| {
        let deleted = diesel::delete(user::table.find(id)).execute(conn).await?;
        if deleted == 0 {
            return Err(DieselError::NotFound);
        }
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use diesel::mysql::Mysql;

    use super::*;

    #[test]
    fn the_recorded_table_is_the_table_queried() {
        let sql = diesel::debug_query::<Mysql, _>(&user::table.select(user::id)).to_string();
        assert!(sql.contains(&format!("`{}`", User::TABLE)), "{sql}");
    }
}
