//! Start-up of the database: wait for `MySQL`, create the database, run migrations.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncMysqlConnection, SimpleAsyncConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::db::config::DatabaseConfig;
use crate::db::redact::redact_url;
use crate::db::startup_error::{ConnectAttempt, StartupError};

/// The SQL under `migrations/`, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Held while migrating so that instances starting together migrate one at a time.
const MIGRATION_LOCK: &str = "rocket_cache_migrations";

/// Waits for the server (retrying with backoff up to `startup_timeout`), creates the
/// database if missing, then applies pending migrations.
pub async fn prepare_database(config: &DatabaseConfig) -> Result<(), StartupError> {
    let name = config.database_name().ok_or(StartupError::NoDatabaseName)?;
    let mut server = connect_with_retry(config).await?;
    let create = format!(
        "CREATE DATABASE IF NOT EXISTS `{name}` \
         CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    );
    server
        .batch_execute(&create)
        .await
        .map_err(|source| StartupError::CreateDatabase {
            name: name.clone(),
            source,
        })?;
    drop(server);

    let url = config.url.clone();
    let applied = tokio::task::spawn_blocking(move || run_migrations(&url))
        .await
        .map_err(StartupError::MigrationTask)??;
    if applied > 0 {
        rocket::info!("applied {applied} migration(s) to `{name}`");
    }
    Ok(())
}

async fn connect_with_retry(config: &DatabaseConfig) -> Result<AsyncMysqlConnection, StartupError> {
    let server_url = config.server_url();
    let deadline = Instant::now() + config.startup_timeout();
    let mut backoff = Duration::from_millis(200);
    loop {
        let attempt = tokio::time::timeout(
            config.connect_timeout(),
            AsyncMysqlConnection::establish(&server_url),
        )
        .await;
        let error = match attempt {
            Ok(Ok(conn)) => return Ok(conn),
            Ok(Err(e)) => ConnectAttempt::Refused(e),
            Err(_) => ConnectAttempt::NoAnswer(config.connect_timeout()),
        };
        if Instant::now() + backoff > deadline {
            return Err(StartupError::Unreachable {
                url: redact_url(&config.url),
                secs: config.startup_timeout_secs,
                last: error,
            });
        }
        rocket::warn!(
            "MySQL at {} not reachable yet ({error}); retrying in {backoff:?}",
            redact_url(&server_url)
        );
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// Blocking: `AsyncConnectionWrapper` drives its own runtime, so this must run in
/// `spawn_blocking`, never on an async worker.
fn run_migrations(url: &str) -> Result<usize, StartupError> {
    let mut conn: AsyncConnectionWrapper<AsyncMysqlConnection> =
        Connection::establish(url).map_err(StartupError::MigrationConnection)?;
    SimpleConnection::batch_execute(&mut conn, &format!("DO GET_LOCK('{MIGRATION_LOCK}', 60)"))
        .map_err(StartupError::MigrationLock)?;
    let result = check_unique_emails(&mut conn).and_then(|()| {
        conn.run_pending_migrations(MIGRATIONS)
            .map(|applied| applied.len())
            .map_err(StartupError::Migration)
    });
    let _ =
        SimpleConnection::batch_execute(&mut conn, &format!("DO RELEASE_LOCK('{MIGRATION_LOCK}')"));
    result
}

/// The unique index that migration `2024-01-02-000001_unique_user_email` adds.
const EMAIL_INDEX: &str = "user_email_unique";

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Duplicate {
    #[diesel(sql_type = Text)]
    ids: String,
}

/// Before the unique index on `user.email` is added to an adopted table: when some
/// address is used more than once, stop with a message naming the users (by id,
/// to keep addresses out of logs) instead of dropping or merging anyone's rows.
/// Addresses are compared as the index will compare them (utf8mb4_unicode_ci).
fn check_unique_emails(
    conn: &mut AsyncConnectionWrapper<AsyncMysqlConnection>,
) -> Result<(), StartupError> {
    let count = |conn: &mut AsyncConnectionWrapper<AsyncMysqlConnection>, sql: &str| {
        diesel::sql_query(sql)
            .get_result::<Count>(conn)
            .map(|c| c.n)
            .map_err(StartupError::InspectUsers)
    };
    let table = count(
        conn,
        "SELECT COUNT(*) AS n FROM information_schema.tables \
         WHERE table_schema = DATABASE() AND table_name = 'user'",
    )?;
    let index = count(
        conn,
        &format!(
            "SELECT COUNT(*) AS n FROM information_schema.statistics \
             WHERE table_schema = DATABASE() AND table_name = 'user' \
             AND index_name = '{EMAIL_INDEX}'"
        ),
    )?;
    if table == 0 || index > 0 {
        return Ok(());
    }
    let groups = "FROM `user` \
         GROUP BY CONVERT(email USING utf8mb4) COLLATE utf8mb4_unicode_ci \
         HAVING COUNT(*) > 1";
    let total = count(
        conn,
        &format!("SELECT COUNT(*) AS n FROM (SELECT 1 {groups}) AS d"),
    )?;
    if total == 0 {
        return Ok(());
    }
    let examples: Vec<Duplicate> = diesel::sql_query(format!(
        "SELECT CAST(GROUP_CONCAT(id ORDER BY id SEPARATOR ', ') AS CHAR) AS ids \
         {groups} ORDER BY MIN(id) LIMIT 5"
    ))
    .load(conn)
    .map_err(StartupError::InspectUsers)?;
    Err(StartupError::DuplicateEmails {
        total: u64::try_from(total).unwrap_or_default(),
        shared_by: examples.into_iter().map(|d| d.ids).collect(),
    })
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[tokio::test]
    async fn an_unreachable_server_keeps_the_drivers_error_as_the_source() {
        // Port 1: nothing listens, the connection is refused at once. No
        // retry: the start-up timeout is 0.
        let config = DatabaseConfig {
            connect_timeout_ms: 5_000,
            ..crate::db::config::for_tests("mysql://root:secret@127.0.0.1:1/users")
        };
        let error = prepare_database(&config)
            .await
            .expect_err("nothing listens");
        let StartupError::Unreachable { url, secs: 0, .. } = &error else {
            panic!("not unreachable: {error:?}")
        };
        assert!(!url.contains("secret"), "{url}");
        let message = error.to_string();
        assert!(message.starts_with("cannot reach MySQL at "), "{message}");
        assert!(message.contains("ROCKET_DATABASES="), "{message}");
        let attempt = error.source().expect("the last attempt");
        assert!(
            matches!(
                attempt.downcast_ref::<ConnectAttempt>(),
                Some(ConnectAttempt::Refused(_))
            ),
            "{attempt:?}"
        );
        let driver = attempt.source().expect("the driver's error");
        assert!(driver.is::<diesel::ConnectionError>(), "{driver:?}");
    }
}
