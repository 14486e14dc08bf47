//! rocket-cache: a users directory on `MySQL` whose pages are cached in one Redis that
//! every instance shares.
//!
//! [`build`] wires everything from one figment, so production ([`rocket`]) and each
//! test (its own figment) run the same app.

#![forbid(unsafe_code)]

pub mod config;
pub mod db;
pub mod follower;
pub mod generation;
pub mod logging;
pub mod ops;
pub mod purged_position;
pub mod startup_checks;
pub(crate) mod users;
pub mod web;

use figment::Figment;
use rocket::{Build, Rocket};
use rocket_dyn_templates::Template;
use rocket_page_cache::PageCache;

/// The app as `main` runs it: Rocket.toml and `ROCKET_*` variables, Rocket's way.
pub fn rocket() -> Rocket<Build> {
    build(rocket::Config::figment())
}

/// The whole app, configured only by `figment`.
///
/// When neither a `secret_key` nor an admin login is configured, a random key is
/// merged in first: Rocket's private cookies (the admin session) need one to
/// launch in release, and without a login nothing reads them.
pub fn build(figment: Figment) -> Rocket<Build> {
    // Before Rocket installs its own logger (`rocket::custom` does).
    logging::init(&figment);
    let (figment, secret_key) = config::prepare_secret_key(figment);
    let generation = generation::default_generation(&figment);
    rocket::custom(figment)
        // Before anything with side effects (migrations) at ignite.
        .attach(startup_checks::StartupChecks)
        // The first request fairing: it notes the request as the client sent it.
        .attach(ops::request_log::Arrival)
        // Then this, so a refused request reaches neither the cache nor a route.
        .attach(web::host_guard::HostGuard)
        .attach(web::auth::AuthFairing::new(secret_key))
        // With the helper that places cached fragments in admin pages.
        .attach(Template::custom(web::fragments::register_helpers))
        .attach(db::DbFairing)
        .attach(ops::metrics::MetricsAccess::fairing())
        .attach(
            PageCache::new(users::cache_policy::policies())
                .session_cookie(web::auth::SESSION_COOKIE, web::auth::session_is_live)
                // A build that renders differently (a new version, templates
                // or stylesheet) starts on fresh keys; `cache.generation` wins.
                .generation(&generation),
        )
        // After the cache and the database, whose handles it uses.
        .attach(follower::FollowerFairing)
        // After the cache: they read the cache's figures.
        .attach(ops::metrics::Metrics::fairing())
        .attach(ops::fleet::FleetFiguresFairing)
        // After the cache, whose `on_response` writes the hits.
        .attach(web::security_headers::SecurityHeaders)
        // After the cache too: a stored page must not keep the id of its render.
        .attach(ops::request_id::RequestIds)
        // The last response fairing: it logs and counts the final answer.
        .attach(ops::request_log::Departure)
        .manage(ops::health::FailureLog::default())
        .mount("/", web::routes())
        .register("/", web::catchers())
}
