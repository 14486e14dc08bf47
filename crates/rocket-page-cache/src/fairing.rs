//! The Rocket fairing: look up before routing, answer hits, store after rendering.
//!
//! A fairing cannot answer a request itself, so a hit is rerouted to an internal
//! route that the fairing mounts at ignite; `on_response` then writes the stored
//! response into that route's empty answer. The verdict travels from
//! `on_request` to `on_response` in request-local state.

use std::fmt::Write;
use std::io::Cursor;
use std::sync::Mutex;
use std::time::Duration;

use rocket::fairing::{self, Fairing, Info, Kind};
use rocket::http::uri::Origin;
use rocket::http::{Header, Method, Status};
use rocket::route::{Handler, Outcome as RouteOutcome};
use rocket::{Build, Data, Request, Response, Rocket, Route};
use sha2::{Digest, Sha256};

use super::clock::Clock;
use super::config::CacheConfig;
use super::decide::{decide, Render, Served, Verdict};
use super::entry::{Entry, Freshness, Kind as EntryKind};
use super::flight::Outcome;
use super::handle::Cache;
use super::policy::{storable_ttl, Refusal, ResponseDirectives, ResponseFacts, RoutePolicy};
use super::stats::Stats;

/// Where hits are rerouted. Requested directly, it is a 404.
const HIT_ROUTE: &str = "/__rocket-cache/hit";

/// Response headers worth keeping in an entry; the rest (dates, cookies, framing,
/// security headers that Rocket adds anyway) is not stored.
const KEPT_HEADERS: &[&str] = &[
    "content-type",
    "content-language",
    "content-disposition",
    "content-location",
    "last-modified",
    "link",
    "vary",
];

/// The page cache fairing. Give it the cache policies of the app's routes, and
/// the names of the cookies that make a request private (a login session).
///
/// ```no_run
/// use rocket_page_cache::{PageCache, RoutePolicy};
/// let rocket = rocket::build().attach(
///     PageCache::new(vec![RoutePolicy::new("/").ttl(50)]).private_cookie("session"),
/// );
/// ```
pub struct PageCache {
    routes: Vec<RoutePolicy>,
    private_cookies: Vec<String>,
    clock: Clock,
}

impl PageCache {
    pub fn new(routes: Vec<RoutePolicy>) -> Self {
        Self {
            routes,
            private_cookies: Vec::new(),
            clock: Clock::system(),
        }
    }

    /// Reads the time from `clock` instead of the system's, for every freshness,
    /// grace and age decision. Meant for tests: with a
    /// [`ManualClock`](crate::ManualClock) they move through a page's lifetime
    /// without sleeping. Store-side expiry (Redis TTLs) still follows real time.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Into<Clock>) -> Self {
        self.clock = clock.into();
        self
    }

    /// A request carrying this cookie is private: it bypasses the shared cache,
    /// neither reading nor filling it. `cache.private_cookies` adds more by config.
    #[must_use]
    pub fn private_cookie(mut self, name: &str) -> Self {
        self.private_cookies.push(name.to_owned());
        self
    }
}

/// The verdict of one request, from `on_request` to `on_response`.
#[derive(Default)]
struct Slot(Mutex<Option<Verdict>>);

impl Slot {
    fn of<'r>(request: &'r Request<'_>) -> &'r Slot {
        request.local_cache(Slot::default)
    }
    fn put(&self, verdict: Verdict) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(verdict);
    }
    fn take(&self) -> Option<Verdict> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
    fn is_serve(&self) -> bool {
        matches!(
            *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            Some(Verdict::Serve { .. })
        )
    }
}

/// The internal route hits are rerouted to: answers empty, `on_response` fills in.
#[derive(Clone)]
struct HitRoute;

#[rocket::async_trait]
impl Handler for HitRoute {
    async fn handle<'r>(&self, request: &'r Request<'_>, data: Data<'r>) -> RouteOutcome<'r> {
        if Slot::of(request).is_serve() {
            RouteOutcome::from(request, ())
        } else {
            RouteOutcome::forward(data, Status::NotFound)
        }
    }
}

/// `[cache]` from the figment; all defaults when the table is absent.
fn read_config(rocket: &Rocket<Build>) -> Result<CacheConfig, String> {
    let figment = rocket.figment();
    if figment.find_value("cache").is_err() {
        return Ok(CacheConfig::default());
    }
    figment.extract_inner("cache").map_err(|e| e.to_string())
}

#[rocket::async_trait]
impl Fairing for PageCache {
    fn info(&self) -> Info {
        Info {
            name: "Page cache",
            kind: Kind::Ignite | Kind::Request | Kind::Response,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> fairing::Result {
        let config = read_config(&rocket).map(|mut config| {
            config
                .private_cookies
                .extend(self.private_cookies.iter().cloned());
            config
        });
        let built =
            config.and_then(|c| Cache::with_clock(c, self.routes.clone(), self.clock.clone()));
        let cache = match built {
            Ok(cache) => cache,
            Err(e) => {
                rocket::error!("configuration: {e}");
                return Err(rocket);
            }
        };
        rocket::info!(
            "page cache: backend {:?}, namespace {:?}, default ttl {}s",
            cache.config().backend,
            cache.config().namespace,
            cache.config().default_ttl
        );
        cache.warm_up().await;
        let hit = Route::new(Method::Get, HIT_ROUTE, HitRoute);
        // HEAD hits get a route of their own: Rocket would find none, log "No
        // matching routes for HEAD" on every hit, and only then fall back to GET.
        let head_hit = Route::new(Method::Head, HIT_ROUTE, HitRoute);
        Ok(rocket.manage(cache).mount("/", vec![hit, head_hit]))
    }

    async fn on_request(&self, request: &mut Request<'_>, _: &mut Data<'_>) {
        let Some(cache) = request.rocket().state::<Cache>().cloned() else {
            return;
        };
        let Some(verdict) = decide(&cache, request).await else {
            return;
        };
        if matches!(verdict, Verdict::Serve { .. }) {
            request.set_uri(Origin::parse(HIT_ROUTE).expect("valid internal path"));
        }
        Slot::of(request).put(verdict);
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        let Some(verdict) = Slot::of(request).take() else {
            return;
        };
        let Some(cache) = request.rocket().state::<Cache>() else {
            return;
        };
        match verdict {
            Verdict::Bypass(reason) => {
                Stats::bump(&cache.stats().bypasses);
                mark_bypass(response, reason);
            }
            Verdict::Serve { entry, served } => {
                let counter = match served {
                    Served::Hit | Served::Collapsed => &cache.stats().hits,
                    Served::Stale => &cache.stats().stale,
                };
                Stats::bump(counter);
                serve_entry(cache, request, response, &entry, served, None);
            }
            Verdict::Render(render) => finish_render(cache, request, response, *render).await,
        }
    }
}

fn mark_bypass(response: &mut Response<'_>, reason: &'static str) {
    response.set_header(Header::new("X-Cache", "BYPASS"));
    response.set_header(Header::new(
        "Cache-Status",
        format!("rocket-cache; fwd=bypass; detail={reason}"),
    ));
    let private = matches!(reason, "authorization" | "private-cookie");
    if private && !response.headers().contains("Cache-Control") {
        response.set_header(Header::new("Cache-Control", "private"));
    }
}

/// Writes a stored response, with what happened, into `response`.
fn serve_entry(
    cache: &Cache,
    request: &Request<'_>,
    response: &mut Response<'_>,
    entry: &Entry,
    served: Served,
    forward_status: Option<u16>,
) {
    let now = cache.now_ms();
    let ttl = entry.ttl_secs(now);
    response.set_status(Status::new(entry.status));
    for (name, value) in &entry.headers {
        response.set_raw_header(name.clone(), value.clone());
    }
    response.set_sized_body(entry.body.len(), Cursor::new(entry.body.clone()));
    let (label, status) = match served {
        Served::Hit => ("HIT", format!("rocket-cache; hit; ttl={ttl}")),
        Served::Collapsed => ("HIT", format!("rocket-cache; hit; ttl={ttl}; collapsed")),
        Served::Stale => {
            let mut status = format!("rocket-cache; hit; fwd=stale; ttl={ttl}");
            if let Some(code) = forward_status {
                let _ = write!(status, "; fwd-status={code}; detail=stale-if-error");
            }
            ("STALE", status)
        }
    };
    response.set_header(Header::new("X-Cache", label));
    response.set_header(Header::new("Cache-Status", status));
    response.set_header(Header::new("Age", entry.age_secs(now).to_string()));
    let browser_ttl = u64::from(entry.browser_ttl_secs).min(u64::try_from(ttl).unwrap_or(0));
    set_validators(request, response, &entry.etag, browser_ttl);
}

/// `ETag` and `Cache-Control` for a shareable response, and 304 when the client
/// already holds it.
fn set_validators(
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

/// A strong validator from the body's bytes.
fn etag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let mut etag = String::with_capacity(34);
    etag.push('"');
    for byte in &digest[..16] {
        let _ = write!(etag, "{byte:02x}");
    }
    etag.push('"');
    etag
}

/// After the route: serve a stored copy if it failed, else store what it answered
/// when a shared cache may, tell the waiters, free the lease.
async fn finish_render<'r>(
    cache: &Cache,
    request: &'r Request<'_>,
    response: &mut Response<'r>,
    mut render: Render,
) {
    Stats::bump(&cache.stats().misses);
    let status = response.status().code;
    let outcome = if status >= 500 {
        fail_render(cache, request, response, &mut render)
    } else {
        store_render(cache, request, response, &mut render).await
    };
    if let Some(leader) = render.leader.take() {
        leader.finish(outcome);
    }
    if let Some(lease) = render.lease.take() {
        lease.release(cache).await;
    }
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
        .fallback
        .take()
        .filter(|e| e.kind == EntryKind::Page && e.freshness(cache.now_ms()) != Freshness::Dead);
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
    response.set_header(Header::new(
        "X-Cache",
        if render.uncached() { "BYPASS" } else { "MISS" },
    ));
    response.set_header(Header::new(
        "Cache-Status",
        format!(
            "rocket-cache; fwd={}; fwd-status={status}; detail=error",
            render.forward
        ),
    ));
    Outcome::Failed
}

async fn store_render<'r>(
    cache: &Cache,
    request: &'r Request<'_>,
    response: &mut Response<'r>,
    render: &mut Render,
) -> Outcome {
    let config = cache.config();
    let decision = {
        let headers = response.headers();
        let facts = ResponseFacts {
            status: response.status().code,
            cache_control: ResponseDirectives::parse(headers.get("Cache-Control")),
            has_set_cookie: headers.contains("Set-Cookie"),
            vary: headers.get("Vary").collect(),
            body_len: response.body().preset_size(),
        };
        storable_ttl(
            &render.policy,
            &facts,
            config.not_found_ttl,
            config.max_body_bytes,
        )
    };
    let negative = response.status() != Status::Ok;
    let decision = decision.and_then(|ttl| {
        if negative && !cache.admit_negative() {
            Err(Refusal::NegativeBudget)
        } else {
            Ok(ttl)
        }
    });
    let label = if render.uncached() { "BYPASS" } else { "MISS" };
    let ttl = match decision {
        Ok(ttl) => ttl,
        Err(refusal) => {
            if render.stamps.is_some() && refusal != Refusal::NegativeBudget {
                remember_uncacheable(cache, &render.key).await;
            }
            Stats::bump(&cache.stats().not_stored);
            response.set_header(Header::new("X-Cache", label));
            response.set_header(Header::new(
                "Cache-Status",
                format!(
                    "rocket-cache; fwd={}; detail={}",
                    render.forward,
                    refusal.detail()
                ),
            ));
            return Outcome::Uncacheable;
        }
    };
    let Ok(body) = response.body_mut().to_bytes().await else {
        response.set_header(Header::new("X-Cache", label));
        return Outcome::Failed;
    };
    let body = bytes::Bytes::from(body);
    if body.len() > config.max_body_bytes {
        response.set_sized_body(body.len(), Cursor::new(body));
        response.set_header(Header::new("X-Cache", label));
        response.set_header(Header::new(
            "Cache-Status",
            format!("rocket-cache; fwd={}; detail=too-large", render.forward),
        ));
        return Outcome::Uncacheable;
    }
    let render_ms = u32::try_from(render.started.elapsed().as_millis()).unwrap_or(u32::MAX);
    let entry = build_entry(
        cache.now_ms(),
        response,
        &render.policy,
        ttl,
        render_ms,
        body,
    );
    // `None`: the store could not be used (why was logged by the handle).
    let stored = match &render.stamps {
        Some(stamps) => cache.store_entry(&render.key, &entry, stamps).await.ok(),
        None => None,
    };
    Stats::bump(if stored == Some(true) {
        &cache.stats().stored
    } else {
        &cache.stats().not_stored
    });
    let mut status = format!("rocket-cache; fwd={}", render.forward);
    match stored {
        Some(true) => status.push_str("; stored"),
        Some(false) => status.push_str("; detail=purged-during-render"),
        None => status.push_str("; detail=store-unavailable"),
    }
    if let Some(detail) = render.detail {
        let _ = write!(status, "; detail={detail}");
    }
    response.set_sized_body(entry.body.len(), Cursor::new(entry.body.clone()));
    response.set_header(Header::new("X-Cache", label));
    response.set_header(Header::new("Cache-Status", status));
    let browser_ttl = u64::from(entry.browser_ttl_secs).min(ttl.as_secs());
    set_validators(request, response, &entry.etag, browser_ttl);
    if stored == Some(false) {
        // A tag was purged while this rendered: it may show data older than the
        // purge, so requests of this process that waited for it (perhaps sent after
        // the write) must render for themselves rather than be handed it.
        return Outcome::Uncacheable;
    }
    Outcome::Stored(entry)
}

/// Hit-for-miss: a short-lived marker so that other requests for this key go
/// straight to the route instead of waiting on a lease for nothing.
async fn remember_uncacheable(cache: &Cache, key: &str) {
    let ttl_ms = cache.config().hit_for_miss_ttl * 1000;
    if ttl_ms == 0 || !cache.admit_negative() {
        return;
    }
    let marker = Entry::hit_for_miss(cache.now_ms(), ttl_ms);
    let _ = cache.store_entry(key, &marker, &[]).await;
}

fn build_entry(
    now: u64,
    response: &Response<'_>,
    policy: &super::policy::Resolved,
    ttl: Duration,
    render_ms: u32,
    body: bytes::Bytes,
) -> Entry {
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
        kind: EntryKind::Page,
        status: response.status().code,
        stored_at_ms: now,
        fresh_until_ms: now + u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX / 2),
        // An error page (404) lives its lifetime and no longer: serving it stale
        // would hide a page that has since been created.
        grace_secs: if negative { 0 } else { policy.grace },
        stale_if_error_secs: if negative { 0 } else { policy.stale_if_error },
        browser_ttl_secs: policy.browser_ttl,
        render_ms,
        etag: etag_of(&body),
        headers,
        body,
    }
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

    #[test]
    fn etags_are_strong_and_depend_on_every_byte() {
        let a = etag_of(b"hello");
        assert!(a.starts_with('"') && a.ends_with('"') && a.len() == 34);
        assert_ne!(a, etag_of(b"hellp"));
    }
}
