//! `GET /metrics`: the cache's counters for Prometheus, read at scrape time from
//! the engine's snapshot. Never stored by the page cache (no policy covers it, and
//! it says `no-store`), and behind a bearer token when `metrics.token` is set.

mod access;
mod exposition;

use rocket::http::{ContentType, Header, Status};
use rocket::{get, routes, Responder, Route, State};

use rocket_page_cache::Cache;

pub use access::{MetricsAccess, MetricsConfig, MetricsScraper};

pub fn routes() -> Vec<Route> {
    routes![metrics, metrics_refused]
}

/// The exposition, never stored by any cache.
#[derive(Responder)]
pub struct Exposition {
    body: String,
    content_type: ContentType,
    cache_control: Header<'static>,
}

/// A refused scrape: the reason in plain text, and how to authenticate.
#[derive(Responder)]
#[response(status = 401, content_type = "plain")]
pub struct Refused {
    reason: &'static str,
    challenge: Header<'static>,
    cache_control: Header<'static>,
}

#[get("/metrics")]
fn metrics(_scraper: MetricsScraper, cache: &State<Cache>) -> Exposition {
    Exposition {
        body: exposition::render(&cache.stats_snapshot()),
        content_type: ContentType::parse_flexible(exposition::CONTENT_TYPE)
            .unwrap_or(ContentType::Plain),
        cache_control: Header::new("Cache-Control", "no-store"),
    }
}

/// Reached when the token guard failed: `metrics.token` is set and the request
/// did not carry it.
#[get("/metrics", rank = 2)]
fn metrics_refused() -> (Status, Refused) {
    (
        Status::Unauthorized,
        Refused {
            reason: "401 Unauthorized: /metrics needs `Authorization: Bearer <metrics.token>`\n",
            challenge: Header::new("WWW-Authenticate", "Bearer realm=\"metrics\""),
            cache_control: Header::new("Cache-Control", "no-store"),
        },
    )
}
