//! The `admin_session` table: one row per admin login, found by the SHA-256 of the
//! token the browser holds (never the token itself).
//!
//! Times are unix seconds given by the caller, so that tests and every instance agree
//! on what "expired" means without reading `MySQL`'s clock.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::schema::admin_session;
use super::DbConn;

/// Most live sessions kept at once; the oldest beyond it are ended at the next
/// login, so the table stays bounded even if logins never expire in time.
pub const MAX_LIVE_SESSIONS: i64 = 100;

/// One session, as stored.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Queryable,
    Selectable,
    Insertable,
    serde::Serialize,
    serde::Deserialize,
)]
#[diesel(table_name = admin_session, check_for_backend(diesel::mysql::Mysql))]
pub struct SessionRow {
    pub token_hash: Vec<u8>,
    pub username: String,
    pub fingerprint: String,
    pub csrf: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Stores a new session, first deleting expired rows and the oldest live ones past
/// [`MAX_LIVE_SESSIONS`].
pub async fn insert(conn: &mut DbConn, row: SessionRow) -> QueryResult<()> {
    conn.transaction(async |conn| {
        diesel::delete(admin_session::table.filter(admin_session::expires_at.le(row.created_at)))
            .execute(conn)
            .await?;
        let surplus: Vec<Vec<u8>> = admin_session::table
            .order(admin_session::created_at.desc())
            .select(admin_session::token_hash)
            .limit(i64::from(u16::MAX))
            .offset(MAX_LIVE_SESSIONS - 1)
            .load(conn)
            .await?;
        if !surplus.is_empty() {
            diesel::delete(admin_session::table.filter(admin_session::token_hash.eq_any(surplus)))
                .execute(conn)
                .await?;
        }
        diesel::insert_into(admin_session::table)
            .values(&row)
            .execute(conn)
            .await?;
        Ok(())
    })
    .await
}

/// The session with this token hash if it has not expired at `now`.
pub async fn find_live(
    conn: &mut DbConn,
    token_hash: &[u8],
    now: i64,
) -> QueryResult<Option<SessionRow>> {
    admin_session::table
        .find(token_hash)
        .filter(admin_session::expires_at.gt(now))
        .select(SessionRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Ends the session with this token hash (nothing happens if there is none).
pub async fn delete(conn: &mut DbConn, token_hash: &[u8]) -> QueryResult<()> {
    diesel::delete(admin_session::table.find(token_hash))
        .execute(conn)
        .await
        .map(drop)
}
