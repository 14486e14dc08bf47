//! The HTML pages of the users directory.

use rocket::response::Redirect;
use rocket::serde::Serialize;
use rocket::{get, routes, Either, Route, State};
use rocket_dyn_templates::{context, Metadata, Template};
use serde::Deserialize;

use super::fragments::{self, Fragments, Html, ADMIN_ROLE, FRAGMENT_TTL};
use super::replies::Shown;
use super::viewer::Viewer;
use crate::db::users::{User, UserId};
use crate::users::id::NoSuchUser;
use crate::users::listing::{
    accepted_request, load_listing, moved_to, thousands, Listed, Listing, Total,
};
use crate::users::pagination::{BadPageQuery, PageRequest, DEFAULT_PER_PAGE};
use crate::users::reads::load_user;
use crate::users::render_db::RenderDb;
use crate::web::error::AppError;
use rocket_page_cache::{Cache, Reads};

pub fn routes() -> Vec<Route> {
    routes![index, show]
}

/// The list's body (`users/list`): the public page's, and the admins' shared
/// fragment with `actions` set.
#[derive(Serialize)]
#[serde(crate = "rocket::serde")]
struct ListBody<'a> {
    items: &'a [User],
    summary: String,
    pager: Option<Pager>,
    /// This page as JSON.
    json: ListLink,
    /// The Edit and Delete links of each row (the same for every admin).
    actions: bool,
}

impl<'a> ListBody<'a> {
    fn of(listing: &'a Listing, actions: bool) -> Self {
        Self {
            items: &listing.items,
            summary: summary(listing),
            pager: pager(listing),
            json: ListLink::new(listing.request.after, listing.request.per_page),
            actions,
        }
    }
}

/// The public list page: its body in place.
#[derive(Serialize)]
#[serde(crate = "rocket::serde")]
struct ListView<'a> {
    title: &'static str,
    #[serde(flatten)]
    body: ListBody<'a>,
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

/// Where the HTML list lives.
const LIST: &str = "/";

#[get("/")]
async fn index(
    db: RenderDb<'_>,
    cache: &State<Cache>,
    reads: Reads,
    viewer: Viewer,
    metadata: Metadata<'_>,
    request: Result<PageRequest, BadPageQuery>,
) -> Result<Either<Shown<Template>, Redirect>, AppError> {
    let request = match accepted_request(request, LIST)? {
        Ok(request) => request,
        Err(redirect) => return Ok(Either::Right(redirect)),
    };
    if viewer.is_admin() {
        return admin_index(&db, cache, &reads, viewer, &metadata, request).await;
    }
    let listing = match load_listing(&db, cache, &reads, request).await? {
        Listed::Page(listing) => listing,
        Listed::Moved(to) => return Ok(Either::Right(moved_to(LIST, &to))),
    };
    let view = ListView {
        title: "Users",
        body: ListBody::of(&listing, false),
    };
    Ok(Either::Left(Shown {
        inner: Template::render("users/index", &view),
        private: false,
    }))
}

/// Why the admins' list fragment was not made: the page moved (its cursor
/// names no user), or an error. Neither is stored.
enum ListFragmentError {
    Moved(PageRequest),
    Failed(AppError),
}

impl From<AppError> for ListFragmentError {
    fn from(error: AppError) -> Self {
        Self::Failed(error)
    }
}

/// The admin's list: the page around the shared fragment of its body, private.
async fn admin_index(
    db: &RenderDb<'_>,
    cache: &Cache,
    reads: &Reads,
    viewer: Viewer,
    metadata: &Metadata<'_>,
    request: PageRequest,
) -> Result<Either<Shown<Template>, Redirect>, AppError> {
    let after = request.after.map(|id| id.to_string()).unwrap_or_default();
    let per_page = request.per_page.to_string();
    let vary = [ADMIN_ROLE, ("after", &after), ("per_page", &per_page)];
    let list = cache
        .fragment("users-list", &vary, FRAGMENT_TTL, reads, |own| async move {
            match load_listing(db, cache, &own, request).await? {
                Listed::Page(listing) => Ok(fragments::render(
                    metadata,
                    "users/list",
                    ListBody::of(&listing, true),
                )?),
                Listed::Moved(to) => Err(ListFragmentError::Moved(to)),
            }
        })
        .await;
    let list = match list {
        Ok(list) => list,
        Err(ListFragmentError::Moved(to)) => return Ok(Either::Right(moved_to(LIST, &to))),
        Err(ListFragmentError::Failed(error)) => return Err(error),
    };
    let page = Template::render(
        "users/index",
        context! {
            title: "Users",
            admin: viewer.admin,
            flash: viewer.flash,
            fragments: Fragments::from([("list", list)]),
        },
    );
    Ok(Either::Left(Shown {
        inner: page,
        private: true,
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
    cache: &State<Cache>,
    reads: Reads,
    viewer: Viewer,
    metadata: Metadata<'_>,
    id: Result<UserId, NoSuchUser>,
) -> Result<Shown<Template>, AppError> {
    let id = id?;
    if viewer.is_admin() {
        return admin_show(&db, cache, &reads, viewer, &metadata, id).await;
    }
    let user = load_user(&db, &reads, id).await?;
    let page = Template::render(
        "users/show",
        context! {
            title: user.name.clone(),
            user,
        },
    );
    Ok(Shown {
        inner: page,
        private: false,
    })
}

/// The admins' shared fragment of a user's page: the details with their
/// actions, and the name for the page's title.
#[derive(Clone, Serialize, Deserialize)]
#[serde(crate = "rocket::serde")]
struct UserDetail {
    title: String,
    detail: Html,
}

/// The admin's user page: the page around the shared fragment, private.
async fn admin_show(
    db: &RenderDb<'_>,
    cache: &Cache,
    reads: &Reads,
    viewer: Viewer,
    metadata: &Metadata<'_>,
    id: UserId,
) -> Result<Shown<Template>, AppError> {
    let key = id.to_string();
    let shown = cache
        .fragment(
            "user-detail",
            &[ADMIN_ROLE, ("id", &key)],
            FRAGMENT_TTL,
            reads,
            |own| async move {
                let user = load_user(db, &own, id).await?;
                let detail = fragments::render(
                    metadata,
                    "users/detail",
                    context! { user: &user, actions: true },
                )?;
                Ok::<_, AppError>(UserDetail {
                    title: user.name,
                    detail,
                })
            },
        )
        .await?;
    let page = Template::render(
        "users/show",
        context! {
            title: shown.title,
            admin: viewer.admin,
            flash: viewer.flash,
            fragments: Fragments::from([("detail", shown.detail)]),
        },
    );
    Ok(Shown {
        inner: page,
        private: true,
    })
}
