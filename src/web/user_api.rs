//! The JSON API: the same data as the pages, for scripts; writes with the admin
//! API token (`Authorization: Bearer ...`).

use rocket::http::{Header, Status};
use rocket::request::Request;
use rocket::response::Redirect;
use rocket::response::{self, status::Created, Responder};
use rocket::serde::json::Json;
use rocket::serde::Serialize;
use rocket::{delete, get, post, put, routes, Either, Route, State};
use serde_json::{Map, Value};

use super::auth::{ApiAdmin, AuthError};
use super::cache_control::NoStore;
use super::json_body::{BodyError, JsonBody};
use crate::db::users::{User, UserId};
use crate::db::Db;
use crate::users::id::NoSuchUser;
use crate::users::invalidation::Purge;
use crate::users::listing::{self, answer_list, ListAnswer, Listing};
use crate::users::pagination::{BadPageQuery, PageRequest};
use crate::users::reads::load_user;
use crate::users::render_db::RenderDb;
use crate::users::validation::{missing_fields, UserInput};
use crate::users::writes::{self, Written};
use crate::web::error::AppError;
use rocket_page_cache::{Cache, Reads};

pub fn routes() -> Vec<Route> {
    routes![list, show, create, replace, remove]
}

/// `GET /api/users`: a page of users, the cursor of the next page and the total.
/// The `Link` header (RFC 8288) names the first, previous, next and last pages.
#[derive(Serialize)]
#[serde(crate = "rocket::serde")]
pub struct UserList {
    pub items: Vec<User>,
    pub per_page: u32,
    /// The user this page starts after; `null` on the first page.
    pub after: Option<UserId>,
    /// The `after` of the next page; `null` on the last page.
    pub next: Option<UserId>,
    /// How many users there are: exact up to 10,000, else the optimiser's estimate.
    pub total: u64,
    pub total_is_exact: bool,
}

/// Where the JSON list lives.
const LIST: &str = "/api/users";

/// The list's address of the page that starts after `after`.
fn list_href(after: Option<UserId>, per_page: u32) -> String {
    listing::list_href(LIST, after, per_page)
}

/// A list page with its `Link` header.
pub struct Linked {
    body: Json<UserList>,
    link: String,
}

impl<'r, 'o: 'r> Responder<'r, 'o> for Linked {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'o> {
        let mut response = self.body.respond_to(request)?;
        if !self.link.is_empty() {
            response.set_header(Header::new("Link", self.link));
        }
        Ok(response)
    }
}

/// `<...>; rel="first", ...`: each page there is besides this one.
fn link_header(listing: &Listing) -> String {
    let per_page = listing.request.per_page;
    let mut links = Vec::with_capacity(4);
    if !listing.is_first() {
        links.push((list_href(None, per_page), "first"));
    }
    if let Some(prev) = listing.prev() {
        links.push((list_href(prev, per_page), "prev"));
    }
    if let Some(next) = listing.next() {
        links.push((list_href(Some(next), per_page), "next"));
    }
    if let Some(last) = listing.last {
        links.push((list_href(last, per_page), "last"));
    }
    links
        .iter()
        .map(|(href, rel)| format!("<{href}>; rel=\"{rel}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

#[get("/api/users")]
async fn list(
    db: RenderDb<'_>,
    cache: &State<Cache>,
    reads: Reads,
    request: Result<PageRequest, BadPageQuery>,
) -> Result<Either<Linked, Redirect>, AppError> {
    let listing = match answer_list(&db, cache, &reads, request, LIST).await? {
        ListAnswer::Page(listing) => listing,
        ListAnswer::Redirect(to) => return Ok(Either::Right(to)),
    };
    let request = listing.request;
    let link = link_header(&listing);
    let next = listing.next();
    Ok(Either::Left(Linked {
        link,
        body: Json(UserList {
            per_page: request.per_page,
            after: request.after,
            next,
            total: listing.total.rows(),
            total_is_exact: listing.total.is_exact(),
            items: listing.items,
        }),
    }))
}

#[get("/api/users/<id>")]
async fn show(
    db: RenderDb<'_>,
    reads: Reads,
    id: Result<UserId, NoSuchUser>,
) -> Result<Json<User>, AppError> {
    Ok(Json(load_user(&db, &reads, id?).await?))
}

/// The body, or the error that says what is wrong with it (415, 413 or 400).
fn body(parsed: Result<JsonBody<UserInput>, BodyError>) -> Result<UserInput, AppError> {
    parsed.map(|JsonBody(input)| input).map_err(body_error)
}

/// What a client is told of a body it must fix.
fn body_error(error: BodyError) -> AppError {
    match error {
        BodyError::Malformed(e) => AppError::BadRequest(format!(
            "The body must be a JSON object with string fields name, email, phone and \
             address: {e}."
        )),
        other => other.into(),
    }
}

/// A `PUT` body: every field present (422 naming those left out, since `PUT`
/// replaces them all), then read as any body.
fn replacement(
    parsed: Result<JsonBody<Map<String, Value>>, BodyError>,
) -> Result<UserInput, AppError> {
    let JsonBody(fields) = parsed.map_err(body_error)?;
    let missing = missing_fields(|name| fields.contains_key(name));
    if !missing.is_empty() {
        return Err(AppError::Invalid(missing));
    }
    serde_json::from_value(Value::Object(fields))
        .map_err(|e| body_error(BodyError::Malformed(e.to_string())))
}

/// A write's answer: never stored, and `X-Cache-Purge: done | pending` says whether
/// the cached pages have caught up.
pub struct WriteReply<R> {
    inner: R,
    purge: Purge,
}

impl<'r, 'o: 'r, R: Responder<'r, 'o>> Responder<'r, 'o> for WriteReply<R> {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'o> {
        let mut response = self.inner.respond_to(request)?;
        NoStore::Anyone.set_on(&mut response);
        response.set_header(Header::new("X-Cache-Purge", self.purge.header_value()));
        Ok(response)
    }
}

impl<T> Written<T> {
    fn reply<R>(self, inner: impl FnOnce(T) -> R) -> WriteReply<R> {
        WriteReply {
            inner: inner(self.value),
            purge: self.purge,
        }
    }
}

/// `POST /api/users`: 201 with the user and its `Location`.
#[post("/api/users", data = "<user>")]
async fn create(
    db: &State<Db>,
    cache: &State<Cache>,
    admin: Result<ApiAdmin, AuthError>,
    user: Result<JsonBody<UserInput>, BodyError>,
) -> Result<WriteReply<Created<Json<User>>>, AppError> {
    admin?;
    let input = body(user)?;
    let written = writes::create_user(db, cache, &input).await?;
    Ok(written.reply(|user| Created::new(format!("/api/users/{}", user.id)).body(Json(user))))
}

/// `PUT /api/users/<id>`: every field replaced; 200 with the user.
#[put("/api/users/<id>", data = "<user>")]
async fn replace(
    db: &State<Db>,
    cache: &State<Cache>,
    admin: Result<ApiAdmin, AuthError>,
    id: Result<UserId, NoSuchUser>,
    user: Result<JsonBody<Map<String, Value>>, BodyError>,
) -> Result<WriteReply<Json<User>>, AppError> {
    admin?;
    let id = id?;
    let input = replacement(user)?;
    let written = writes::update_user(db, cache, id, &input).await?;
    Ok(written.reply(Json))
}

/// `DELETE /api/users/<id>`: 204.
#[delete("/api/users/<id>")]
async fn remove(
    db: &State<Db>,
    cache: &State<Cache>,
    admin: Result<ApiAdmin, AuthError>,
    id: Result<UserId, NoSuchUser>,
) -> Result<WriteReply<Status>, AppError> {
    admin?;
    let id = id?;
    let written = writes::delete_user(db, cache, id).await?;
    Ok(written.reply(|()| Status::NoContent))
}
