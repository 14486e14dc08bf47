//! Past its lifetime a page is served stale within grace while one request
//! refreshes it, and within stale_if_error when the route fails.
//!
//! The engine reads the time from a manual clock, which these tests move past a
//! page's lifetime instead of sleeping through it (the store keeps the page for
//! its whole grace or stale_if_error window in real time, so it is still
//! there). Part of the shared-store suite.

use std::time::Duration;

use rocket_page_cache::ManualClock;
use serde_json::json;

use crate::support::app::{Reply, TestApp};
use crate::support::shared::Shared;

crate::on_every_store!(
    a_stale_page_is_served_within_grace_while_one_request_refreshes_it,
    a_stale_page_answers_when_the_route_fails,
);

/// Past the one-second lifetime of the pages below.
const PAST_LIFETIME: Duration = Duration::from_millis(1_100);

/// A manual clock starting now, and an app on `store` reading it.
async fn app_on_clock(store: Shared, rules: serde_json::Value) -> (TestApp, ManualClock) {
    let clock = ManualClock::starting_now();
    (store.app_with_clock(rules, &clock).await, clock)
}

/// A request that must not wait for a render.
async fn prompt(app: &TestApp, path: &str) -> Reply {
    tokio::time::timeout(Duration::from_secs(5), app.get(path))
        .await
        .expect("answered without waiting for the refresh")
}

async fn a_stale_page_is_served_within_grace_while_one_request_refreshes_it(store: Shared) {
    let rules = json!({ "rules": [{ "path": "/gated/<id>", "ttl": 1, "grace": 60 }] });
    let (app, clock) = app_on_clock(store, rules).await;
    let gate = &app.backend.gate;
    gate.release(1);
    assert_eq!(app.get("/gated/stale").await.x_cache(), "MISS");
    gate.entered().await;
    clock.advance(PAST_LIFETIME);

    let refresh = app.get("/gated/stale");
    let others = async {
        gate.entered().await; // the refresh is rendering, held at the gate
        let first = prompt(&app, "/gated/stale").await;
        let second = prompt(&app, "/gated/stale").await;
        gate.release(1);
        (first, second)
    };
    let (refreshed, (first, second)) = tokio::join!(refresh, others);
    for stale in [&first, &second] {
        assert_eq!(stale.x_cache(), "STALE", "{stale:?}");
        assert_eq!(stale.body, "/gated/stale render 1");
    }
    assert_eq!(refreshed.body, "/gated/stale render 2");
    assert_eq!(app.backend.renders("/gated/stale"), 2, "one refresh");

    let fresh = app.get("/gated/stale").await;
    assert_eq!(
        (fresh.x_cache(), fresh.body.as_str()),
        ("HIT", "/gated/stale render 2")
    );
}

async fn a_stale_page_answers_when_the_route_fails(store: Shared) {
    let rules = json!({ "rules": [{
        "path": "/flaky", "ttl": 1, "grace": 0, "stale_if_error": 600
    }] });
    let (app, clock) = app_on_clock(store, rules).await;
    assert_eq!(app.get("/flaky").await.x_cache(), "MISS");
    clock.advance(PAST_LIFETIME);

    app.backend.set_failing(true);
    let reply = app.get("/flaky").await;
    assert_eq!((reply.status, reply.x_cache()), (200, "STALE"), "{reply:?}");
    assert_eq!(reply.body, "/flaky render 1");
    assert!(reply.cache_status().contains("fwd-status=500"), "{reply:?}");
    assert_eq!(app.backend.renders("/flaky"), 2, "the route was tried");
}
