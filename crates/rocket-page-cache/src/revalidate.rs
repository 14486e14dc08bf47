//! Conditional requests (`If-None-Match`) answered from an entry's head.
//!
//! Browsers revalidate every visit of a page without a browser lifetime
//! (`Cache-Control: no-cache`, the default), so most of their requests for a
//! page they have seen end in 304. Such a request reads only the first
//! [`HEAD_READ_BYTES`] of the value (Redis `GETRANGE`): the timing, status,
//! headers, ETag and stored codings, not the page in its three forms. When the
//! client holds what it would get, that answers it; otherwise (the page
//! changed, is stale, or its head did not fit) the whole entry is read as for
//! any request, which costs one more round trip on that rarer path.
//!
//! A 304 given here does not draw for early refresh: that draw is left to the
//! requests that read the page.

use rocket::Request;

use super::entry::{Entry, Freshness, Head, Prefix, HEAD_READ_BYTES};
use super::handle::{Cache, CacheUnavailable};
use super::respond::holds_current;

/// What a conditional request found.
pub enum Revalidation {
    /// A fresh page whose representation the client holds: answer 304.
    NotModified(Box<Head>),
    /// Anything else: what a plain lookup would have found.
    Found(Option<Entry>),
}

/// Looks `key` up for a request that carries `If-None-Match`, reading the
/// whole entry only when its head cannot answer. `Err` means the store could
/// not be asked.
pub async fn lookup(
    cache: &Cache,
    request: &Request<'_>,
    key: &str,
) -> Result<Revalidation, CacheUnavailable> {
    let Some(prefix) = cache.lookup_prefix(key, HEAD_READ_BYTES).await? else {
        return Ok(Revalidation::Found(None));
    };
    match Entry::decode_prefix(prefix) {
        Ok(Prefix::Whole(entry)) => Ok(Revalidation::Found(Some(entry))),
        Ok(Prefix::Head(head))
            if head.metadata().freshness(cache.now_ms()) == Freshness::Fresh
                && holds_current(request, &head) =>
        {
            Ok(Revalidation::NotModified(Box::new(head)))
        }
        // Changed, stale, a head too long for the prefix, or not an entry: read
        // it all (a value that does not decode is reported there).
        _ => Ok(Revalidation::Found(cache.lookup(key).await?)),
    }
}
