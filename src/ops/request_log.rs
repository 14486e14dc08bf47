//! What every request gets from the app on its way in and out, in as few
//! fairings as that allows (each one costs every request, hits included):
//! - [`Arrival`], attached first, notes the time and the request as the client
//!   sent it, before the duplicate-Host guard or the page cache rewrite it (a hit
//!   is rerouted to the cache's internal route: its log line must show the path
//!   the client asked for), and settles its id.
//! - [`Departure`], attached last, after the page cache has written its answer
//!   (a hit is written in the cache's `on_response`, and what the cache stores
//!   must carry neither), writes the security headers and the request id, then
//!   reads the final status and the cache's outcome, logs one line and counts
//!   the HTTP metrics.

use std::time::{Duration, Instant};

use rocket::fairing::{Fairing, Info, Kind};
use rocket::{Data, Request, Response};
use rocket_page_cache::{request_outcome, RequestOutcome};

use crate::logging::REQUEST_TARGET;
use crate::ops::metrics::{Answer, Metrics, UNMATCHED};
use crate::ops::request_id::{self, RequestId};
use crate::ops::request_warnings::{cut, MAX_LOGGED_PATH};
use crate::web::security_headers;

/// A request as it arrived.
struct Arrived {
    at: Instant,
    method: &'static str,
    path: String,
}

impl Arrived {
    fn of(request: &Request<'_>) -> Self {
        Self {
            at: Instant::now(),
            method: request.method().as_str(),
            path: cut(request.uri().path().as_str(), MAX_LOGGED_PATH),
        }
    }
}

/// Notes each request as it came and settles its id; attach it before every
/// other request fairing.
pub struct Arrival;

#[rocket::async_trait]
impl Fairing for Arrival {
    fn info(&self) -> Info {
        Info {
            name: "Request arrival",
            kind: Kind::Request,
        }
    }

    async fn on_request(&self, request: &mut Request<'_>, _: &mut Data<'_>) {
        request.local_cache(|| Arrived::of(request));
        request_id::settle(request);
    }
}

/// Finishes, logs and counts each answer; attach it after every other response
/// fairing.
pub struct Departure;

#[rocket::async_trait]
impl Fairing for Departure {
    fn info(&self) -> Info {
        Info {
            name: "Request departure",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        security_headers::write(request, response);
        request_id::write(request, response);
        // Without `Arrival` (a request that failed before fairings ran) the
        // request is taken as it is now.
        let arrived = request.local_cache(|| Arrived::of(request));
        let took = arrived.at.elapsed();
        let outcome = request_outcome(request);
        let status = response.status().code;
        if let Some(metrics) = request.rocket().state::<Metrics>() {
            metrics.http.observe(&Answer {
                method: arrived.method,
                route: route_label(request, outcome),
                status,
                took,
            });
        }
        tracing::info!(
            target: REQUEST_TARGET,
            method = %arrived.method,
            path = %arrived.path,
            status,
            cache = %outcome.map_or("none", |o| o.outcome.as_str()),
            ms = millis(took),
            request_id = %RequestId::of(request),
        );
    }
}

/// The route a request is counted under: for an answer from the cache, the
/// pattern of the policy it stood for (Rocket only saw the cache's internal
/// route); else the pattern of the route Rocket matched; else [`UNMATCHED`].
fn route_label<'r>(request: &'r Request<'_>, outcome: Option<RequestOutcome<'r>>) -> &'r str {
    if let Some(outcome) = outcome.filter(|o| o.outcome.from_cache()) {
        return outcome.route;
    }
    request.route().map_or(UNMATCHED, |route| route.uri.path())
}

/// Milliseconds with two decimals: enough to tell a hit from a render.
fn millis(took: Duration) -> f64 {
    (took.as_secs_f64() * 100_000.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_keep_two_decimals() {
        assert!((millis(Duration::from_micros(1234)) - 1.23).abs() < 1e-9);
        assert!((millis(Duration::from_secs(2)) - 2000.0).abs() < 1e-9);
    }
}
