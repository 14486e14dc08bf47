//! rocket-cache: a users directory on `MySQL` whose pages are cached in one Redis that
//! every instance shares.
//!
//! [`build`] wires everything from one figment, so production ([`rocket`]) and each
//! test (its own figment) run the same app.

#![forbid(unsafe_code)]

pub(crate) mod config;
pub mod db;
pub mod follower;
pub(crate) mod generation;
pub(crate) mod logging;
pub mod ops;
mod page_cache;
pub(crate) mod purged_position;
pub(crate) mod startup_checks;
pub(crate) mod users;
pub mod web;

use figment::Figment;
use rocket::{Build, Rocket};

/// The app as `main` runs it: Rocket.toml and `ROCKET_*` variables, Rocket's way.
pub fn rocket() -> Rocket<Build> {
    build(rocket::Config::figment())
}

/// The whole app, configured only by `figment`.
///
/// When neither a `secret_key` nor an admin login is configured, a random key is
/// merged in first: Rocket's private cookies (the admin session) need one to
/// launch in release, and without a login nothing reads them.
///
/// Each area attaches its fairings in a stage. Rocket runs fairings of each
/// kind in the order they were attached, and a stage attaches its own at
/// ignite, after everything attached before it: so the list below is the order
/// of the fairings, and each stage's doc says why it stands where it does.
pub fn build(figment: Figment) -> Rocket<Build> {
    // Before Rocket installs its own logger (`rocket::custom` does).
    logging::init(&figment);
    let (figment, secret_key) = config::prepare_secret_key(figment);
    let generation = generation::default_generation(&figment);
    rocket::custom(figment)
        .attach(startup_checks::stage())
        .attach(ops::arrival_stage())
        .attach(web::stage(secret_key))
        .attach(db::stage())
        .attach(ops::metrics_access_stage())
        .attach(page_cache::stage(&generation))
        .attach(follower::stage())
        .attach(ops::figures_stage())
        .attach(ops::departure_stage())
}
