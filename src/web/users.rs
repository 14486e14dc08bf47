//! The HTML pages of the users directory.

use rocket::serde::Serialize;
use rocket::{get, routes, Route, State};
use rocket_dyn_templates::{context, Template};

use super::pagination::{
    canonical_page, canonical_per_page, no_such_page, page_count, BadPageQuery, PageRequest,
};
use super::reads::{load_page, load_user, users_total, UserPage};
use super::user_id::{canonical_user_id, NoSuchUser};
use super::view::{AdminView, FlashView, Shown, Viewer};
use crate::db::users::{User, UserId};
use crate::db::Db;
use crate::web::error::AppError;
use rocket_page_cache::{Cache, Reads, RoutePolicy};

pub fn routes() -> Vec<Route> {
    routes![index, show]
}

/// The list and each user's page, filed under the rows they read (see
/// `web::reads`). `/users/new` (the admin's form) has the shape of a user's page
/// but is never cached: it is declared first, with no lifetime.
pub fn cache_policies() -> Vec<RoutePolicy> {
    vec![
        RoutePolicy::new("/")
            .query(&["page", "per_page"])
            .param("page", canonical_page)
            .param("per_page", canonical_per_page)
            .public(),
        RoutePolicy::new("/users/new").ttl(0),
        RoutePolicy::new("/users/<id>")
            .param("id", canonical_user_id)
            .public(),
    ]
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
    reads: Reads,
    viewer: Viewer,
    request: Result<PageRequest, BadPageQuery>,
) -> Result<Shown<Template>, AppError> {
    let request = match request {
        Ok(request) => request,
        Err(bad) => return Err(bad_page(db, cache, &reads, bad).await),
    };
    let UserPage { info, items } = load_page(db, cache, &reads, request).await?;
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
async fn bad_page(db: &Db, cache: &Cache, reads: &Reads, bad: BadPageQuery) -> AppError {
    let BadPageQuery::Page { raw, per_page } = &bad else {
        return bad.into();
    };
    match users_total(db, cache, reads).await {
        Ok(total) => AppError::BadRequest(no_such_page(raw, page_count(total, *per_page))),
        Err(error) => error,
    }
}

#[get("/users/<id>")]
async fn show(
    db: &State<Db>,
    reads: Reads,
    viewer: Viewer,
    id: Result<UserId, NoSuchUser>,
) -> Result<Shown<Template>, AppError> {
    let user = load_user(db, &reads, id?).await?;
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
