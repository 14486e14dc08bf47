//! rocket-cache: a users directory on `MySQL` whose pages are cached in one Redis that
//! every instance shares.
//!
//! [`build`] wires everything from one figment, so production ([`rocket`]) and each
//! test (its own figment) run the same app.

#![forbid(unsafe_code)]

pub mod cache;
pub mod config;
pub mod db;
pub mod error;
pub mod web;

use figment::Figment;
use rocket::{Build, Rocket};
use rocket_dyn_templates::Template;

/// The app as `main` runs it: Rocket.toml and `ROCKET_*` variables, Rocket's way.
pub fn rocket() -> Rocket<Build> {
    build(rocket::Config::figment())
}

/// The whole app, configured only by `figment`.
pub fn build(figment: Figment) -> Rocket<Build> {
    rocket::custom(figment)
        .attach(Template::fairing())
        .attach(db::DbFairing)
        .attach(cache::PageCache::new(web::cache_policies()))
        .mount("/", web::routes())
        .register("/", web::catchers())
}
