//! `MySQL` through Diesel: the pool fairing, migrations and one module per table.
//!
//! Knows nothing of the web layer or the cache. `binlog` reads the server's row-based
//! binlog for the follower.

pub mod binlog;
pub mod config;
pub mod failure;
mod migrate;
mod pool;
pub mod reads;
pub mod redact;
pub mod replicas;
pub mod schema;
pub mod sessions;
mod startup_error;
pub mod tables;
pub mod users;

use std::sync::{Mutex, PoisonError};

use rocket::fairing::{self, AdHoc, Fairing, Info, Kind};
use rocket::{Build, Orbit, Rocket};

use config::DatabaseConfig;
pub use migrate::{prepare_database, MIGRATIONS};
pub use pool::{AcquireError, Db, DbConn, QueryCounter};
pub use startup_error::{ConnectAttempt, StartupError};

/// Prepares the database at ignite (create, migrate: on the primary only),
/// manages a [`Db`], checks the replicas from liftoff (see [`replicas::health`]),
/// and closes the pools at shutdown. Launch is aborted with one clear line when `MySQL` cannot be
/// reached within `databases.main.startup_timeout_secs`.
pub struct DbFairing;

/// The pool, after the start-up checks (a failed one stops the migrations)
/// and before the page cache's neighbours that use its [`Db`].
pub fn stage() -> AdHoc {
    AdHoc::on_ignite("MySQL stage", |rocket| async { rocket.attach(DbFairing) })
}

#[rocket::async_trait]
impl Fairing for DbFairing {
    fn info(&self) -> Info {
        Info {
            name: "MySQL pool",
            kind: Kind::Ignite | Kind::Liftoff | Kind::Shutdown,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> fairing::Result {
        // A start-up check failed: the launch stops, so change nothing (no migrations).
        if rocket
            .state::<crate::startup_checks::LaunchRefused>()
            .is_some()
        {
            return Err(rocket);
        }
        let config = match DatabaseConfig::from_figment(rocket.figment()) {
            Ok(config) => config,
            Err(e) => {
                rocket::error!("configuration: {e}");
                return Err(rocket);
            }
        };
        if let Err(e) = migrate::prepare_database(&config).await {
            rocket::error!("{e}");
            return Err(rocket);
        }
        match Db::new(&config) {
            Ok(db) => Ok(rocket.manage(db).manage(ReplicaWatch::default())),
            Err(e) => {
                rocket::error!("{e}");
                Err(rocket)
            }
        }
    }

    async fn on_liftoff(&self, rocket: &Rocket<Orbit>) {
        let (Some(db), Some(watch)) = (rocket.state::<Db>(), rocket.state::<ReplicaWatch>()) else {
            return;
        };
        if !db.replicas().is_empty() {
            let watcher = replicas::health::watch(db.replicas().clone());
            // The one it replaces, if any, is aborted as it is dropped.
            watch
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .replace(watcher);
        }
    }

    async fn on_shutdown(&self, rocket: &Rocket<Orbit>) {
        if let Some(watch) = rocket.state::<ReplicaWatch>() {
            watch
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
        }
        if let Some(db) = rocket.state::<Db>() {
            db.close();
        }
    }
}

/// The replicas' checker, aborted when the app (its managed state) goes.
#[derive(Default)]
struct ReplicaWatch(Mutex<Option<replicas::health::Watcher>>);
