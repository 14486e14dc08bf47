//! The probes: liveness, readiness with `MySQL` and Redis, and the cache going away.

use std::time::{Duration, Instant};

use test_support::free_port;

use crate::support::proxy::silent_listener;
use crate::support::{AppBuilder, TestApp};

#[rocket::async_test]
async fn liveness_answers_200_and_is_never_stored() {
    let app = TestApp::spawn().await;
    let reply = app.fetch("/health/live").await;
    assert_eq!(reply.status, 200);
    assert!(reply.is_json());
    assert_eq!(reply.json(), serde_json::json!({ "status": "up" }));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
}

#[rocket::async_test]
async fn readiness_reports_the_database_and_the_cache_up() {
    let app = TestApp::spawn().await;
    let reply = app.fetch("/health/ready").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.is_json());
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    // Up or down only: what stands behind them is the admin's to see.
    assert_eq!(
        reply.json(),
        serde_json::json!({
            "status": "ready",
            "database": { "status": "up" },
            "cache": { "status": "up" },
        })
    );
}

#[rocket::async_test]
async fn with_the_cache_backend_off_readiness_reports_it_disabled() {
    let app = AppBuilder::new()
        .with("cache.backend", "none")
        .start()
        .await;
    let (status, body) = app.get_json("/health/ready").await;
    assert_eq!(status, 200);
    assert_eq!(body["cache"], serde_json::json!({ "status": "disabled" }));
}

#[rocket::async_test]
async fn with_redis_unreachable_the_app_starts_serves_pages_and_stays_ready() {
    let url = format!("redis://127.0.0.1:{}/", free_port());
    let app = AppBuilder::new().with("cache.url", url).start().await;

    let (status, body) = app.get_text("/").await;
    assert_eq!(status, 200);
    assert!(body.contains("Soumitra"));
    let (status, _) = app.get_text("/users/1").await;
    assert_eq!(status, 200);
    let (status, _) = app.get_text("/api/users").await;
    assert_eq!(status, 200);

    let reply = app.fetch("/health/ready").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = reply.json();
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(body["database"]["status"], "up", "{body}");
    // The reason (Redis's "connection refused") is logged, not shown.
    assert_eq!(body["cache"], serde_json::json!({ "status": "degraded" }));
}

#[rocket::async_test]
async fn with_redis_hung_readiness_answers_within_the_cache_budget_and_stays_ready() {
    let (addr, _listener) = silent_listener().await;
    let app = AppBuilder::new()
        .with("cache.url", format!("redis://{addr}/"))
        .with("cache.op_timeout_ms", 50)
        .start()
        .await;
    // The production budget, which the test harness otherwise loosens.
    assert_eq!(
        app.cache().config().op_timeout,
        std::time::Duration::from_millis(50)
    );

    let (status, _) = app.get_text("/").await;
    assert_eq!(status, 200);

    // A second is a generous margin over 50 ms that a probe waiting on the hung
    // server (or on a connect timeout) would miss.
    for _ in 0..3 {
        let started = Instant::now();
        let reply = app.fetch("/health/ready").await;
        let took = started.elapsed();
        assert!(took < Duration::from_secs(1), "readiness took {took:?}");
        assert_eq!(reply.status, 200, "{}", reply.body);
        let body = reply.json();
        assert_eq!(body["database"]["status"], "up", "{body}");
        assert_eq!(body["cache"]["status"], "degraded", "{body}");
    }
}
