//! The HTML pages of the users directory.

use std::time::Duration;

use rocket::serde::Serialize;
use rocket::{get, routes, Route, State};
use rocket_dyn_templates::{context, Template};

use super::pagination::{
    canonical_page, canonical_per_page, no_such_page, page_count, BadPageQuery, PageInfo,
    PageRequest,
};
use super::view::{AdminView, FlashView, Shown, Viewer};
use super::{canonical_user_id, parse_user_id};
use crate::db::users::{self, User};
use crate::db::Db;
use crate::error::AppError;
use rocket_page_cache::{Cache, RoutePolicy};

pub fn routes() -> Vec<Route> {
    routes![index, show]
}

/// The list and each user's page, purged by the `users` and `user:<id>` tags.
/// `/users/new` (the admin's form) has the shape of a user's page but is never
/// cached: it is declared first, with no lifetime.
pub fn cache_policies() -> Vec<RoutePolicy> {
    vec![
        RoutePolicy::new("/")
            .query(&["page", "per_page"])
            .param("page", canonical_page)
            .param("per_page", canonical_per_page)
            .tags(&["users"]),
        RoutePolicy::new("/users/new").ttl(0),
        RoutePolicy::new("/users/<id>")
            .tags(&["user:<id>"])
            .param("id", canonical_user_id),
    ]
}

/// How long the users count is memoised; purged with the `users` tag on writes.
const COUNT_TTL: Duration = Duration::from_mins(5);

/// One page of users with its total: what the list page and the list API show.
pub struct UserPage {
    pub info: PageInfo,
    pub items: Vec<User>,
}

/// Reads one page of users: the total first, so that a page past the end is a 400.
pub async fn load_page(db: &Db, cache: &Cache, request: PageRequest) -> Result<UserPage, AppError> {
    let total = users_total(db, cache).await?;
    let info = request.locate(total)?;
    let mut conn = db.conn().await?;
    let items = users::page(&mut conn, request.offset(), request.per_page).await?;
    Ok(UserPage { info, items })
}

/// How many users there are, memoised under the `users` tag (purged on writes).
async fn users_total(db: &Db, cache: &Cache) -> Result<u64, AppError> {
    cache
        .get_or_compute("users:count", COUNT_TTL, &["users"], async {
            let mut conn = db.conn().await?;
            Ok::<_, AppError>(users::count(&mut conn).await?)
        })
        .await
}

/// Reads one user; a malformed or unknown id is a 404.
pub async fn load_user(db: &Db, raw_id: &str) -> Result<User, AppError> {
    let id = parse_user_id(raw_id)?;
    let mut conn = db.conn().await?;
    users::find(&mut conn, id).await.map_err(|e| match e {
        diesel::result::Error::NotFound => AppError::NotFound(format!("There is no user {id}.")),
        other => other.into(),
    })
}

#[derive(Serialize)]
#[serde(crate = "rocket::serde")]
struct ListView<'a> {
    title: &'static str,
    items: &'a [User],
    total: u64,
    one_user: bool,
    first: u64,
    last: u64,
    page: u32,
    per_page: u32,
    pages: u32,
    many_pages: bool,
    prev: Option<u32>,
    next: Option<u32>,
    /// Set for the admin only (edit buttons); such pages are never stored.
    admin: Option<AdminView>,
    flash: Option<FlashView>,
}

#[get("/")]
async fn index(
    db: &State<Db>,
    cache: &State<Cache>,
    viewer: Viewer,
    request: Result<PageRequest, BadPageQuery>,
) -> Result<Shown<Template>, AppError> {
    let request = match request {
        Ok(request) => request,
        Err(bad) => return Err(bad_page(db, cache, bad).await),
    };
    let UserPage { info, items } = load_page(db, cache, request).await?;
    let first = request.offset() + 1;
    let view = ListView {
        title: "Users",
        items: &items,
        total: info.total,
        one_user: info.total == 1,
        first,
        last: first + items.len() as u64 - 1,
        page: info.page,
        per_page: info.per_page,
        pages: info.pages,
        many_pages: info.pages > 1,
        prev: info.prev(),
        next: info.next(),
        admin: viewer.admin.clone(),
        flash: viewer.flash.clone(),
    };
    Ok(Shown {
        inner: Template::render("users/index", &view),
        private: viewer.is_admin(),
    })
}

/// A refused list query, worded for people: a bad `page` is named with the pages
/// there are (from the memoised count: usually no MySQL statement at all).
async fn bad_page(db: &Db, cache: &Cache, bad: BadPageQuery) -> AppError {
    let BadPageQuery::Page { raw, per_page } = &bad else {
        return bad.into();
    };
    match users_total(db, cache).await {
        Ok(total) => AppError::BadRequest(no_such_page(raw, page_count(total, *per_page))),
        Err(error) => error,
    }
}

#[get("/users/<id>")]
async fn show(db: &State<Db>, viewer: Viewer, id: &str) -> Result<Shown<Template>, AppError> {
    let user = load_user(db, id).await?;
    let page = Template::render(
        "users/show",
        context! {
            title: user.name.clone(),
            user,
            admin: viewer.admin.clone(),
            flash: viewer.flash.clone(),
        },
    );
    Ok(Shown {
        inner: page,
        private: viewer.is_admin(),
    })
}
