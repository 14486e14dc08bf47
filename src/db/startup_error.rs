//! [`StartupError`]: why the database could not be made ready at ignite.

use std::time::Duration;

use diesel_async::pooled_connection::deadpool::BuildError;

/// Why the database could not be made ready at ignite ([`prepare_database`]
/// and [`Db::new`]): the launch stops with it, in one line that says what to
/// do. The driver's or the pool's error, when there is one, is kept whole as
/// the [`source`](std::error::Error::source).
///
/// [`prepare_database`]: crate::db::prepare_database
/// [`Db::new`]: crate::db::Db::new
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// `databases.main.url` names no database to create and migrate.
    #[error("databases.main.url names no database")]
    NoDatabaseName,
    /// The server did not answer within `databases.main.startup_timeout_secs`;
    /// `url` has its password masked.
    #[error(
        "cannot reach MySQL at {url} after {secs}s ({last}). Start MariaDB \
         (`start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd`, \
         or `docker compose up -d mariadb`) or point \
         ROCKET_DATABASES='{{main={{url=\"mysql://...\"}}}}' at a running server"
    )]
    Unreachable {
        url: String,
        secs: u64,
        #[source]
        last: ConnectAttempt,
    },
    #[error("could not create database `{name}`: {source}")]
    CreateDatabase {
        name: String,
        #[source]
        source: diesel::result::Error,
    },
    /// The blocking task that runs the migrations panicked or was cancelled.
    #[error("migration task failed: {0}")]
    MigrationTask(#[source] tokio::task::JoinError),
    #[error("migration connection failed: {0}")]
    MigrationConnection(#[source] diesel::ConnectionError),
    #[error("could not take the migration lock: {0}")]
    MigrationLock(#[source] diesel::result::Error),
    /// A migration's SQL failed (diesel_migrations boxes its errors).
    #[error("migration failed: {0}")]
    Migration(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The `user` table could not be read to check its addresses before the
    /// unique index on `user.email` is added.
    #[error("could not inspect the `user` table: {0}")]
    InspectUsers(#[source] diesel::result::Error),
    /// Some email address is used by more than one user of an adopted table:
    /// `total` addresses, the first of them as the ids that share each one
    /// (never the addresses, which stay out of logs). Nothing was changed.
    #[error("{}", duplicate_emails(*.total, .shared_by))]
    DuplicateEmails { total: u64, shared_by: Vec<String> },
    /// The pool of the primary or of a replica (`url`, password masked) could
    /// not be built.
    #[error("could not build the MySQL pool of {url}: {source}")]
    Pool {
        url: String,
        #[source]
        source: BuildError,
    },
}

/// The line that refuses an adopted `user` table whose addresses are not unique.
fn duplicate_emails(total: u64, shared_by: &[String]) -> String {
    let examples: Vec<String> = shared_by
        .iter()
        .map(|ids| format!("users {ids} share one"))
        .collect();
    let more = u64::try_from(shared_by.len()).is_ok_and(|shown| total > shown);
    format!(
        "cannot add the unique index on user.email: {total} email address(es) are used by \
         more than one user ({}{}). Nothing was changed. Give each user an address of their \
         own (SELECT email, COUNT(*) FROM `user` GROUP BY email HAVING COUNT(*) > 1 lists \
         them), then start again",
        examples.join("; "),
        if more { "; ..." } else { "" }
    )
}

/// How the last attempt to reach the server failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectAttempt {
    #[error("{0}")]
    Refused(#[from] diesel::ConnectionError),
    #[error("no answer within {0:?}")]
    NoAnswer(Duration),
}
