//! A `MySQL` database per test, and SQL run outside the app for set-up and checks.

use std::sync::Arc;

use test_support::{mysql_addr, random_name};

/// The URL of the shared test MariaDB's server (no database; user root, no
/// password).
pub fn mysql_server() -> String {
    format!("mysql://root@{}", mysql_addr())
}

/// A database of its own, dropped when the last holder goes.
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            name: random_name("rc_test"),
        })
    }

    pub fn url(&self) -> String {
        format!("{}/{}", mysql_server(), self.name)
    }

    /// Runs SQL on this database outside the app (set-up and checks).
    pub fn execute(&self, sql: &str) {
        run_sql(&self.url(), sql);
    }

    /// Creates the database empty, for tests that prepare it before the app.
    pub fn create_empty(&self) {
        run_sql(
            &format!("{}/", mysql_server()),
            &format!("CREATE DATABASE `{}` CHARACTER SET utf8mb4", self.name),
        );
    }

    /// One value of a query on this database, read outside the app.
    pub fn query_one(&self, sql: &str) -> String {
        query_one(&self.url(), sql)
    }

    /// Whether the database exists on the server.
    pub fn exists(&self) -> bool {
        let sql = format!(
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{}'",
            self.name
        );
        query_one(&format!("{}/", mysql_server()), &sql) == "1"
    }
}

/// One value of a query, as text, on a connection of its own (see [`run_sql`]).
fn query_one(url: &str, sql: &str) -> String {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        use diesel::sql_types::Text;
        use diesel::{Connection, QueryableByName, RunQueryDsl};
        use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = Text)]
            value: String,
        }
        let mut conn: AsyncConnectionWrapper<diesel_async::AsyncMysqlConnection> =
            Connection::establish(&url).expect("test connection");
        let rows: Vec<Row> = diesel::sql_query(format!("SELECT CAST(({sql}) AS CHAR) AS value"))
            .load(&mut conn)
            .expect("test query");
        rows.into_iter().next().map(|r| r.value).unwrap_or_default()
    })
    .join()
    .expect("query thread")
}

impl Drop for TestDb {
    fn drop(&mut self) {
        run_sql(
            &format!("{}/", mysql_server()),
            &format!("DROP DATABASE IF EXISTS `{}`", self.name),
        );
    }
}

/// Runs SQL on a connection of its own, from a plain thread: the wrapper drives
/// its own runtime and must not run inside the test's.
fn run_sql(url: &str, sql: &str) {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
        let mut conn: AsyncConnectionWrapper<diesel_async::AsyncMysqlConnection> =
            Connection::establish(&url).expect("test connection");
        conn.batch_execute(&sql).expect("test SQL");
    })
    .join()
    .expect("SQL thread");
}
