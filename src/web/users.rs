//! The HTML pages of the users directory.

use std::time::Duration;

use rocket::serde::Serialize;
use rocket::{get, routes, Route, State};
use rocket_dyn_templates::{context, Template};

use super::pagination::{self, PageInfo, PageRequest};
use super::parse_user_id;
use super::view::{AdminView, FlashView, Shown, Viewer};
use crate::cache::{Cache, RoutePolicy};
use crate::db::users::{self, User};
use crate::db::Db;
use crate::error::AppError;

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
            .tags(&["users"]),
        RoutePolicy::new("/users/new").ttl(0),
        RoutePolicy::new("/users/<id>").tags(&["user:<id>"]),
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
    let mut conn = db.conn().await?;
    let total = cache
        .get_or_compute(
            "users:count",
            COUNT_TTL,
            &["users"],
            users::count(&mut conn),
        )
        .await?;
    let info = request.locate(total)?;
    let items = users::page(&mut conn, request.offset(), request.per_page).await?;
    Ok(UserPage { info, items })
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

#[get("/?<page>&<per_page>")]
async fn index(
    db: &State<Db>,
    cache: &State<Cache>,
    viewer: Viewer,
    page: Option<&str>,
    per_page: Option<&str>,
) -> Result<Shown<Template>, AppError> {
    let Ok(request) = PageRequest::parse(page, per_page) else {
        return Err(bad_page(db, cache, page, per_page).await);
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

/// A `page` or `per_page` that is not a number from 1, said for people: the error
/// names the pages there are (page 1 always exists, so it is read for the count).
async fn bad_page(db: &Db, cache: &Cache, page: Option<&str>, per_page: Option<&str>) -> AppError {
    let Ok(first) = PageRequest::parse(None, per_page) else {
        return AppError::BadRequest(pagination::bad_per_page(per_page.unwrap_or_default()));
    };
    match load_page(db, cache, first).await {
        Ok(UserPage { info, .. }) => AppError::BadRequest(pagination::no_such_page(
            page.unwrap_or_default(),
            u64::from(info.pages),
        )),
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
