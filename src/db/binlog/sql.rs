//! Queries whose rows are read without panics: mysql_async's typed queries panic
//! on a row of an unexpected shape; here that is an error like any other.

use mysql_async::prelude::{FromRow, Queryable};
use mysql_async::{Conn, Params, Row};

/// The rows of a text query, each read as `T`.
pub(crate) async fn query<T: FromRow>(
    conn: &mut Conn,
    sql: &str,
) -> Result<Vec<T>, mysql_async::Error> {
    let rows: Vec<Row> = conn.query(sql).await?;
    typed(rows)
}

/// The rows of a prepared statement run with `params`, each read as `T`.
pub(crate) async fn exec<T: FromRow>(
    conn: &mut Conn,
    sql: &str,
    params: impl Into<Params> + Send,
) -> Result<Vec<T>, mysql_async::Error> {
    let rows: Vec<Row> = conn.exec(sql, params).await?;
    typed(rows)
}

fn typed<T: FromRow>(rows: Vec<Row>) -> Result<Vec<T>, mysql_async::Error> {
    rows.into_iter()
        .map(|row| {
            mysql_async::from_row_opt(row).map_err(|e| mysql_async::Error::Other(Box::new(e)))
        })
        .collect()
}
