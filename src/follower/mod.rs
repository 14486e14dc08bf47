//! The binlog follower: writes made by anyone (the SQL console, imports, other
//! services) purge the cached pages they change, read from MySQL's row-based
//! binlog as a replica reads it.
//!
//! It joins the two wings: it reads `db::binlog` and purges through the cache
//! engine, which `db/` never sees. One instance of the deployment follows at a
//! time (a lease in the shared store, see `run`); every instance runs the
//! supervisor, so another takes over within `databases.main.binlog_takeover_ms`
//! when the follower's instance dies or is cut off.
//!
//! `databases.main.binlog`: `auto` follows when the server can be followed and
//! otherwise says once, at start, what that means and how to change it; `on`
//! refuses to start without it; `off` does not follow.

mod changes;
mod run;
pub mod status;

use std::sync::{Arc, Mutex, PoisonError};

use rocket::fairing::{self, AdHoc, Fairing, Info, Kind};
use rocket::{Build, Orbit, Rocket};
use rocket_page_cache::config::BackendKind;
use rocket_page_cache::Cache;

use crate::db::binlog::{self, ServerBinlog};
use crate::db::config::{BinlogMode, DatabaseConfig};
use crate::db::Db;
pub use status::{FollowerStatus, FollowerView};

/// The name of the follower's lease and saved position in the shared store.
const SINGLETON: &str = "binlog";

/// Tables that are the app's bookkeeping, not data pages show.
const NEVER_FOLLOWED: [&str; 2] = ["admin_session", "__diesel_schema_migrations"];

/// Attach after the page cache (it needs the managed [`Cache`]) and the
/// database (its [`Db`]). Manages a [`FollowerStatus`] in every case.
pub struct FollowerFairing;

/// The follower, after the page cache and the database, whose handles it
/// takes at ignite.
pub fn stage() -> AdHoc {
    AdHoc::on_ignite("Binlog follower stage", |rocket| async {
        rocket.attach(FollowerFairing)
    })
}

/// The supervisor task of this instance, once started; aborted when the app
/// (its managed state) is dropped.
#[derive(Default)]
struct Task(Mutex<Option<run::AbortOnDrop>>);

/// What ignite decided: follow with these settings, or not.
struct Plan(Option<run::Settings>);

#[rocket::async_trait]
impl Fairing for FollowerFairing {
    fn info(&self) -> Info {
        Info {
            name: "Binlog follower",
            kind: Kind::Ignite | Kind::Liftoff | Kind::Shutdown,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> fairing::Result {
        let (Ok(config), Some(cache)) = (
            DatabaseConfig::from_figment(rocket.figment()),
            rocket.state::<Cache>().cloned(),
        ) else {
            // The database or the cache stage has refused the launch already.
            return Err(rocket);
        };
        let mode = mode_name(config.binlog);
        match decide(&config, &cache).await {
            Ok(settings) => {
                let token = instance_token();
                let status = FollowerStatus::following(mode, token, cache.singleton(SINGLETON));
                Ok(rocket
                    .manage(Arc::new(status))
                    .manage(Plan(Some(settings)))
                    .manage(Task::default()))
            }
            Err(reason) if config.binlog == BinlogMode::On => {
                rocket::error!(
                    "databases.main.binlog = \"on\", but the binlog cannot be followed: {reason}"
                );
                Err(rocket)
            }
            Err(reason) => {
                if config.binlog == BinlogMode::Auto {
                    rocket::warn!(
                        "binlog follower off: {reason}. Writes made outside this app (SQL \
                         console, imports, other services) show on cached pages only when \
                         they expire (cache.default_ttl); to follow them, see the README's \
                         \"Writes from anywhere\", or set databases.main.binlog = \"off\" to \
                         silence this"
                    );
                }
                Ok(rocket
                    .manage(Arc::new(FollowerStatus::not_following(mode, reason)))
                    .manage(Plan(None))
                    .manage(Task::default()))
            }
        }
    }

    async fn on_liftoff(&self, rocket: &Rocket<Orbit>) {
        let (Some(Plan(Some(settings))), Some(status), Some(task), Some(cache), Some(db)) = (
            rocket.state::<Plan>(),
            rocket.state::<Arc<FollowerStatus>>(),
            rocket.state::<Task>(),
            rocket.state::<Cache>(),
            rocket.state::<Db>(),
        ) else {
            return;
        };
        let supervisor = tokio::spawn(run::supervise(
            settings.clone(),
            db.clone(),
            cache.clone(),
            cache.singleton(SINGLETON),
            Arc::clone(status),
        ));
        // The one it replaces, if any, is aborted as it is dropped.
        lock(task).replace(run::AbortOnDrop(supervisor));
    }

    async fn on_shutdown(&self, rocket: &Rocket<Orbit>) {
        let (Some(task), Some(status), Some(cache)) = (
            rocket.state::<Task>(),
            rocket.state::<Arc<FollowerStatus>>(),
            rocket.state::<Cache>(),
        ) else {
            return;
        };
        let supervisor = lock(task).take();
        if let Some(supervisor) = supervisor {
            drop(supervisor);
            // Free the lease at once, so another instance takes over without
            // waiting for it to run out.
            let _ = cache.singleton(SINGLETON).release(status.token()).await;
        }
    }
}

fn lock(task: &Task) -> std::sync::MutexGuard<'_, Option<run::AbortOnDrop>> {
    task.0.lock().unwrap_or_else(PoisonError::into_inner)
}

fn mode_name(mode: BinlogMode) -> &'static str {
    match mode {
        BinlogMode::Auto => "auto",
        BinlogMode::On => "on",
        BinlogMode::Off => "off",
    }
}

/// Whether this instance follows, and with what; else why not, in one line.
async fn decide(config: &DatabaseConfig, cache: &Cache) -> Result<run::Settings, String> {
    if config.binlog == BinlogMode::Off {
        return Err("databases.main.binlog is \"off\"".to_owned());
    }
    if cache.config().backend == BackendKind::None {
        return Err("cache.backend is \"none\": there is nothing to purge".to_owned());
    }
    let server: ServerBinlog = binlog::probe(&config.url)
        .await
        .map_err(|e| format!("the server could not be asked ({e})"))?;
    let mut problems = server.problems();
    if server.server_id == config.binlog_server_id {
        problems.push(format!(
            "databases.main.binlog_server_id is the server's own server_id ({}): choose another",
            server.server_id
        ));
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    let database = config
        .database_name()
        .ok_or_else(|| "databases.main.url names no database".to_owned())?;
    let mut ignored: Vec<String> = NEVER_FOLLOWED.iter().map(|&t| t.to_owned()).collect();
    ignored.extend(config.binlog_ignore_tables.iter().cloned());
    rocket::info!(
        "binlog follower: {} {} with binlog_format={} and binlog_row_image={}: following \
         writes to {database} from anywhere",
        server.flavour,
        server.version,
        server.binlog_format,
        server.binlog_row_image
    );
    Ok(run::Settings {
        url: config.url.clone(),
        database,
        server_id: config.binlog_server_id,
        takeover: config.binlog_takeover(),
        ignored,
    })
}

/// This process in the follower's lease: host, process id and a random part,
/// so that a restarted process is a new holder.
fn instance_token() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    format!(
        "{host}:{}:{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}
