//! Freshness, grace and stale-if-error, walked through with a manual clock: each
//! window is entered by moving the clock, never by sleeping. The memory backend
//! keeps these tests free of any service; what they check is the engine's
//! reading of time, which is the same whatever the store.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use rocket::http::uri::Host;
use rocket::http::Status;
use rocket::local::asynchronous::{Client, LocalRequest};
use rocket::State;

use crate::cache_status::{Forward, Served};
use crate::clock::ManualClock;
use crate::decide::{verdict_for, Verdict};
use crate::flight::Outcome;
use crate::{Cache, PageCache, RoutePolicy};

const TTL_MS: u64 = 10_000;
const GRACE_MS: u64 = 20_000;
const STALE_IF_ERROR_MS: u64 = 60_000;

/// How many times the route ran, and whether it fails now.
#[derive(Default)]
struct Route {
    renders: AtomicUsize,
    failing: AtomicBool,
}

#[rocket::get("/page")]
fn page(route: &State<Route>) -> Result<String, Status> {
    if route.failing.load(Ordering::SeqCst) {
        return Err(Status::InternalServerError);
    }
    let n = route.renders.fetch_add(1, Ordering::SeqCst) + 1;
    Ok(format!("render {n}"))
}

struct Harness {
    client: Client,
    clock: ManualClock,
}

struct Reply {
    status: Status,
    x_cache: String,
    cache_status: String,
    age: Option<String>,
    body: String,
}

impl Harness {
    async fn start() -> Self {
        let clock = ManualClock::starting_now();
        let figment = rocket::Config::figment()
            .merge(("log_level", "off"))
            .merge(("cache.backend", "memory"))
            .merge(("cache.early_refresh_beta", 0.0))
            .merge(("cache.grace", GRACE_MS / 1000))
            .merge(("cache.stale_if_error", STALE_IF_ERROR_MS / 1000));
        let rocket = rocket::custom(figment)
            .manage(Route::default())
            .mount("/", rocket::routes![page])
            .attach(
                PageCache::new(vec![RoutePolicy::new("/page").ttl(TTL_MS / 1000)])
                    .with_clock(clock.clone()),
            );
        let client = Client::tracked(rocket).await.expect("rocket ignites");
        Self { client, clock }
    }

    fn request(&self) -> LocalRequest<'_> {
        let mut request = self.client.get("/page");
        request
            .inner_mut()
            .set_host(Host::parse("localhost").expect("a host"));
        request
    }

    async fn get(&self) -> Reply {
        let response = self.request().dispatch().await;
        let header = |name: &str| response.headers().get_one(name).map(str::to_owned);
        Reply {
            status: response.status(),
            x_cache: header("X-Cache").unwrap_or_default(),
            cache_status: header("Cache-Status").unwrap_or_default(),
            age: header("Age"),
            body: response.into_string().await.unwrap_or_default(),
        }
    }

    fn cache(&self) -> &Cache {
        self.client.rocket().state::<Cache>().expect("managed")
    }

    fn renders(&self) -> usize {
        let route = self.client.rocket().state::<Route>().expect("managed");
        route.renders.load(Ordering::SeqCst)
    }

    fn fail_renders(&self) {
        let route = self.client.rocket().state::<Route>().expect("managed");
        route.failing.store(true, Ordering::SeqCst);
    }

    fn advance_ms(&self, ms: u64) {
        self.clock.advance(Duration::from_millis(ms));
    }

    /// What `decide` says of the next request, without running the route.
    async fn verdict(&self) -> Verdict {
        let request = self.request();
        verdict_for(self.cache(), request.inner())
            .await
            .expect("a cacheable request")
            .1
    }

    /// Ends a verdict the way the fairing would after a failed render: frees its
    /// lease and tells its waiters.
    async fn abandon(&self, verdict: Verdict) {
        if let Verdict::Render(render) = verdict {
            render.finish(self.cache(), Outcome::Failed).await;
        }
    }

    /// A first request that renders and stores the page, at the clock's now.
    async fn stored_page() -> Self {
        let harness = Self::start().await;
        let first = harness.get().await;
        assert_eq!(first.body, "render 1");
        assert!(
            first.cache_status.contains("stored"),
            "{}",
            first.cache_status
        );
        harness
    }
}

/// A short name of what a verdict does, to compare in asserts.
fn describe(verdict: &Verdict) -> &'static str {
    match verdict {
        Verdict::Bypass(_) => "bypass",
        Verdict::Serve {
            served: Served::Hit,
            ..
        } => "hit",
        Verdict::Serve {
            served: Served::NearHit,
            ..
        } => "near hit",
        Verdict::Serve {
            served: Served::Collapsed,
            ..
        } => "collapsed",
        Verdict::Serve {
            served: Served::Stale,
            ..
        } => "stale",
        Verdict::Render(render) if render.has_fallback() => "render, stale copy on error",
        Verdict::Render(_) => "render",
        Verdict::NotModified(_) => "not modified",
    }
}

#[rocket::async_test]
async fn an_entry_is_a_hit_until_its_ttl_with_its_age_by_the_clock() {
    let harness = Harness::stored_page().await;

    harness.advance_ms(TTL_MS - 1);
    let hit = harness.get().await;
    assert_eq!(hit.x_cache, "HIT");
    assert_eq!(hit.body, "render 1");
    assert_eq!(hit.age.as_deref(), Some("9"), "Age follows the clock");
    assert!(hit.cache_status.contains("ttl=0"), "{}", hit.cache_status);

    harness.advance_ms(1);
    let at_ttl = harness.get().await;
    assert_eq!(at_ttl.body, "render 2", "at its ttl it is no longer a hit");
    assert!(
        at_ttl.cache_status.contains("fwd=stale"),
        "{}",
        at_ttl.cache_status
    );
    assert_eq!(harness.renders(), 2);
}

#[rocket::async_test]
async fn within_grace_a_stale_entry_is_served_while_one_request_refreshes_it() {
    let harness = Harness::stored_page().await;

    harness.advance_ms(TTL_MS + GRACE_MS - 1);
    let refresher = harness.verdict().await;
    assert_eq!(describe(&refresher), "render, stale copy on error");
    let Verdict::Render(render) = &refresher else {
        unreachable!()
    };
    assert_eq!(
        render.forward(),
        Forward::Stale,
        "the refresh of a stale entry"
    );
    assert!(render.has_lease(), "it holds the cluster's lease");
    assert_eq!(
        describe(&harness.verdict().await),
        "stale",
        "the others are served the stale copy without waiting"
    );
    harness.abandon(refresher).await;
    assert_eq!(harness.renders(), 1);
}

#[rocket::async_test]
async fn past_grace_a_stale_entry_only_answers_for_a_failed_render() {
    let harness = Harness::stored_page().await;

    harness.advance_ms(TTL_MS + GRACE_MS);
    let miss = harness.verdict().await;
    assert_eq!(
        describe(&miss),
        "render, stale copy on error",
        "past grace the request renders (a miss), keeping the copy for errors"
    );
    harness.abandon(miss).await;
    harness.fail_renders();
    let failed = harness.get().await;
    assert_eq!(failed.status, Status::Ok);
    assert_eq!(failed.x_cache, "STALE");
    assert_eq!(failed.body, "render 1");
    assert!(
        failed.cache_status.contains("detail=stale-if-error"),
        "{}",
        failed.cache_status
    );
}

#[rocket::async_test]
async fn past_stale_if_error_an_entry_is_dead_and_a_failure_shows() {
    let harness = Harness::stored_page().await;

    harness.advance_ms(TTL_MS + STALE_IF_ERROR_MS);
    let miss = harness.verdict().await;
    assert_eq!(describe(&miss), "render", "nothing to fall back on");
    harness.abandon(miss).await;
    harness.fail_renders();
    let failed = harness.get().await;
    assert_eq!(failed.status, Status::InternalServerError);
    assert!(
        failed.cache_status.contains("detail=error"),
        "{}",
        failed.cache_status
    );
    assert_eq!(harness.renders(), 1);
}
