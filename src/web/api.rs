//! The JSON API: the same data as the pages, for scripts.

use rocket::serde::json::Json;
use rocket::serde::Serialize;
use rocket::{get, routes, Route, State};

use super::pagination::PageRequest;
use super::users::{load_page, load_user, UserPage};
use crate::cache::{Cache, RoutePolicy};
use crate::db::users::User;
use crate::db::Db;
use crate::error::AppError;

pub fn routes() -> Vec<Route> {
    routes![list, show]
}

/// The JSON list and items, under the same tags as the pages.
pub fn cache_policies() -> Vec<RoutePolicy> {
    vec![
        RoutePolicy::new("/api/users")
            .query(&["page", "per_page"])
            .tags(&["users"]),
        RoutePolicy::new("/api/users/<id>").tags(&["user:<id>"]),
    ]
}

/// `GET /api/users`: a page of users with the total.
#[derive(Serialize)]
#[serde(crate = "rocket::serde")]
pub struct UserList {
    pub items: Vec<User>,
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
    pub pages: u32,
}

#[get("/api/users?<page>&<per_page>")]
async fn list(
    db: &State<Db>,
    cache: &State<Cache>,
    page: Option<&str>,
    per_page: Option<&str>,
) -> Result<Json<UserList>, AppError> {
    let request = PageRequest::parse(page, per_page)?;
    let UserPage { info, items } = load_page(db, cache, request).await?;
    Ok(Json(UserList {
        items,
        total: info.total,
        page: info.page,
        per_page: info.per_page,
        pages: info.pages,
    }))
}

#[get("/api/users/<id>")]
async fn show(db: &State<Db>, id: &str) -> Result<Json<User>, AppError> {
    Ok(Json(load_user(db, id).await?))
}
