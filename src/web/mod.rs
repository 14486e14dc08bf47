//! The web layer: routes by area, catchers, and the joins between the database and
//! the cache (the only module that knows both).

mod admin;
pub mod api;
mod assets;
pub mod auth;
mod catchers;
pub mod health;
pub mod host_guard;
pub mod invalidate;
pub mod json_body;
pub mod pagination;
pub mod request_id;
pub mod security_headers;
mod user_forms;
pub mod users;
pub mod validation;
pub mod view;
pub mod writes;

use rocket::Route;

use rocket_page_cache::RoutePolicy;

use crate::db::users::UserId;
use crate::error::AppError;

/// Every route of the app.
pub fn routes() -> Vec<Route> {
    let mut routes = users::routes();
    routes.extend(user_forms::routes());
    routes.extend(admin::routes());
    routes.extend(api::routes());
    routes.extend(health::routes());
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

/// A user id from a path segment; anything but a positive number written plainly
/// (`11`, not `011` or `+11`) is a 404, as for an id that does not exist, so each
/// user has one address.
pub fn parse_user_id(raw: &str) -> Result<UserId, AppError> {
    raw.parse::<u32>()
        .ok()
        .filter(|id| *id > 0 && id.to_string() == raw)
        .map(UserId)
        .ok_or_else(|| AppError::NotFound(format!("There is no user {raw:?}.")))
}

/// The id as user routes write it (the cache policies' spelling).
pub fn canonical_user_id(raw: &str) -> Option<String> {
    parse_user_id(raw).ok().map(|id| id.to_string())
}
