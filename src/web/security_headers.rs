//! Security headers on every answer, including pages the cache serves.
//!
//! A cache hit is written by the page cache's `on_response`, and stored entries
//! keep only content headers, so these headers must be set after it: the
//! request log's last fairing writes them ([`write`]) on every response (HTML,
//! JSON, errors, hits); none of them changes `Cache-Control` or `Vary`.

use rocket::http::Header;
use rocket::{Request, Response};

/// The pages use no inline script and no inline style: only same-origin scripts
/// (`/static/nav.js`), styles and images, forms posting to this site, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";
pub const REFERRER_POLICY: &str = "strict-origin-when-cross-origin";
/// Sent only over TLS: Rocket's own, or a proxy's that ended it and says so with
/// `X-Forwarded-Proto: https`. Browsers ignore it over plain HTTP, so a client
/// that sends that header itself gains nothing.
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000; includeSubDomains";

/// The headers every answer carries, whatever it is. The last two are the
/// ones Rocket's default `Shield` writes, with its values: the departure stage
/// attaches an empty `Shield` in its place, so each answer passes through one
/// fairing that writes one block instead of two that check and write in turn.
const ALWAYS: [(&str, &str); 5] = [
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("Referrer-Policy", REFERRER_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "SAMEORIGIN"),
    ("Permissions-Policy", "interest-cohort=()"),
];

/// Writes the security headers on an answer; see the module doc for when.
pub fn write(request: &Request<'_>, response: &mut Response<'_>) {
    for (name, value) in ALWAYS {
        response.set_header(Header::new(name, value));
    }
    if came_over_tls(request) {
        response.set_header(Header::new(
            "Strict-Transport-Security",
            STRICT_TRANSPORT_SECURITY,
        ));
    }
}

/// Whether the client reached us over TLS, directly or through a proxy.
pub fn came_over_tls(request: &Request<'_>) -> bool {
    request.rocket().config().tls_enabled()
        || request
            .headers()
            .get_one("X-Forwarded-Proto")
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// Whether the request came over TLS ([`came_over_tls`]), as a request guard: the
/// cookies a route sets are then `Secure`. A client that claims
/// `X-Forwarded-Proto: https` over plain HTTP only keeps its own browser from
/// sending them back, as with HSTS.
#[derive(Debug, Clone, Copy)]
pub struct OverTls(pub bool);

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for OverTls {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> rocket::request::Outcome<Self, Self::Error> {
        rocket::request::Outcome::Success(OverTls(came_over_tls(request)))
    }
}
