//! Writing what the cache decided into a response: a stored page, a bypass, and
//! the validators (`ETag`, `Cache-Control`, 304) of a shareable answer.

use std::io::Cursor;

use rocket::http::{Header, Status};
use rocket::{Request, Response};

use super::cache_status::{Bypass, CacheStatus, Served};
use super::entry::Entry;
use super::handle::Cache;

/// Marks a response that did not use the shared cache; a personal one is also
/// kept out of downstream shared caches unless the route said otherwise.
pub fn mark_bypass(response: &mut Response<'_>, reason: Bypass) {
    CacheStatus::Bypassed(reason).write_to(response);
    if reason.is_private() && !response.headers().contains("Cache-Control") {
        response.set_header(Header::new("Cache-Control", "private"));
    }
}

/// Writes a stored response, with what happened, into `response`. `failed` is
/// the status of a render this copy stands in for.
pub fn serve_entry(
    cache: &Cache,
    request: &Request<'_>,
    response: &mut Response<'_>,
    entry: &Entry,
    served: Served,
    failed: Option<u16>,
) {
    let now = cache.now_ms();
    let ttl = entry.ttl_secs(now);
    response.set_status(Status::new(entry.status));
    for (name, value) in &entry.headers {
        response.set_raw_header(name.clone(), value.clone());
    }
    response.set_sized_body(entry.body.len(), Cursor::new(entry.body.clone()));
    CacheStatus::Served {
        served,
        ttl,
        failed,
    }
    .write_to(response);
    response.set_header(Header::new("Age", entry.age_secs(now).to_string()));
    let browser_ttl = u64::from(entry.browser_ttl_secs).min(u64::try_from(ttl).unwrap_or(0));
    set_validators(request, response, &entry.etag, browser_ttl);
}

/// `ETag` and `Cache-Control` for a shareable response, and 304 when the client
/// already holds it.
pub fn set_validators(
    request: &Request<'_>,
    response: &mut Response<'_>,
    etag: &str,
    browser_ttl: u64,
) {
    response.set_header(Header::new("ETag", etag.to_owned()));
    // Without a browser lifetime, browsers keep the page but ask again on every
    // visit: a cheap 304 while it is unchanged, never an outdated page.
    let cache_control = if browser_ttl == 0 {
        "no-cache".to_owned()
    } else {
        format!("public, max-age={browser_ttl}")
    };
    response.set_header(Header::new("Cache-Control", cache_control));
    let matches = request
        .headers()
        .get("If-None-Match")
        .any(|value| etag_matches(value, etag));
    if matches && response.status() == Status::Ok {
        response.set_status(Status::NotModified);
    }
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
    fn if_none_match_compares_weakly_and_accepts_lists_and_star() {
        assert!(etag_matches("\"a\"", "\"a\""));
        assert!(etag_matches("W/\"a\"", "\"a\""));
        assert!(etag_matches("\"b\", \"a\"", "\"a\""));
        assert!(etag_matches("*", "\"a\""));
        assert!(!etag_matches("\"b\"", "\"a\""));
    }
}
