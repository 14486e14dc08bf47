//! The two statements that keep replica reads from being older than a purge:
//! the primary's position, and a replica's wait for it.

use std::time::Duration;

use diesel::result::Error as DieselError;
use diesel::sql_types::{Double, Integer, Nullable, Text};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;

use super::gtid::GtidPosition;
use crate::db::DbConn;

#[derive(QueryableByName)]
struct Position {
    #[diesel(sql_type = Text)]
    position: String,
}

#[derive(QueryableByName)]
struct Waited {
    #[diesel(sql_type = Nullable<Integer>)]
    waited: Option<i32>,
}

/// The last transaction of each domain the server (the primary) has written
/// to its binlog: read after a commit, it covers that commit and every one
/// before it.
pub async fn primary_position(conn: &mut DbConn) -> Result<GtidPosition, DieselError> {
    let row: Position = diesel::sql_query("SELECT @@GLOBAL.gtid_binlog_pos AS position")
        .get_result(conn)
        .await?;
    row.position
        .parse()
        .map_err(|e: super::BadGtid| DieselError::DeserializationError(Box::new(e)))
}

/// Waits up to `timeout` for the replica on `conn` to apply everything up to
/// `position` (`MASTER_GTID_WAIT`); whether it has.
pub async fn wait_for_position(
    conn: &mut DbConn,
    position: &GtidPosition,
    timeout: Duration,
) -> Result<bool, DieselError> {
    if position.is_empty() {
        return Ok(true);
    }
    let row: Waited = diesel::sql_query("SELECT MASTER_GTID_WAIT(?, ?) AS waited")
        .bind::<Text, _>(position.to_string())
        .bind::<Double, _>(timeout.as_secs_f64())
        .get_result(conn)
        .await?;
    Ok(row.waited == Some(0))
}
