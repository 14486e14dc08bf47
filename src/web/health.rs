//! Probes for load balancers and orchestrators; never cached.
//!
//! `ready` fails (503) only when `MySQL` is unreachable: with the cache down pages are
//! still served from `MySQL`, so pulling the instance would only make things worse.

use std::time::Duration;

use diesel_async::RunQueryDsl;
use rocket::http::Status;
use rocket::serde::json::{json, Value};
use rocket::{get, routes, Responder, Route, State};

use crate::db::Db;
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
            cache_control: rocket::http::Header::new("Cache-Control", "no-store"),
        }
    }
}

#[get("/health/live")]
fn live() -> Probe {
    Probe::new(json!({ "status": "up" }))
}

#[get("/health/ready")]
async fn ready(db: &State<Db>, cache: &State<Cache>) -> (Status, Probe) {
    let database = match check_database(db).await {
        Ok(()) => json!({ "status": "up" }),
        Err(e) => json!({ "status": "down", "error": e }),
    };
    let database_up = database["status"] == "up";
    let cache = cache.health().await;
    let status = if database_up {
        Status::Ok
    } else {
        Status::ServiceUnavailable
    };
    let body = json!({
        "status": if database_up { "ready" } else { "unavailable" },
        "database": database,
        "cache": cache,
    });
    (status, Probe::new(body))
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
