//! Probes for load balancers and orchestrators; never cached.
//!
//! `ready` fails (503) when `MySQL` is unreachable, and says `warming` (503) while a
//! starting instance renders its new generation's hot pages (the cache's warm
//! start, bounded by `cache.warm.max_secs`). With the cache down pages are still
//! served from `MySQL`, so pulling the instance would only make things worse.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use diesel_async::RunQueryDsl;
use rocket::http::Status;
use rocket::serde::json::{json, Value};
use rocket::{get, routes, Responder, Route, State};
use serde::Serialize;

use crate::db::Db;
use crate::web::cache_control::NoStore;
use rocket_page_cache::Cache;

pub fn routes() -> Vec<Route> {
    routes![live, ready]
}

/// A JSON answer that nobody may store.
#[derive(Responder)]
#[response(content_type = "json")]
pub struct Probe {
    body: Value,
    cache_control: rocket::http::Header<'static>,
}

impl Probe {
    fn new(body: Value) -> Self {
        Self {
            body,
            cache_control: NoStore::Anyone.header(),
        }
    }
}

#[get("/health/live")]
fn live() -> Probe {
    Probe::new(json!({ "status": "up" }))
}

/// What `/health/ready` tells anyone: up or down. The reason stays out of the
/// answer (driver messages name hosts, ports and users); it is logged, and shown
/// on the admin cache page.
#[get("/health/ready")]
async fn ready(
    db: &State<Db>,
    cache_handle: &State<Cache>,
    log: &State<FailureLog>,
) -> (Status, Probe) {
    let database = database_health(db).await;
    let database_up = database.error.is_none();
    if let Some(error) = &database.error {
        log.database
            .warn(&format!("readiness: MySQL is down: {error}"));
    }
    let cache = cache_handle.health().await;
    if let Some(error) = &cache.error {
        log.cache
            .warn(&format!("readiness: the cache store is degraded: {error}"));
    }
    // A new generation's hot pages are rendered once before the instance takes
    // traffic (the cache's warm start): a balancer waits for it.
    let (status, word) = match (database_up, cache_handle.warming()) {
        (false, _) => (Status::ServiceUnavailable, "unavailable"),
        (true, true) => (Status::ServiceUnavailable, "warming"),
        (true, false) => (Status::Ok, "ready"),
    };
    let body = json!({
        "status": word,
        "database": { "status": database.status },
        "cache": { "status": cache.status },
    });
    (status, Probe::new(body))
}

/// Whether `MySQL` answers, and why not: for the admin page and the log only.
#[derive(Debug, Clone, Serialize)]
pub struct DatabaseHealth {
    /// `up` or `down`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Runs `SELECT 1` on a pooled connection, within 3 s.
pub async fn database_health(db: &Db) -> DatabaseHealth {
    match check_database(db).await {
        Ok(()) => DatabaseHealth {
            status: "up",
            error: None,
        },
        Err(error) => DatabaseHealth {
            status: "down",
            error: Some(error),
        },
    }
}

/// Warnings of failed probes, at most one per [`Throttle::INTERVAL`] for each of
/// `MySQL` and the cache: a balancer probing every second (or a stranger probing
/// in a loop) while one is down must not flood the log.
#[derive(Default)]
pub struct FailureLog {
    database: Throttle,
    cache: Throttle,
}

#[derive(Default)]
struct Throttle {
    last: Mutex<Option<Instant>>,
}

impl Throttle {
    const INTERVAL: Duration = Duration::from_secs(10);

    fn warn(&self, message: &str) {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if last.is_none_or(|at| at.elapsed() >= Self::INTERVAL) {
            *last = Some(Instant::now());
            rocket::warn!("{message}");
        }
    }
}

async fn check_database(db: &Db) -> Result<(), String> {
    let check = async {
        let mut conn = db.conn().await.map_err(|e| e.to_string())?;
        diesel::sql_query("SELECT 1")
            .execute(&mut conn)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    tokio::time::timeout(Duration::from_secs(3), check)
        .await
        .unwrap_or_else(|_| Err("no answer within 3s".to_owned()))
}
