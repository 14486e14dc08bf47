//! The HTTP surface: the routes by area (the users' pages, forms and JSON API,
//! the admin area, the static files), their guards and responders, the error
//! pages, and the admin's authentication.

mod admin;
pub(crate) mod assets;
pub mod auth;
pub(crate) mod cache_control;
mod catchers;
mod csrf_form;
pub(crate) mod error;
pub(crate) mod fragments;
pub(crate) mod host_guard;
pub(crate) mod json_body;
pub(crate) mod login_required;
pub(crate) mod replies;
pub(crate) mod security_headers;
pub(crate) mod user_api;
mod user_forms;
pub(crate) mod user_pages;
pub(crate) mod viewer;

use rocket::fairing::AdHoc;
use rocket::Route;
use rocket_dyn_templates::Template;

use crate::config::SecretKeySource;

/// The routes and error pages, and the request fairings that come before the
/// page cache: the duplicate-Host guard first, so a refused request reaches
/// neither the cache nor a route; then the admin's authentication, which finds
/// out whether a session cookie names a live session before the cache decides
/// on the request; then the templates (with the helper that places cached
/// fragments in admin pages).
pub fn stage(secret_key: SecretKeySource) -> AdHoc {
    let auth = auth::AuthFairing::new(secret_key);
    AdHoc::on_ignite("Web stage", |rocket| async move {
        rocket
            .attach(host_guard::HostGuard)
            .attach(auth)
            .attach(Template::custom(fragments::register_helpers))
            .mount("/", routes())
            .register("/", catchers::catchers())
    })
}

/// The routes of the HTTP surface (the probes and `/metrics` are mounted by
/// `ops`).
fn routes() -> Vec<Route> {
    let mut routes = user_pages::routes();
    routes.extend(user_forms::routes());
    routes.extend(admin::routes());
    routes.extend(user_api::routes());
    routes.extend(assets::routes());
    routes.extend(host_guard::routes());
    routes
}
