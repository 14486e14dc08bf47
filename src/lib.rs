//! rocket-cache: a users directory on MySQL whose pages are cached in one Redis that
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
use rocket::fairing::AdHoc;
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
        .attach(AdHoc::try_on_ignite("Page cache", |rocket| async move {
            let config = match cache_config(rocket.figment()) {
                Ok(config) => config,
                Err(e) => {
                    rocket::error!("configuration: {e}");
                    return Err(rocket);
                }
            };
            match cache::Cache::new(config) {
                Ok(cache) => Ok(rocket.manage(cache)),
                Err(e) => {
                    rocket::error!("configuration: {e}");
                    Err(rocket)
                }
            }
        }))
        .mount("/", web::routes())
        .register("/", web::catchers())
}

/// `[cache]` from the figment; all defaults when the table is absent.
fn cache_config(figment: &Figment) -> Result<cache::CacheConfig, String> {
    if figment.find_value("cache").is_err() {
        return Ok(cache::CacheConfig::default());
    }
    figment.extract_inner("cache").map_err(|e| e.to_string())
}
