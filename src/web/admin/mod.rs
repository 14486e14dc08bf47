//! The admin area: login and logout, and the cache page (HTML, and JSON for
//! scripts under `/api/admin`).

mod cache_page;
mod chart;
mod login;

use rocket::Route;

pub fn routes() -> Vec<Route> {
    let mut routes = login::routes();
    routes.extend(cache_page::routes());
    routes
}
