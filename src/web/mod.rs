//! The web layer: routes by area, catchers, and the joins between the database and
//! the cache (the only module that knows both).

mod admin;
pub mod api;
pub(crate) mod assets;
pub mod auth;
mod catchers;
pub mod cluster;
mod csrf_form;
pub mod error;
pub mod fragments;
pub mod health;
pub mod host_guard;
pub mod json_body;
pub mod metrics;
pub mod observe;
pub mod request_id;
pub mod security_headers;
mod user_forms;
pub mod users;
pub mod view;

use rocket::Route;

use rocket_page_cache::RoutePolicy;

/// Every route of the app.
pub fn routes() -> Vec<Route> {
    let mut routes = users::routes();
    routes.extend(user_forms::routes());
    routes.extend(admin::routes());
    routes.extend(api::routes());
    routes.extend(health::routes());
    routes.extend(metrics::routes());
    routes.extend(assets::routes());
    routes.extend(host_guard::routes());
    routes
}

pub use catchers::catchers;

/// What the cache may keep, declared per route (the `@cache.cached()` of this app).
pub fn cache_policies() -> Vec<RoutePolicy> {
    let mut policies = users::cache_policies();
    policies.extend(api::cache_policies());
    policies
}
