//! Writing what the cache decided into a response: a stored page (in the coding
//! the request accepts), a 304 from an entry's head, a bypass, and the
//! validators (`ETag`, `Cache-Control`, 304) of a shareable answer.

use std::io::Cursor;

use rocket::http::{Header, Status};
use rocket::{Request, Response};

use super::cache_status::{Bypass, CacheStatus, Served};
use super::compress::may_gain_codings;
use super::encoding::{negotiate, Coding};
use super::entry::{Entry, Head, Kind};
use super::handle::Cache;

/// Marks a response that did not use the shared cache; a personal one is also
/// kept out of downstream shared caches unless the route said otherwise.
pub fn mark_bypass(response: &mut Response<'_>, reason: Bypass) {
    CacheStatus::Bypassed(reason).write_to(response);
    if reason.is_private() && !response.headers().contains("Cache-Control") {
        response.set_header(Header::new("Cache-Control", "private"));
    }
}

/// Writes a stored response, with what happened, into `response`: its body in
/// the best coding the request accepts among those stored. `failed` is the
/// status of a render this copy stands in for.
pub fn serve_entry(
    cache: &Cache,
    request: &Request<'_>,
    response: &mut Response<'_>,
    entry: &Entry,
    served: Served,
    failed: Option<u16>,
) {
    let browser_ttl = write_stored_headers(cache, response, entry, served, failed);
    let etag = write_body(cache, request, response, entry);
    set_validators(request, response, etag, browser_ttl);
}

/// Whether a revalidation can be answered from `head` alone: a stored 200 whose
/// representation for this request (its coding) the client already holds.
pub fn holds_current(request: &Request<'_>, head: &Head) -> bool {
    let meta = head.metadata();
    let coding = coding_for(request, |c| head.has(c));
    meta.kind == Kind::Page
        && meta.status == Status::Ok.code
        && client_holds(request, &coding.etag_of(&meta.etag))
}

/// Answers 304 from an entry's head, with the headers its 200 would carry; only
/// for a request that [`holds_current`] says holds it (no body is at hand).
pub fn serve_not_modified(
    cache: &Cache,
    request: &Request<'_>,
    response: &mut Response<'_>,
    head: &Head,
) {
    let meta = head.metadata();
    let browser_ttl = write_stored_headers(cache, response, meta, Served::Hit, None);
    let coding = coding_for(request, |c| head.has(c));
    let varies = Coding::COMPRESSED.iter().any(|&c| head.has(c))
        || may_gain_codings(cache.config(), meta, head.body_len());
    set_coding_headers(response, coding, varies);
    set_validators(request, response, coding.etag_of(&meta.etag), browser_ttl);
    response.set_status(Status::NotModified);
}

/// Status, stored headers, `X-Cache`/`Cache-Status` and `Age` of a stored
/// response; returns the browser lifetime it may be given.
fn write_stored_headers(
    cache: &Cache,
    response: &mut Response<'_>,
    entry: &Entry,
    served: Served,
    failed: Option<u16>,
) -> u64 {
    let now = cache.now_ms();
    let ttl = entry.ttl_secs(now);
    response.set_status(Status::new(entry.status));
    for (name, value) in &entry.headers {
        response.set_raw_header(name.clone(), value.clone());
    }
    CacheStatus::Served {
        served,
        ttl,
        failed,
    }
    .write_to(response);
    response.set_header(Header::new("Age", entry.age_secs(now).to_string()));
    u64::from(entry.browser_ttl_secs).min(u64::try_from(ttl).unwrap_or(0))
}

/// Largest piece a hit's body is handed to the connection in.
const MAX_HIT_CHUNK: usize = 64 * 1024;

/// The body is in memory already: hand it to the connection in one piece, up to
/// [`MAX_HIT_CHUNK`]. Rocket's default passes a body on in 4 KiB chunks, each a
/// buffer of its own and a wake-up of the task that writes the connection; for a
/// page of 37 KB that was most of a hit's time. Each piece is a copy held until the
/// client reads it, so the cap bounds what a slow reader of a large page holds.
fn chunk_size_for(len: usize) -> usize {
    len.clamp(rocket::response::Body::DEFAULT_MAX_CHUNK, MAX_HIT_CHUNK)
}

/// Sets the body of `entry` in the best coding the request accepts among those
/// stored, with `Content-Encoding` and `Vary`; returns that representation's
/// `ETag`. Every coding's body decodes to the same bytes.
pub fn write_body(
    cache: &Cache,
    request: &Request<'_>,
    response: &mut Response<'_>,
    entry: &Entry,
) -> String {
    let coding = coding_for(request, |c| entry.body_in(c).is_some());
    let body = entry.body_in(coding).unwrap_or(&entry.body).clone();
    let len = body.len();
    response.set_sized_body(len, Cursor::new(body));
    response.set_max_chunk_size(chunk_size_for(len));
    let varies = Coding::COMPRESSED
        .iter()
        .any(|&c| entry.compressed.get(c).is_some())
        || may_gain_codings(cache.config(), entry, entry.body.len());
    set_coding_headers(response, coding, varies);
    coding.etag_of(&entry.etag)
}

/// The coding this request gets among those `stored`.
fn coding_for(request: &Request<'_>, stored: impl Fn(Coding) -> bool) -> Coding {
    negotiate(request.headers().get("Accept-Encoding"), stored)
}

/// `Content-Encoding` of the chosen coding, and `Vary: Accept-Encoding` when the
/// page `varies`: is or may be stored in more than one coding, since a coding
/// may be added on a later hit (whichever this request got: a shared cache
/// downstream must not hand this answer to a client that accepts otherwise).
fn set_coding_headers(response: &mut Response<'_>, coding: Coding, varies: bool) {
    if let Some(token) = coding.token() {
        response.set_header(Header::new("Content-Encoding", token));
    }
    if varies {
        add_vary(response, "Accept-Encoding");
    }
}

/// Adds `name` to the response's `Vary`, merged into one field with what the
/// route said; nothing to add when it is there already or `Vary` is `*`.
fn add_vary(response: &mut Response<'_>, name: &'static str) {
    if !response.headers().contains("Vary") {
        // The common case, on every hit: nothing to merge, nothing to allocate.
        response.set_header(Header::new("Vary", name));
        return;
    }
    let current: Vec<String> = response
        .headers()
        .get("Vary")
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect();
    let present = current
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|field| field == "*" || field.eq_ignore_ascii_case(name));
    if !present {
        let merged: Vec<&str> = current
            .iter()
            .map(String::as_str)
            .chain(std::iter::once(name))
            .collect();
        response.set_header(Header::new("Vary", merged.join(", ")));
    }
}

/// `ETag` and `Cache-Control` for a shareable response, and 304 when the client
/// already holds it.
pub fn set_validators(
    request: &Request<'_>,
    response: &mut Response<'_>,
    etag: String,
    browser_ttl: u64,
) {
    let holds = client_holds(request, &etag);
    response.set_header(Header::new("ETag", etag));
    // Without a browser lifetime, browsers keep the page but ask again on every
    // visit: a cheap 304 while it is unchanged, never an outdated page.
    let cache_control = if browser_ttl == 0 {
        Header::new("Cache-Control", "no-cache")
    } else {
        Header::new("Cache-Control", format!("public, max-age={browser_ttl}"))
    };
    response.set_header(cache_control);
    if holds && response.status() == Status::Ok {
        response.set_status(Status::NotModified);
    }
}

/// Whether the request's `If-None-Match` names `etag`.
fn client_holds(request: &Request<'_>, etag: &str) -> bool {
    request
        .headers()
        .get("If-None-Match")
        .any(|value| etag_matches(value, etag))
}

/// `If-None-Match` comparison (weak, as RFC 9110 asks for this header).
fn etag_matches(header: &str, etag: &str) -> bool {
    let ours = etag.trim_start_matches("W/");
    header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_goes_in_one_piece_up_to_the_cap() {
        assert_eq!(chunk_size_for(37_000), 37_000);
        assert_eq!(chunk_size_for(100), 4096, "never below Rocket's default");
        assert_eq!(
            chunk_size_for(1024 * 1024),
            MAX_HIT_CHUNK,
            "a large page in bounded pieces"
        );
    }

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists_and_star() {
        assert!(etag_matches("\"a\"", "\"a\""));
        assert!(etag_matches("W/\"a\"", "\"a\""));
        assert!(etag_matches("\"b\", \"a\"", "\"a\""));
        assert!(etag_matches("*", "\"a\""));
        assert!(!etag_matches("\"b\"", "\"a\""));
        assert!(
            !etag_matches("\"a\"", "\"a-br\""),
            "identity's tag is not br's"
        );
    }

    fn vary_after(route: &[&str]) -> Vec<String> {
        let mut response = Response::new();
        for value in route {
            response.adjoin_raw_header("Vary", (*value).to_owned());
        }
        add_vary(&mut response, "Accept-Encoding");
        response.headers().get("Vary").map(str::to_owned).collect()
    }

    #[test]
    fn accept_encoding_is_merged_into_the_routes_vary() {
        assert_eq!(vary_after(&[]), ["Accept-Encoding"]);
        assert_eq!(
            vary_after(&["Accept-Language", "Cookie"]),
            ["Accept-Language, Cookie, Accept-Encoding"]
        );
        assert_eq!(vary_after(&["accept-encoding"]), ["accept-encoding"]);
        assert_eq!(
            vary_after(&["Origin, Accept-Encoding"]),
            ["Origin, Accept-Encoding"]
        );
        assert_eq!(vary_after(&["*"]), ["*"]);
    }
}
