//! Refuses requests with more than one `Host` header before anything else sees
//! them. Rocket takes the first, a proxy in front may have used another: the
//! cache key, the allowed-hosts check and the route could then disagree about
//! which site was asked for. Such a request gets a 400 page, and neither the
//! page cache nor any route runs.
//!
//! A fairing cannot answer by itself: `on_request` marks the request and sends
//! it to [`REFUSED_ROUTE`], which answers the 400. The page cache has no policy
//! for that path, so it leaves the request alone. Attach [`HostGuard`] before the
//! page cache.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::uri::Origin;
use rocket::http::Method;
use rocket::request::{self, FromRequest};
use rocket::{get, routes, Data, Request, Route};

use crate::ops::request_warnings::{request_label, warn, WarningKind};
use crate::web::error::AppError;

/// Where refused requests are sent. Requested directly, it is a 404.
pub const REFUSED_ROUTE: &str = "/__rocket-cache/bad-host";

/// Sends requests with several `Host` headers to [`REFUSED_ROUTE`].
pub struct HostGuard;

/// Set on a request the guard refused.
struct Refused(bool);

#[rocket::async_trait]
impl Fairing for HostGuard {
    fn info(&self) -> Info {
        Info {
            name: "Duplicate Host guard",
            kind: Kind::Request,
        }
    }

    async fn on_request(&self, request: &mut Request<'_>, _: &mut Data<'_>) {
        if request.headers().get("Host").nth(1).is_none() {
            return;
        }
        warn(WarningKind::DuplicateHost, || {
            format!(
                "{}: refused, {} Host headers",
                request_label(request),
                request.headers().get("Host").count()
            )
        });
        request.local_cache(|| Refused(true));
        // HEAD is answered by GET routes; every other method becomes GET so the
        // one refusal route matches it.
        if request.method() != Method::Head {
            request.set_method(Method::Get);
        }
        request.set_uri(Origin::parse(REFUSED_ROUTE).expect("valid internal path"));
    }
}

pub fn routes() -> Vec<Route> {
    routes![refused]
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for &'r Refused {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        request::Outcome::Success(request.local_cache(|| Refused(false)))
    }
}

#[get("/__rocket-cache/bad-host")]
fn refused(mark: &Refused) -> Result<(), AppError> {
    if mark.0 {
        Err(AppError::BadRequest(
            "The request has more than one Host header; send exactly one.".to_owned(),
        ))
    } else {
        Err(AppError::NotFound(
            "There is nothing at this address.".to_owned(),
        ))
    }
}
