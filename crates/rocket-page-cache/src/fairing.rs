//! The Rocket fairing: look up before routing, answer hits, store after rendering.
//!
//! A fairing cannot answer a request itself, so a hit is rerouted to an internal
//! route that the fairing mounts at ignite; `on_response` then writes the stored
//! response into that route's empty answer. The verdict travels from
//! `on_request` to `on_response` in request-local state.

use std::sync::{Mutex, OnceLock};

use rocket::fairing::{self, Fairing, Info, Kind};
use rocket::http::uri::Origin;
use rocket::http::{Method, Status};
use rocket::route::{Handler, Outcome as RouteOutcome};
use rocket::{Build, Data, Orbit, Request, Response, Rocket, Route};

use super::after_render::finish_render;
use super::build_error::BuildError;
use super::cache_status::Served;
use super::clock::Clock;
use super::config::CacheConfig;
use super::decide::{verdict_for, Verdict};
use super::handle::Cache;
use super::memory_report::{describe, Loudness};
use super::policy::RoutePolicy;
use super::private::{SessionCheck, SessionChecks};
use super::respond::{mark_bypass, serve_entry, serve_not_modified};
use super::route_stats::{Outcome, RouteId};
use super::warm::{self, HotCandidate, WARMED_HEADER};

/// Where hits are rerouted. Requested directly, it is a 404.
const HIT_ROUTE: &str = "/__rocket-cache/hit";

/// The rank of the hit routes: before every rank Rocket gives a route itself
/// (-12 to -1), so that a hit is routed at the first route Rocket tries instead
/// of after every static route of the app (Rocket tries a method's routes in
/// rank order, one by one). Any other request fails its check at the first
/// segment.
const HIT_RANK: isize = -100;

/// [`HIT_ROUTE`] as a URI, parsed once, its segments decoded once: the router
/// reads them on every hit, and a clone keeps them.
fn hit_uri() -> &'static Origin<'static> {
    static URI: OnceLock<Origin<'static>> = OnceLock::new();
    URI.get_or_init(|| {
        let uri = Origin::parse(HIT_ROUTE).expect("valid internal path");
        let _ = uri.path().segments();
        uri
    })
}

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
    session_checks: SessionChecks,
    generation: Option<String>,
    clock: Clock,
}

impl PageCache {
    /// A fairing that caches the routes these policies name (the longest
    /// matching pattern wins); every other route is left alone.
    pub fn new(routes: Vec<RoutePolicy>) -> Self {
        Self {
            routes,
            private_cookies: Vec::new(),
            session_checks: SessionChecks::default(),
            generation: None,
            clock: Clock::system(),
        }
    }

    /// The app's deploy id, part of every key, so that a new deploy of the app
    /// starts on fresh keys instead of serving pages the old templates rendered
    /// (the old ones expire). Pass the app's own version:
    /// `.generation(env!("CARGO_PKG_VERSION"))`. `cache.generation` in config
    /// wins over it; without either, the engine's version is used. Checked at
    /// ignite like the config key: printable characters without `:`.
    #[must_use]
    pub fn generation(mut self, deploy_id: &str) -> Self {
        self.generation = Some(deploy_id.to_owned());
        self
    }

    /// Reads the time from `clock` instead of the system's, for every freshness,
    /// grace and age decision. Meant for tests: with a
    /// `ManualClock` (feature `test-util`) they move through a page's lifetime
    /// without sleeping. Store-side expiry (Redis TTLs) still follows real time.
    #[cfg(any(test, feature = "test-util"))]
    #[must_use]
    pub fn with_clock(mut self, clock: impl Into<Clock>) -> Self {
        self.clock = clock.into();
        self
    }

    /// A request carrying this cookie is private: it bypasses the shared cache,
    /// neither reading nor filling it. `cache.private_cookies` adds more by config.
    ///
    /// Only a value that decrypts with the app's `secret_key` counts (a Rocket
    /// private cookie, `CookieJar::add_private`): any other value is junk anyone
    /// could send, and the request is served as an anonymous one.
    #[must_use]
    pub fn private_cookie(mut self, name: &str) -> Self {
        self.private_cookies.push(name.to_owned());
        self
    }

    /// As [`private_cookie`](Self::private_cookie), and a value that decrypts
    /// counts only when `check` says it names a live session (a cookie of a
    /// session that has ended is anonymous too). See [`SessionCheck`] for what
    /// the check may do.
    #[must_use]
    pub fn session_cookie(mut self, name: &str, check: SessionCheck) -> Self {
        self.session_checks.0.push((name.to_owned(), check));
        self.private_cookie(name)
    }
}

/// What the cache decided for one request, from `on_request` to `on_response`:
/// one request-local value, so a hit pays for one.
#[derive(Default)]
struct Slot {
    /// The verdict, taken by `on_response`.
    verdict: Mutex<Option<Verdict>>,
    /// What the cache did and under which route policy, set once by
    /// `on_request` (before the URI of a hit is rewritten).
    observed: OnceLock<(Outcome, RouteId)>,
}

impl Slot {
    fn of<'r>(request: &'r Request<'_>) -> &'r Slot {
        request.local_cache(Slot::default)
    }
    fn verdict(&self) -> std::sync::MutexGuard<'_, Option<Verdict>> {
        self.verdict
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
    fn put(&self, verdict: Verdict) {
        *self.verdict() = Some(verdict);
    }
    fn take(&self) -> Option<Verdict> {
        self.verdict().take()
    }
    fn is_serve(&self) -> bool {
        self.verdict()
            .as_ref()
            .is_some_and(Verdict::answers_from_store)
    }
}

/// What the page cache did with one request, for the app's logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestOutcome<'r> {
    pub outcome: Outcome,
    /// The pattern of the route policy that applied (`/users/<id>`), never the
    /// request's own path.
    pub route: &'r str,
}

/// What the page cache did with `request`, once its `on_request` has run: `None`
/// for requests it has no policy for (and before that). A hit is answered by
/// the engine's internal route, so this, not Rocket's matched route, says which
/// of the app's routes a hit stood for.
pub fn request_outcome<'r>(request: &'r Request<'_>) -> Option<RequestOutcome<'r>> {
    let &(outcome, route) = Slot::of(request).observed.get()?;
    let cache = request.rocket().state::<Cache>()?;
    let route = cache.route_stats().label(route)?;
    Some(RequestOutcome { outcome, route })
}

fn outcome_of(verdict: &Verdict) -> Outcome {
    match verdict {
        Verdict::Bypass(_) => Outcome::Bypass,
        Verdict::Serve {
            served: Served::Stale,
            ..
        } => Outcome::Stale,
        Verdict::Serve {
            served: Served::NearHit,
            ..
        } => Outcome::NearHit,
        Verdict::Serve { .. } | Verdict::NotModified(_) => Outcome::Hit,
        Verdict::Render(_) => Outcome::Miss,
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

/// Logs what happens when the Redis behind the cache is full (see
/// `memory_report`); a store that cannot say is only mentioned. `false` when
/// the cache must not start on this Redis.
async fn report_memory_limits(cache: &Cache) -> bool {
    match cache.memory_limits().await {
        Ok(limits) => match describe(&limits) {
            Some((Loudness::Refuse, line)) => {
                rocket::error!("{line}");
                return false;
            }
            Some((Loudness::Warn, line)) => rocket::warn!("{line}"),
            Some((Loudness::Info, line)) => rocket::info!("{line}"),
            None => {}
        },
        Err(e) => rocket::info!("page cache: could not read Redis's maxmemory ({e})"),
    }
    true
}

/// `[cache]` from the figment; all defaults when the table is absent.
fn read_config(rocket: &Rocket<Build>) -> Result<CacheConfig, BuildError> {
    let figment = rocket.figment();
    if figment.find_value("cache").is_err() {
        return Ok(CacheConfig::default());
    }
    figment
        .extract_inner("cache")
        .map_err(|e| BuildError::Read(Box::new(e)))
}

#[rocket::async_trait]
impl Fairing for PageCache {
    fn info(&self) -> Info {
        Info {
            name: "Page cache",
            kind: Kind::Ignite | Kind::Liftoff | Kind::Request | Kind::Response | Kind::Shutdown,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> fairing::Result {
        let config = read_config(&rocket).map(|mut config| {
            config
                .private_cookies
                .extend(self.private_cookies.iter().cloned());
            if config.generation.is_empty() {
                config.generation = self.generation.clone().unwrap_or_default();
            }
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
            cache.config().default_ttl.as_secs()
        );
        cache.warm_up().await;
        if !report_memory_limits(&cache).await {
            return Err(rocket);
        }
        cache.start_near_link();
        cache.start_index_sweep();
        let hit = Route::ranked(HIT_RANK, Method::Get, HIT_ROUTE, HitRoute);
        // HEAD hits get a route of their own: Rocket would find none, log "No
        // matching routes for HEAD" on every hit, and only then fall back to GET.
        let head_hit = Route::ranked(HIT_RANK, Method::Head, HIT_ROUTE, HitRoute);
        Ok(rocket
            .manage(cache)
            .manage(self.session_checks.clone())
            .mount("/", vec![hit, head_hit]))
    }

    /// Warm start (see `warm`): decided here, before the first request is
    /// answered, so `/health/ready` never says ready before it says warming.
    async fn on_liftoff(&self, rocket: &Rocket<Orbit>) {
        if let Some(cache) = rocket.state::<Cache>() {
            warm::start::begin(cache, warm::start::own_listener(rocket)).await;
        }
    }

    async fn on_shutdown(&self, rocket: &Rocket<rocket::Orbit>) {
        if let Some(cache) = rocket.state::<Cache>() {
            cache.stop_near_link();
            cache.stop_index_sweep();
        }
    }

    async fn on_request(&self, request: &mut Request<'_>, _: &mut Data<'_>) {
        let Some(cache) = request.rocket().state::<Cache>().cloned() else {
            return;
        };
        let Some((route, verdict)) = verdict_for(&cache, request).await else {
            return;
        };
        let slot = Slot::of(request);
        let _ = slot.observed.set((outcome_of(&verdict), route));
        let rerouted = verdict.answers_from_store();
        slot.put(verdict);
        if rerouted {
            request.set_uri(hit_uri().clone());
        }
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        let Some(verdict) = Slot::of(request).take() else {
            return;
        };
        let Some(cache) = request.rocket().state::<Cache>() else {
            return;
        };
        let warm_request = cache.is_warm_request(request);
        let may_count = !warm_request && !matches!(verdict, Verdict::Bypass(_));
        answer(cache, request, response, verdict).await;
        // A page served or rendered (its status known only now), counted for
        // the hot list when sampled; never the warm start's own requests.
        if may_count && matches!(response.status().code, 200 | 304) {
            if let HotCandidate(Some(key)) = request.local_cache(HotCandidate::default) {
                cache.note_hot(key);
            }
        }
        // After the page was stored: the mark is for the warmer, not the entry.
        if warm_request {
            response.set_raw_header(WARMED_HEADER, "1");
        }
    }
}

/// Writes the verdict into the response: a stored page, or what a render owes.
async fn answer<'r>(
    cache: &Cache,
    request: &'r Request<'_>,
    response: &mut Response<'r>,
    verdict: Verdict,
) {
    if let Some(&(outcome, route)) = Slot::of(request).observed.get() {
        cache.count_request(route, outcome);
        if let Verdict::Render(render) = &verdict {
            cache.route_stats().record_render(route, render.elapsed());
        }
    }
    match verdict {
        Verdict::Bypass(reason) => mark_bypass(response, reason),
        Verdict::Serve { entry, served } => {
            serve_entry(cache, request, response, &entry, served, None);
        }
        Verdict::NotModified(head) => serve_not_modified(cache, request, response, &head),
        Verdict::Render(render) => finish_render(cache, request, response, *render).await,
    }
}
