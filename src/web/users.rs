//! The HTML pages of the users directory.

use rocket::response::Redirect;
use rocket::serde::Serialize;
use rocket::{get, routes, Either, Route, State};
use rocket_dyn_templates::{context, Template};

use super::listing::{answer_list, thousands, ListAnswer, Listing, Total};
use super::pagination::{
    canonical_after, canonical_per_page, no_page_numbers, BadPageQuery, PageRequest,
    DEFAULT_PER_PAGE,
};
use super::reads::load_user;
use super::render_db::RenderDb;
use super::user_id::{canonical_user_id, NoSuchUser};
use super::view::{AdminView, FlashView, Shown, Viewer};
use crate::db::users::{User, UserId};
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
            .query(&["after", "per_page", "page"])
            .param("after", canonical_after)
            .param("per_page", canonical_per_page)
            .param("page", no_page_numbers)
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
    summary: String,
    pager: Option<Pager>,
    /// This page as JSON.
    json: ListLink,
    /// Set for the admin only (edit buttons); such pages are never stored.
    admin: Option<AdminView>,
    flash: Option<FlashView>,
}

/// The links between pages: first, previous, the numbers near this page (when
/// its number is known), next and last. An absent link is shown greyed out.
#[derive(Serialize)]
#[serde(crate = "rocket::serde")]
struct Pager {
    first: Option<ListLink>,
    prev: Option<ListLink>,
    numbers: Vec<NumberLink>,
    next: Option<ListLink>,
    last: Option<ListLink>,
    /// "Page 2 of 3", "Page 2 of about 50,000", "One of about 50,000 pages".
    place: String,
}

#[derive(Serialize)]
#[serde(crate = "rocket::serde")]
struct NumberLink {
    label: String,
    link: ListLink,
    current: bool,
}

/// A page of the list as its address names it; `partials/list_query` writes it
/// (numbers only, so the template needs no escaping of its own).
#[derive(Serialize)]
#[serde(crate = "rocket::serde")]
struct ListLink {
    after: Option<UserId>,
    /// `per_page`, when it is not the default.
    size: Option<u32>,
}

impl ListLink {
    fn new(after: Option<UserId>, per_page: u32) -> Self {
        Self {
            after,
            size: (per_page != DEFAULT_PER_PAGE).then_some(per_page),
        }
    }
}

/// The list's address of the page that starts after `after`.
/// Where the HTML list lives.
const LIST: &str = "/";

#[get("/")]
async fn index(
    db: RenderDb<'_>,
    cache: &State<Cache>,
    reads: Reads,
    viewer: Viewer,
    request: Result<PageRequest, BadPageQuery>,
) -> Result<Either<Shown<Template>, Redirect>, AppError> {
    let listing = match answer_list(&db, cache, &reads, request, LIST).await? {
        ListAnswer::Page(listing) => listing,
        ListAnswer::Redirect(to) => return Ok(Either::Right(to)),
    };
    let view = ListView {
        title: "Users",
        items: &listing.items,
        summary: summary(&listing),
        pager: pager(&listing),
        json: ListLink::new(listing.request.after, listing.request.per_page),
        admin: viewer.admin.clone(),
        flash: viewer.flash.clone(),
    };
    Ok(Either::Left(Shown {
        inner: Template::render("users/index", &view),
        private: viewer.is_admin(),
    }))
}

/// "46 users in all, showing 21–40.", "About 1.0 million users in all."
fn summary(listing: &Listing) -> String {
    let total = listing.total.words();
    let users = if listing.total == Total::Exact(1) {
        "user"
    } else {
        "users"
    };
    let showing = match (listing.position, listing.items.len() as u64) {
        (Some(before), 1) => format!(", showing {}", thousands(before + 1)),
        (Some(before), shown) if shown > 1 => format!(
            ", showing {}–{}",
            thousands(before + 1),
            thousands(before + shown)
        ),
        _ => String::new(),
    };
    let text = format!("{total} {users} in all{showing}.");
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or(text)
}

/// The pager, when there is more than one page.
fn pager(listing: &Listing) -> Option<Pager> {
    if listing.is_first() && listing.next().is_none() {
        return None;
    }
    let per_page = listing.request.per_page;
    let href = |after: Option<UserId>| ListLink::new(after, per_page);
    let numbers = match listing.number() {
        None => Vec::new(),
        Some(here) => {
            let mut numbers: Vec<NumberLink> = listing
                .before
                .iter()
                .zip(1..)
                .map(|(&after, back)| NumberLink {
                    label: thousands(here - back),
                    link: href(after),
                    current: false,
                })
                .collect();
            numbers.reverse();
            numbers.push(NumberLink {
                label: thousands(here),
                link: href(listing.request.after),
                current: true,
            });
            numbers.extend(
                listing
                    .ahead
                    .iter()
                    .zip(1..)
                    .map(|(&after, on)| NumberLink {
                        label: thousands(here + on),
                        link: href(Some(after)),
                        current: false,
                    }),
            );
            numbers
        }
    };
    let place = match (listing.number(), listing.pages()) {
        _ if listing.items.is_empty() => "After the last page".to_owned(),
        (Some(here), Some(pages)) => format!("Page {} of {}", thousands(here), thousands(pages)),
        (Some(here), None) => format!(
            "Page {} of about {}",
            thousands(here),
            thousands(listing.pages_about())
        ),
        (None, _) => format!("One of about {} pages", thousands(listing.pages_about())),
    };
    Some(Pager {
        first: (!listing.is_first()).then(|| href(None)),
        prev: listing.prev().map(href),
        numbers,
        next: listing.next().map(|after| href(Some(after))),
        last: listing.last.map(href),
        place,
    })
}

#[get("/users/<id>")]
async fn show(
    db: RenderDb<'_>,
    reads: Reads,
    viewer: Viewer,
    id: Result<UserId, NoSuchUser>,
) -> Result<Shown<Template>, AppError> {
    let user = load_user(&db, &reads, id?).await?;
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
