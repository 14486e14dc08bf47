//! The tables of the app's database, for what must act on every one of them
//! (the binlog follower's purge when it may have missed changes).

use diesel::sql_types::Text;
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;

use super::{AcquireError, Db};

#[derive(QueryableByName)]
struct TableName {
    #[diesel(sql_type = Text)]
    name: String,
}

/// Why the tables could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error(transparent)]
    Acquire(#[from] AcquireError),
    #[error("listing the tables: {0}")]
    Query(#[from] diesel::result::Error),
}

/// Every base table of the database the pool is connected to.
pub async fn all(db: &Db) -> Result<Vec<String>, ListError> {
    let mut conn = db.conn().await?;
    let rows: Vec<TableName> = diesel::sql_query(
        "SELECT CAST(table_name AS CHAR) AS name FROM information_schema.tables \
         WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY name",
    )
    .load(&mut conn)
    .await?;
    Ok(rows.into_iter().map(|row| row.name).collect())
}
