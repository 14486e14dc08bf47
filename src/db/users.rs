//! The `user` table: the row type and the queries on it.
//!
//! Every function takes a connection and returns `QueryResult`, so the caller decides
//! what a missing row or a lost connection means for its response. Writes run in
//! a transaction: when they return `Ok`, the change is committed.

use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_query;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Unsigned};
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

/// How many users there are, as far as one cheap statement can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// The optimiser's estimate (InnoDB's sampled statistics: off by tens of
    /// percent, but read without touching a row).
    pub estimate: u64,
    /// The users counted, at most `limit`; `None` when the estimate was past
    /// `count_below` and nothing was counted.
    pub counted: Option<u64>,
}

/// The table's size in one statement: the estimate, and the users counted up
/// to `limit` unless the estimate is past `count_below`. The count reads at
/// most `limit` index entries (a full `COUNT(*)` reads every row, 0.4 s at a
/// million), and `MariaDB` runs it only when its branch is taken.
pub async fn size(
    conn: &mut DbConn,
    recorder: &dyn RecordReads,
    limit: u64,
    count_below: u64,
) -> QueryResult<Size> {
    #[derive(QueryableByName)]
    struct Sized {
        #[diesel(sql_type = BigInt)]
        estimate: i64,
        #[diesel(sql_type = Nullable<BigInt>)]
        counted: Option<i64>,
    }
    let sized: Sized = sql_query(
        "SELECT e.estimate, CASE WHEN e.estimate > ? THEN NULL \
           ELSE (SELECT COUNT(*) FROM (SELECT 1 FROM `user` LIMIT ?) t) END AS counted \
         FROM (SELECT CAST(COALESCE(MAX(TABLE_ROWS), 0) AS SIGNED) AS estimate \
           FROM information_schema.TABLES \
           WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?) e",
    )
    .bind::<BigInt, _>(as_limit(count_below))
    .bind::<BigInt, _>(as_limit(limit))
    .bind::<Text, _>(User::TABLE)
    .get_result(conn)
    .await?;
    reads::counted::<User>(recorder);
    let rows = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(Size {
        estimate: rows(sized.estimate),
        counted: sized.counted.map(rows),
    })
}

/// How many users have an id up to `id`, counting at most `limit` of them (see
/// [`size`]): the position of a page that starts after `id`.
pub async fn count_through(
    conn: &mut DbConn,
    recorder: &dyn RecordReads,
    id: UserId,
    limit: u64,
) -> QueryResult<u64> {
    let counted: Counted =
        sql_query("SELECT COUNT(*) AS n FROM (SELECT 1 FROM `user` WHERE id <= ? LIMIT ?) t")
            .bind::<Unsigned<Integer>, _>(id.0)
            .bind::<BigInt, _>(as_limit(limit))
            .get_result(conn)
            .await?;
    reads::counted::<User>(recorder);
    Ok(counted.rows())
}

/// A count read with `sql_query`.
#[derive(QueryableByName)]
struct Counted {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

impl Counted {
    fn rows(self) -> u64 {
        u64::try_from(self.n).unwrap_or(0)
    }
}

/// A row count as a SQL `LIMIT`.
fn as_limit(rows: u64) -> i64 {
    i64::try_from(rows).unwrap_or(i64::MAX)
}

/// One list page with the ids around it, read by one statement: the page's
/// rows, where the pages before and after it start, whether its cursor names a
/// user, and where the last page starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageAround {
    /// Up to `per_page` users after the cursor, in id order.
    pub rows: Vec<User>,
    /// Up to `span` ids up to and including the cursor, greatest first.
    pub through: Vec<UserId>,
    /// Up to `span` ids after the cursor, in order (the page's own first).
    pub after: Vec<UserId>,
    /// The id that has `from_last` ids after it, if there are that many.
    pub from_last: Option<UserId>,
}

/// Reads the page after `cursor` (the first page: `None`) and [`PageAround`]'s
/// ids: four seeks on the primary key in one round trip, each reading at most
/// `span` index entries, so the cost is the same on page 1 and page 50,000.
pub async fn page_around(
    conn: &mut DbConn,
    recorder: &dyn RecordReads,
    cursor: Option<UserId>,
    per_page: u32,
    span: u64,
    from_last: u64,
) -> QueryResult<PageAround> {
    /// One row of the union: `side` says which seek it comes from; only the
    /// page's rows carry columns.
    #[derive(QueryableByName)]
    struct UnionRow {
        #[diesel(sql_type = Integer)]
        side: i32,
        #[diesel(sql_type = Unsigned<Integer>)]
        id: u32,
        #[diesel(sql_type = Nullable<Text>)]
        name: Option<String>,
        #[diesel(sql_type = Nullable<Text>)]
        email: Option<String>,
        #[diesel(sql_type = Nullable<Text>)]
        phone: Option<String>,
        #[diesel(sql_type = Nullable<Text>)]
        address: Option<String>,
    }
    // Ids start at 1, so the first page is the page after 0.
    let cursor = cursor.map_or(0, |id| id.0);
    let per_page = u64::from(per_page);
    let sides: Vec<UnionRow> = sql_query(
        "(SELECT 0 AS side, id, name, email, phone, address FROM `user` \
           WHERE id > ? ORDER BY id LIMIT ?) \
         UNION ALL (SELECT 1, id, NULL, NULL, NULL, NULL FROM `user` \
           WHERE id <= ? ORDER BY id DESC LIMIT ?) \
         UNION ALL (SELECT 2, id, NULL, NULL, NULL, NULL FROM `user` \
           WHERE id > ? ORDER BY id LIMIT ? OFFSET ?) \
         UNION ALL (SELECT 3, id, NULL, NULL, NULL, NULL FROM `user` \
           ORDER BY id DESC LIMIT 1 OFFSET ?)",
    )
    .bind::<Unsigned<Integer>, _>(cursor)
    .bind::<BigInt, _>(as_limit(per_page))
    .bind::<Unsigned<Integer>, _>(cursor)
    .bind::<BigInt, _>(as_limit(span))
    .bind::<Unsigned<Integer>, _>(cursor)
    .bind::<BigInt, _>(as_limit(span.saturating_sub(per_page)))
    .bind::<BigInt, _>(as_limit(per_page))
    .bind::<BigInt, _>(as_limit(from_last))
    .load(conn)
    .await?;
    let mut page = PageAround::default();
    let mut beyond = Vec::new();
    for side in sides {
        let id = UserId(side.id);
        match side.side {
            0 => page.rows.push(User {
                id,
                name: side.name.unwrap_or_default(),
                email: side.email.unwrap_or_default(),
                phone: side.phone.unwrap_or_default(),
                address: side.address.unwrap_or_default(),
            }),
            1 => page.through.push(id),
            2 => beyond.push(id),
            _ => page.from_last = Some(id),
        }
    }
    // A union keeps no order of its own.
    page.rows.sort_unstable_by_key(|user| user.id.0);
    page.through
        .sort_unstable_by_key(|id| std::cmp::Reverse(id.0));
    beyond.sort_unstable_by_key(|id| id.0);
    page.after = page.rows.iter().map(|user| user.id).chain(beyond).collect();
    // The ids around the page (where the other pages start) change only when
    // rows come or go: the membership `listed` records covers them.
    reads::listed(recorder, &page.rows);
    Ok(page)
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
