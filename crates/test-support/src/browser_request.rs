//! A request to an app under Rocket's local client, with the headers a browser
//! on `localhost:8000` sends: the local client leaves out the `Host` the cache
//! keys pages by, and reads cookies from its own jar instead of a header.

use rocket::http::uri::Host;
use rocket::http::{Cookie, Header, Method};
use rocket::local::asynchronous::{Client, LocalRequest};

/// Not sent as a header: each `name=value` pair goes to the client's jar
/// encrypted with the app's key, as a cookie the app itself set with
/// `add_private`.
pub const SEALED_COOKIE: &str = "Sealed-Cookie";

/// A request of `method` for `uri`, not yet dispatched, with `headers` as a
/// browser sends them: `Host: localhost:8000` unless `headers` name another
/// host; each pair of a `Cookie` in the client's jar (a [`SEALED_COOKIE`]'s
/// encrypted); any other header as it is.
pub fn browser_request<'c>(
    client: &'c Client,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
) -> LocalRequest<'c> {
    let mut request = client.req(method, uri.to_owned());
    let host = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("host"))
        .map_or("localhost:8000", |(_, value)| *value);
    // The local client does not derive the host from a header: set both.
    if let Ok(parsed) = Host::parse_owned(host.to_owned()) {
        request.inner_mut().set_host(parsed);
    }
    request.add_header(Header::new("Host", host.to_owned()));
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("cookie") {
            for (name, value) in cookie_pairs(value) {
                request = request.cookie(Cookie::new(name, value));
            }
        } else if name.eq_ignore_ascii_case(SEALED_COOKIE) {
            for (name, value) in cookie_pairs(value) {
                request = request.private_cookie(Cookie::new(name, value));
            }
        } else if !name.eq_ignore_ascii_case("host") {
            request.add_header(Header::new((*name).to_owned(), (*value).to_owned()));
        }
    }
    request
}

/// The `name=value` pairs of a `Cookie` header's value (`a=1; b=2`).
fn cookie_pairs(value: &str) -> impl Iterator<Item = (String, String)> + '_ {
    value.split(';').filter_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        Some((name.to_owned(), value.to_owned()))
    })
}
