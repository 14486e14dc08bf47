//! What operators read: the request log, the Prometheus metrics, request ids,
//! the health probes, warnings that requests cause, and the fleet's cache
//! figures.
//!
//! Their fairings stand at both ends of the others, so they come in four
//! stages, each attached where its doc says.

pub mod fleet;
pub(crate) mod health;
pub(crate) mod metrics;
pub(crate) mod request_id;
pub(crate) mod request_log;
pub(crate) mod request_warnings;

use rocket::fairing::AdHoc;
use rocket::shield::Shield;

/// The first request fairing: it notes the request as the client sent it,
/// before the duplicate-Host guard or the page cache rewrite it, and settles
/// its id.
pub fn arrival_stage() -> AdHoc {
    AdHoc::on_ignite("Request arrival stage", |rocket| async {
        rocket.attach(request_log::Arrival)
    })
}

/// `[metrics]` read at ignite. It has always stood between the database and
/// the page cache; nothing it does depends on that place.
pub fn metrics_access_stage() -> AdHoc {
    AdHoc::on_ignite("Metrics access stage", |rocket| async {
        rocket.attach(metrics::MetricsAccess::fairing())
    })
}

/// The metrics registry and the fleet figures, after the page cache and the
/// binlog follower, whose figures they read at ignite; with `/metrics` and
/// the health probes.
pub fn figures_stage() -> AdHoc {
    AdHoc::on_ignite("Figures stage", |rocket| async {
        rocket
            .attach(metrics::Metrics::fairing())
            .attach(fleet::FleetFiguresFairing)
            .manage(health::FailureLog::default())
            .mount("/", metrics::routes())
            .mount("/", health::routes())
    })
}

/// The last response fairing, after the page cache (whose `on_response`
/// writes the hits): the security headers and the request id, so a stored
/// page keeps neither, then the log line and the HTTP metrics of the final
/// answer. The security headers include those of Rocket's default `Shield`,
/// which an empty one replaces (Rocket keeps one `Shield`, the last attached;
/// over TLS it still adds its HSTS fallback, which ours overwrites).
pub fn departure_stage() -> AdHoc {
    AdHoc::on_ignite("Request departure stage", |rocket| async {
        rocket.attach(Shield::new()).attach(request_log::Departure)
    })
}
