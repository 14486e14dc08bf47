//! `GET /metrics`: Prometheus's text format, from one registry per app instance
//! (no global registry: several instances in one test process each count their
//! own). It holds the HTTP metrics ([`http`]), a collector of the page
//! cache's figures ([`cache`]), read from the engine at scrape time, and one of
//! the read replicas' states ([`replicas`]), when there are replicas.
//!
//! Never stored by the page cache (no policy covers it, and it says `no-store`),
//! and behind a bearer token when `metrics.token` is set.

mod access;
mod cache;
mod families;
pub mod http;
mod replicas;

use std::sync::Arc;

use prometheus::{Encoder, Registry, TextEncoder};
use rocket::fairing::AdHoc;
use rocket::http::{ContentType, Header, Status};
use rocket::{get, routes, Responder, Route, State};

use rocket_page_cache::Cache;

use crate::db::replicas::Replicas;
use crate::db::Db;
use crate::follower::FollowerStatus;
use crate::web::cache_control::NoStore;

pub use access::{MetricsAccess, MetricsScraper};
pub use http::{Answer, HttpMetrics, UNMATCHED};

/// The `Content-Type` of the exposition (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn routes() -> Vec<Route> {
    routes![metrics, metrics_refused]
}

/// The app's metrics, managed by Rocket.
pub struct Metrics {
    registry: Registry,
    pub http: HttpMetrics,
}

impl Metrics {
    /// Builds the registry at ignite. Attach it after the page cache and the
    /// binlog follower, whose figures it collects; without a cache only the
    /// HTTP metrics are exported.
    pub fn fairing() -> AdHoc {
        AdHoc::try_on_ignite("Metrics", |rocket| async move {
            let cache = rocket.state::<Cache>().cloned();
            let follower = rocket.state::<Arc<FollowerStatus>>().cloned();
            let replicas = rocket
                .state::<Db>()
                .map(|db| db.replicas().clone())
                .filter(|replicas| !replicas.is_empty());
            match Self::new(cache, follower, replicas) {
                Ok(metrics) => Ok(rocket.manage(metrics)),
                Err(e) => {
                    rocket::error!("metrics: {e}");
                    Err(rocket)
                }
            }
        })
    }

    fn new(
        cache: Option<Cache>,
        follower: Option<Arc<FollowerStatus>>,
        replicas: Option<Arc<Replicas>>,
    ) -> prometheus::Result<Self> {
        let registry = Registry::new();
        let http = HttpMetrics::register(&registry)?;
        if let Some(cache) = cache {
            registry.register(Box::new(cache::CacheCollector::new(cache, follower)?))?;
        }
        if let Some(replicas) = replicas {
            registry.register(Box::new(replicas::ReplicaCollector::new(replicas)?))?;
        }
        Ok(Self { registry, http })
    }

    /// Every metric in the text format.
    pub fn exposition(&self) -> Result<String, prometheus::Error> {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
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

/// A scrape that could not be written (an encoding error: a bug, logged).
#[derive(Responder)]
#[response(status = 500, content_type = "plain")]
pub struct Failed(&'static str);

#[get("/metrics")]
fn metrics(_scraper: MetricsScraper, metrics: &State<Metrics>) -> Result<Exposition, Failed> {
    let body = metrics.exposition().map_err(|e| {
        rocket::error!("metrics: the exposition could not be written: {e}");
        Failed("500 Internal Server Error: the metrics could not be written\n")
    })?;
    Ok(Exposition {
        body,
        content_type: ContentType::parse_flexible(CONTENT_TYPE).unwrap_or(ContentType::Plain),
        cache_control: NoStore::Anyone.header(),
    })
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
            cache_control: NoStore::Anyone.header(),
        },
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn http_answers_are_exported_with_help_type_and_buckets() {
        let metrics = Metrics::new(None, None, None).unwrap();
        for _ in 0..3 {
            metrics.http.observe(&Answer {
                method: "GET",
                route: "/users/<id>",
                status: 200,
                took: Duration::from_millis(3),
            });
        }
        let text = metrics.exposition().unwrap();
        assert!(
            text.contains("# TYPE http_requests_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "http_requests_total{method=\"GET\",route=\"/users/<id>\",status=\"200\"} 3\n"
            ),
            "{text}"
        );
        assert!(text.contains("# TYPE http_request_duration_seconds histogram\n"));
        assert!(text.contains(
            "http_request_duration_seconds_bucket{method=\"GET\",route=\"/users/<id>\",le=\"0.005\"} 3\n"
        ));
        assert!(text.contains(
            "http_request_duration_seconds_count{method=\"GET\",route=\"/users/<id>\"} 3\n"
        ));
    }
}
