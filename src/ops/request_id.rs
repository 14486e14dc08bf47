//! `X-Request-Id` on every answer, so a user's report, the proxy's log and this
//! app's log can be matched up.
//!
//! A valid incoming id (as a load balancer sets it) is kept, otherwise a new one is
//! made, as the request arrives ([`settle`]). The header is written on the way out
//! ([`write`]), after the page cache: a hit is written by the cache's
//! `on_response`, and the stored entry must never carry the id of the request that
//! rendered it (the cache stores before the header is added).

use rocket::http::Header;
use rocket::{Request, Response};

pub const HEADER: &str = "X-Request-Id";

/// Longest incoming id kept; longer ones are replaced, so a client cannot make the
/// logs carry arbitrary amounts of its text.
const MAX_LEN: usize = 128;

/// This request's id, kept in the request's local cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    /// The id [`settle`] settled on (a new one if it did not run).
    pub fn of<'a>(request: &'a Request<'_>) -> &'a str {
        &request.local_cache(|| RequestId(new_id())).0
    }
}

/// Whether an incoming id is safe to echo and log: 1 to 128 characters among
/// letters, digits and `-_.:@+/=` (UUIDs, trace ids, base64), nothing else.
pub fn is_valid(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:@+/=".contains(&b))
}

/// 128 random bits in hex (through `hex`, not `format!`: every request makes
/// one, and the formatting machinery cost more than the random bits).
fn new_id() -> String {
    let bits: u128 = rand::random();
    hex::encode(bits.to_be_bytes())
}

/// Settles the request's id: the valid one it came with, or a new one.
pub fn settle(request: &Request<'_>) {
    let incoming = request
        .headers()
        .get(HEADER)
        .next()
        .filter(|id| is_valid(id))
        .map(str::to_owned);
    request.local_cache(|| RequestId(incoming.unwrap_or_else(new_id)));
}

/// Writes the request's id on its answer.
pub fn write(request: &Request<'_>, response: &mut Response<'_>) {
    response.set_header(Header::new(HEADER, RequestId::of(request).to_owned()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_are_safe_to_log_are_kept() {
        assert!(is_valid("3f2c1a9e-7b4d-4c1e-9a2f-0123456789ab"));
        assert!(is_valid("Root=1-67891233-abcdef012345678912345678"));
        assert!(!is_valid(""));
        assert!(!is_valid("has space"));
        assert!(!is_valid("quote\"d"));
        assert!(!is_valid("é"));
        assert!(!is_valid(&"a".repeat(MAX_LEN + 1)));
        assert!(is_valid(&"a".repeat(MAX_LEN)));
    }

    #[test]
    fn new_ids_are_valid_and_differ() {
        let (a, b) = (new_id(), new_id());
        assert!(is_valid(&a) && a.len() == 32, "{a}");
        assert_ne!(a, b);
    }
}
