//! The web layer: routes by area, catchers, and the joins between the database and
//! the cache (the only module that knows both).

mod admin;
pub(crate) mod assets;
pub mod auth;
pub(crate) mod cache_control;
mod catchers;
mod csrf_form;
pub mod error;
pub mod fragments;
pub mod host_guard;
pub mod json_body;
pub(crate) mod login_required;
pub(crate) mod replies;
pub mod security_headers;
pub(crate) mod user_api;
mod user_forms;
pub(crate) mod user_pages;
pub(crate) mod viewer;

use rocket::Route;

/// Every route of the app.
pub fn routes() -> Vec<Route> {
    let mut routes = user_pages::routes();
    routes.extend(user_forms::routes());
    routes.extend(admin::routes());
    routes.extend(user_api::routes());
    routes.extend(crate::ops::health::routes());
    routes.extend(crate::ops::metrics::routes());
    routes.extend(assets::routes());
    routes.extend(host_guard::routes());
    routes
}

pub use catchers::catchers;
