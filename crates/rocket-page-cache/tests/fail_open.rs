//! Fail-open: with Redis gone or frozen, pages are still answered, rendered each
//! time, within the cache's time budget; when Redis is back, so is the cache.

use std::time::{Duration, Instant};

use serde_json::json;
use test_support::{eventually, OwnRedis};

use crate::support::app::{Reply, TestApp};
use crate::support::routes::Backend;
use crate::support::Namespace;

/// The default `op_timeout_ms`, the budget under test.
const OP_TIMEOUT_MS: u64 = 50;

/// Slack over the budget for rendering and scheduling on a loaded machine.
const SLACK: Duration = Duration::from_millis(750);

/// An instance on `redis` without a near cache: these tests are about the store
/// path (`near.rs` has the near cache's own link-loss tests).
async fn start_on(redis: &OwnRedis) -> TestApp {
    let config = json!({ "op_timeout_ms": OP_TIMEOUT_MS, "near_max_bytes": 0 });
    let backend = std::sync::Arc::new(Backend::default());
    TestApp::start_on(
        &redis.url,
        &Namespace::throwaway(&redis.url),
        &backend,
        config,
    )
    .await
}

/// A request that must be answered within the budget plus slack; a hang fails
/// the test instead of blocking it.
async fn timed_get(app: &TestApp, path: &str) -> Reply {
    let limit = Duration::from_millis(OP_TIMEOUT_MS) + SLACK;
    let started = Instant::now();
    let reply = tokio::time::timeout(Duration::from_secs(10), app.get(path))
        .await
        .expect("answered at all");
    let took = started.elapsed();
    assert!(took < limit, "{path} took {took:?}, over {limit:?}");
    reply
}

/// Three requests for a page that was a hit: each answered, each rendered.
async fn assert_served_uncached(app: &TestApp, path: &str) {
    let before = app.backend.renders(path);
    for n in 1..=3 {
        let reply = timed_get(app, path).await;
        assert_eq!(
            (reply.status, reply.x_cache()),
            (200, "BYPASS"),
            "{reply:?}"
        );
        assert_eq!(app.backend.renders(path), before + n, "rendered each time");
    }
}

#[tokio::test]
async fn pages_are_served_uncached_while_redis_is_unreachable() {
    let mut redis = OwnRedis::start().await;
    let app = start_on(&redis).await;
    assert_eq!(app.get("/plain/down").await.x_cache(), "MISS");
    assert_eq!(app.get("/plain/down").await.x_cache(), "HIT");

    redis.kill();
    assert_served_uncached(&app, "/plain/down").await;
    let health = app.cache().health().await;
    assert_eq!(health.status, "degraded", "{health:?}");
}

#[tokio::test]
async fn pages_are_served_within_the_budget_while_redis_hangs_then_cached_again() {
    let redis = OwnRedis::start().await;
    let app = start_on(&redis).await;
    assert_eq!(app.get("/plain/frozen").await.x_cache(), "MISS");
    assert_eq!(app.get("/plain/frozen").await.x_cache(), "HIT");

    redis.freeze(); // the pool's connections stay open; nothing answers
    assert_served_uncached(&app, "/plain/frozen").await;
    let fresh = timed_get(&app, "/plain/new").await;
    assert_eq!((fresh.status, fresh.x_cache()), (200, "BYPASS"));

    redis.thaw();
    eventually(
        Duration::from_secs(30),
        "the cache serves hits again",
        || async { (app.get("/plain/frozen").await.x_cache() == "HIT").then_some(()) },
    )
    .await;
}

/// Warm start's sampled visits are written once a second, one count per page;
/// with Redis frozen that write gives up at its first timeout instead of
/// waiting out one per page, second after second.
#[tokio::test]
async fn with_redis_frozen_the_hot_page_counts_cost_one_timeout_per_write() {
    let redis = OwnRedis::start().await;
    let config = json!({
        "op_timeout_ms": OP_TIMEOUT_MS,
        "near_max_bytes": 0,
        "warm": { "sample_every": 1 },
    });
    let app = TestApp::start_on(
        &redis.url,
        &Namespace::throwaway(&redis.url),
        &std::sync::Arc::new(Backend::default()),
        config,
    )
    .await;
    assert_eq!(app.get("/plain/first").await.x_cache(), "MISS");

    redis.freeze();
    for page in 0..40 {
        let reply = timed_get(&app, &format!("/plain/hot/{page}")).await;
        assert_eq!(reply.status, 200);
    }
    let before = app.cache().stats_snapshot().errors;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let errors = app.cache().stats_snapshot().errors - before;
    assert!(
        errors <= 3,
        "{errors} store errors in 2.5 s without a request: one per waiting page"
    );
    redis.thaw();
}
