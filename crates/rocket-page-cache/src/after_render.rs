//! After the route answered: serve a stored copy if it failed, else store what
//! it answered when a shared cache may; then tell the waiters and free the lease.
//!
//! Storing is a row of steps with one job each: decide storability, buffer the
//! body, compress it for its requester, build the entry, store it, count it,
//! write the headers.

use std::io::Cursor;
use std::time::Duration;

use bytes::Bytes;
use rocket::http::{Header, Status};
use rocket::{Request, Response};
use sha2::{Digest, Sha256};

use super::cache_status::{CacheStatus, Rendered, Served};
use super::compress::{compress, worth_compressing};
use super::counters::Stats;
use super::encoding::{negotiate, Coding};
use super::entry::{Compressed, Entry, Freshness, Kind};
use super::flight::Outcome;
use super::handle::Cache;
use super::key::bounded_tag;
use super::policy::{storable_ttl, Refusal, ResponseDirectives, ResponseFacts, Storing};
use super::reads::Reads;
use super::render::Render;
use super::respond::{serve_entry, set_validators, write_body};

/// Response headers worth keeping in an entry; the rest (dates, cookies, framing,
/// security headers that Rocket adds anyway) is not stored.
const KEPT_HEADERS: &[&str] = &[
    "content-type",
    // A body the route encoded itself must be served with its coding.
    "content-encoding",
    "content-language",
    "content-disposition",
    "content-location",
    "last-modified",
    "link",
    "vary",
];

/// Ends a render: answers and stores as the route's status calls for, then pays
/// what the render owes (waiters, lease).
pub async fn finish_render<'r>(
    cache: &Cache,
    request: &'r Request<'_>,
    response: &mut Response<'r>,
    mut render: Render,
) {
    let outcome = if response.status().code >= 500 {
        fail_render(cache, request, response, &mut render)
    } else {
        store_render(cache, request, response, &render).await
    };
    render.finish(cache, outcome).await;
}

/// The route failed: a stored copy within its stale-if-error window answers
/// instead; without one the error goes out, with `Retry-After`.
fn fail_render(
    cache: &Cache,
    request: &Request<'_>,
    response: &mut Response<'_>,
    render: &mut Render,
) -> Outcome {
    let status = response.status().code;
    let usable = render
        .take_fallback()
        .filter(|e| e.kind == Kind::Page && e.freshness(cache.now_ms()) != Freshness::Dead);
    if let Some(entry) = usable {
        serve_entry(
            cache,
            request,
            response,
            &entry,
            Served::Stale,
            Some(status),
        );
        return Outcome::Failed;
    }
    if !response.headers().contains("Retry-After") {
        response.set_header(Header::new("Retry-After", "5"));
    }
    status_of(render, Rendered::Failed(status)).write_to(response);
    Outcome::Failed
}

/// Stores what the route answered when a shared cache may, and says so.
async fn store_render<'r>(
    cache: &Cache,
    request: &'r Request<'_>,
    response: &mut Response<'r>,
    render: &Render,
) -> Outcome {
    let ttl = match storability(cache, response, render.policy()) {
        Ok(ttl) => ttl,
        Err(refusal) => {
            if render.stamps().is_some() && refusal != Refusal::NegativeBudget {
                remember_uncacheable(cache, render.key()).await;
            }
            Stats::bump(&cache.stats().not_stored);
            status_of(render, Rendered::Refused(refusal)).write_to(response);
            return Outcome::Uncacheable;
        }
    };
    let Some(body) = buffer_body(response).await else {
        response.set_header(Header::new(
            "X-Cache",
            status_of(render, Rendered::Stored).label(),
        ));
        return Outcome::Failed;
    };
    if body.len() > cache.config().max_body_bytes {
        // A body of unknown size until read: put it back as it came.
        response.set_sized_body(body.len(), Cursor::new(body));
        status_of(render, Rendered::Refused(Refusal::TooLarge)).write_to(response);
        return Outcome::Uncacheable;
    }
    let mut compressed = Compressed::default();
    if let Some(coding) = coding_to_store(cache, request, response, &body) {
        if let Some(encoded) = compress(body.clone(), coding).await {
            compressed.set(coding, encoded);
        }
    }
    let entry = build_entry(cache.now_ms(), response, render, ttl, body, compressed);
    let rendered = store(cache, request, render, &entry).await;
    count(cache, rendered);
    // Served like the hits that follow: same coding, same tag for the same
    // request, so a browser's first revalidation already matches.
    let etag = write_body(cache, request, response, &entry);
    status_of(render, rendered).write_to(response);
    let browser_ttl = u64::from(entry.browser_ttl_secs).min(ttl.as_secs());
    set_validators(request, response, etag, browser_ttl);
    if rendered == Rendered::PurgedDuringRender {
        // A tag was purged while this rendered: it may show data older than the
        // purge, so requests of this process that waited for it (perhaps sent after
        // the write) must render for themselves rather than be handed it.
        return Outcome::Uncacheable;
    }
    Outcome::Stored(entry)
}

/// How long a shared cache may keep this answer, or why it must not; an error
/// page (404) also needs room in this instance's negative budget.
fn storability(
    cache: &Cache,
    response: &Response<'_>,
    policy: &Storing,
) -> Result<Duration, Refusal> {
    let config = cache.config();
    let headers = response.headers();
    let facts = ResponseFacts {
        status: response.status().code,
        cache_control: ResponseDirectives::parse(headers.get("Cache-Control")),
        has_set_cookie: headers.contains("Set-Cookie"),
        vary: headers.get("Vary").collect(),
        body_len: response.body().preset_size(),
    };
    let ttl = storable_ttl(policy, &facts, config.not_found_ttl, config.max_body_bytes)?;
    if response.status() != Status::Ok && !cache.admit_negative() {
        return Err(Refusal::NegativeBudget);
    }
    Ok(ttl)
}

/// Reads the whole body, to store it and to put it back; `None` if reading failed.
async fn buffer_body(response: &mut Response<'_>) -> Option<Bytes> {
    response.body_mut().to_bytes().await.ok().map(Bytes::from)
}

/// The one coding to store a render in besides identity: the one its
/// requester prefers, when `cache.precompress` is on and the body is text of some
/// size that the route did not encode. A client that accepts none (a crawler,
/// a load generator) costs no compression; the codings others ask for later
/// are added on their first hit ([`crate::coding_jobs`]).
fn coding_to_store(
    cache: &Cache,
    request: &Request<'_>,
    response: &Response<'_>,
    body: &Bytes,
) -> Option<Coding> {
    let headers = response.headers();
    let worth = cache.config().precompress
        && worth_compressing(
            headers.get_one("Content-Type"),
            headers.get_one("Content-Encoding"),
            body.len(),
        );
    let coding = negotiate(request.headers().get("Accept-Encoding"), |_| true);
    (worth && coding != Coding::Identity).then_some(coding)
}

/// The entry for this answer: its status, the headers worth keeping, its
/// lifetimes from the policy, its validator, its body in each stored coding.
fn build_entry(
    now: u64,
    response: &Response<'_>,
    render: &Render,
    ttl: Duration,
    body: Bytes,
    compressed: Compressed,
) -> Entry {
    let policy = render.policy();
    let negative = response.status() != Status::Ok;
    let headers = response
        .headers()
        .iter()
        .filter(|h| {
            KEPT_HEADERS
                .iter()
                .any(|kept| h.name().as_str().eq_ignore_ascii_case(kept))
        })
        .map(|h| (h.name().to_string(), h.value().to_owned()))
        .collect();
    Entry {
        kind: Kind::Page,
        status: response.status().code,
        stored_at_ms: now,
        fresh_until_ms: now + u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX / 2),
        // An error page (404) lives its lifetime and no longer: serving it stale
        // would hide a page that has since been created.
        grace_secs: if negative { 0 } else { policy.grace },
        stale_if_error_secs: if negative { 0 } else { policy.stale_if_error },
        browser_ttl_secs: policy.browser_ttl,
        render_ms: render.elapsed_ms(),
        etag: etag_of(&body),
        headers,
        body,
        compressed,
    }
}

/// Stores the entry under the route's tags and the tags of what the render
/// read, unless one of them was purged after the render began.
async fn store(cache: &Cache, request: &Request<'_>, render: &Render, entry: &Entry) -> Rendered {
    let Some(stamp) = render.stamps() else {
        return Rendered::StoreUnavailable;
    };
    let Some(read) = Reads::of(request).snapshot().tags() else {
        return Rendered::Refused(Refusal::UnboundedReads);
    };
    let mut stamp = stamp.clone();
    stamp.tags.extend(read.into_iter().map(bounded_tag));
    // An error: the store could not be used (why was logged by the handle).
    match cache.store_entry(render.key(), entry, Some(&stamp)).await {
        Ok(true) => Rendered::Stored,
        Ok(false) => Rendered::PurgedDuringRender,
        Err(_) => Rendered::StoreUnavailable,
    }
}

fn count(cache: &Cache, rendered: Rendered) {
    Stats::bump(if rendered == Rendered::Stored {
        &cache.stats().stored
    } else {
        &cache.stats().not_stored
    });
}

fn status_of(render: &Render, rendered: Rendered) -> CacheStatus {
    CacheStatus::Rendered {
        forward: render.forward(),
        rendered,
        detail: render.detail(),
        uncached: render.uncached(),
    }
}

/// Hit-for-miss: a short-lived marker so that other requests for this key go
/// straight to the route instead of waiting on a lease for nothing.
async fn remember_uncacheable(cache: &Cache, key: &str) {
    let ttl = cache.config().hit_for_miss_ttl;
    if ttl.is_zero() || !cache.admit_negative() {
        return;
    }
    let marker = Entry::hit_for_miss(cache.now_ms(), ttl);
    let _ = cache.store_entry(key, &marker, None).await;
}

/// A strong validator from the body's bytes: the first half of its SHA-256.
fn etag_of(body: &[u8]) -> String {
    format!("\"{}\"", hex::encode(&Sha256::digest(body)[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_strong_and_depend_on_every_byte() {
        let a = etag_of(b"hello");
        assert!(a.starts_with('"') && a.ends_with('"') && a.len() == 34);
        assert_ne!(a, etag_of(b"hellp"));
    }
}
