//! Several instances, one cache: single flight across the cluster, stale serving,
//! and no stampede on MySQL, proven by counting renders.

use std::time::{Duration, Instant};

use futures::future::join_all;
use rocket::local::asynchronous::LocalResponse;
use serde_json::json;

use crate::support::proxy::{FaultProxy, Mode};
use crate::support::{AppBuilder, TestApp};

/// One answer of a burst.
struct Answer {
    status: u16,
    x_cache: String,
    body: String,
    took: Duration,
}

async fn answer(response: LocalResponse<'_>, started: Instant) -> Answer {
    let status = response.status().code;
    let x_cache = response
        .headers()
        .get_one("X-Cache")
        .unwrap_or_default()
        .to_owned();
    let body = response.into_string().await.unwrap_or_default();
    Answer {
        status,
        x_cache,
        body,
        took: started.elapsed(),
    }
}

/// `count` concurrent GETs of `uri`, spread round robin over `apps`.
async fn burst(apps: &[TestApp], uri: &str, count: usize) -> Vec<Answer> {
    join_all((0..count).map(|i| async move {
        let started = Instant::now();
        let response = apps[i % apps.len()].get(uri).await;
        answer(response, started).await
    }))
    .await
}

fn renders(apps: &[TestApp]) -> u64 {
    apps.iter().map(TestApp::test_renders).sum()
}

/// p50 and p99 of the burst, for the figures in the notes.
fn percentiles(answers: &[Answer]) -> (Duration, Duration) {
    let mut took: Vec<Duration> = answers.iter().map(|a| a.took).collect();
    took.sort();
    // Nearest rank, in whole percents.
    let at = |percent: usize| took[(took.len() - 1) * percent / 100];
    (at(50), at(99))
}

fn report(case: &str, answers: &[Answer], renders: u64) {
    let (p50, p99) = percentiles(answers);
    eprintln!(
        "{case}: {} requests, {renders} render(s), p50 {p50:?}, p99 {p99:?}",
        answers.len()
    );
}

/// Three instances on one database and namespace, with the test routes.
async fn cluster(configure: impl Fn(AppBuilder) -> AppBuilder) -> Vec<TestApp> {
    let first = configure(AppBuilder::new().with_test_routes())
        .start()
        .await;
    let second = configure(first.peer().with_test_routes()).start().await;
    let third = configure(first.peer().with_test_routes()).start().await;
    vec![first, second, third]
}

#[rocket::async_test]
async fn a_cold_key_under_300_requests_on_3_instances_renders_once() {
    let apps = cluster(|b| b).await;
    let answers = burst(&apps, "/test/slow?ms=300", 300).await;
    report("cold key", &answers, renders(&apps));
    assert_eq!(renders(&apps), 1, "exactly one render in the cluster");
    let body = &answers[0].body;
    assert!(body.starts_with("slow render"));
    for a in &answers {
        assert_eq!(a.status, 200);
        assert_eq!(&a.body, body);
    }
    assert_eq!(answers.iter().filter(|a| a.x_cache == "MISS").count(), 1);
}

#[rocket::async_test]
async fn a_cold_users_page_under_load_reaches_mysql_once() {
    let apps = cluster(|b| b).await;
    apps[0].insert_users(99);
    let before: u64 = apps.iter().map(TestApp::queries).sum();
    let answers = burst(&apps, "/?per_page=100", 150).await;
    let queries: u64 = apps.iter().map(TestApp::queries).sum::<u64>() - before;
    assert!(answers
        .iter()
        .all(|a| a.status == 200 && a.body == answers[0].body));
    // One render is at most the pool's liveness check, the count and the page;
    // a second render would add at least two more.
    assert!(
        (1..=3).contains(&queries),
        "one render's statements, not one per request: {queries}"
    );
}

#[rocket::async_test]
async fn an_expired_key_within_grace_renders_once_and_nobody_waits() {
    let apps = cluster(|b| b).await;
    burst(&apps, "/test/slow?ms=300", 1).await;
    // Soft purge: the entry is stale now, within grace.
    apps[0]
        .cache()
        .purge_path("/test/slow", true)
        .await
        .unwrap();
    let answers = burst(&apps, "/test/slow?ms=300", 300).await;
    report("stale key", &answers, renders(&apps) - 1);
    assert_eq!(renders(&apps), 2, "exactly one refresh");
    let stale = answers.iter().filter(|a| a.x_cache == "STALE").count();
    assert!(
        stale >= 290,
        "all but the refresher (and a few late arrivals) got the stale copy: {stale}"
    );
    assert!(answers.iter().all(|a| a.status == 200));
    let slowest = answers.iter().map(|a| a.took).max().unwrap();
    assert!(
        slowest < Duration::from_millis(300 * 3),
        "no request slower than a render: {slowest:?}"
    );
}

#[rocket::async_test]
async fn a_lease_whose_holder_died_expires_and_another_instance_renders() {
    let apps = cluster(|b| {
        b.with("cache.lease_ms", 500)
            .with("cache.lock_timeout_ms", 10_000)
    })
    .await;
    // Instance 0 takes the lease and dies mid-render: its request is dropped.
    let abandoned = tokio::time::timeout(
        Duration::from_millis(150),
        apps[0].get("/test/slow?ms=5000"),
    )
    .await;
    assert!(abandoned.is_err(), "the first render was cut short");
    let started = Instant::now();
    let response = apps[1].get("/test/slow?ms=100").await;
    let took = started.elapsed();
    assert_eq!(response.status().code, 200);
    assert_eq!(response.headers().get_one("X-Cache"), Some("MISS"));
    assert!(
        took >= Duration::from_millis(250),
        "it waited for the lease: {took:?}"
    );
    assert!(
        took < Duration::from_secs(3),
        "and no longer than the lease: {took:?}"
    );
    assert_eq!(renders(&apps), 2);
}

#[rocket::async_test]
async fn a_render_that_hangs_past_the_lease_does_not_block_the_cluster() {
    let apps = cluster(|b| {
        b.with("cache.lease_ms", 300)
            .with("cache.lock_timeout_ms", 10_000)
    })
    .await;
    let (hung, other) = tokio::join!(apps[0].get("/test/slow?ms=3000"), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        let response = apps[1].get("/test/slow?ms=3000").await;
        (response.status().code, started.elapsed())
    });
    assert_eq!(hung.status().code, 200);
    assert_eq!(other.0, 200);
    assert_eq!(
        renders(&apps),
        2,
        "the second instance rendered once the lease lapsed"
    );
}

#[rocket::async_test]
async fn waiters_give_up_after_the_lock_timeout_and_render_themselves() {
    let apps = cluster(|b| {
        b.with("cache.lease_ms", 10_000)
            .with("cache.lock_timeout_ms", 300)
    })
    .await;
    let (first, second) = tokio::join!(apps[0].get("/test/slow?ms=1500"), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        let response = apps[1].get("/test/slow?ms=100").await;
        (
            response.headers().get_one("X-Cache").map(str::to_owned),
            started.elapsed(),
        )
    });
    assert_eq!(first.status().code, 200);
    assert_eq!(second.0.as_deref(), Some("MISS"));
    assert!(
        second.1 < Duration::from_millis(1200),
        "did not wait for the slow holder: {:?}",
        second.1
    );
    assert_eq!(renders(&apps), 2);
}

/// Three instances of the app whose MySQL goes through `proxy`.
async fn cluster_behind(proxy: &FaultProxy, grace: u64) -> Vec<TestApp> {
    let first = AppBuilder::new().start().await;
    // prefer_socket=false: else the driver switches to MariaDB's Unix socket on
    // localhost and the proxy cuts nothing.
    let url = format!(
        "mysql://root@127.0.0.1:{}/{}?prefer_socket=false",
        proxy.port(),
        first.db.name
    );
    let configure = |b: AppBuilder| {
        b.with("databases.main.url", url.clone())
            .with("databases.main.acquire_timeout_ms", 1000)
            .with("databases.main.connect_timeout_ms", 500)
            .with("cache.grace", grace)
    };
    let apps = vec![
        configure(first.peer()).start().await,
        configure(first.peer()).start().await,
        configure(first.peer()).start().await,
    ];
    drop(first);
    apps
}

#[rocket::async_test]
async fn with_mysql_cut_every_instance_serves_the_stored_page_as_stale() {
    for grace in [60, 0] {
        let proxy = FaultProxy::start("127.0.0.1:3306").await;
        let apps = cluster_behind(&proxy, grace).await;
        assert_eq!(apps[0].get("/users/1").await.status().code, 200);
        apps[0].cache().purge_path("/users/1", true).await.unwrap();
        proxy.switch(Mode::Cut).await;
        let answers = burst(&apps, "/users/1", 30).await;
        report(&format!("MySQL cut, grace {grace}"), &answers, 0);
        for a in &answers {
            assert_eq!(
                (a.status, a.x_cache.as_str()),
                (200, "STALE"),
                "grace {grace}: {}",
                a.body
            );
            assert!(a.body.contains("Soumitra"));
        }
    }
}

#[rocket::async_test]
async fn with_mysql_cut_and_nothing_stored_the_answer_is_503_with_retry_after_then_recovers() {
    let proxy = FaultProxy::start("127.0.0.1:3306").await;
    let apps = cluster_behind(&proxy, 60).await;
    proxy.switch(Mode::Cut).await;
    for app in &apps {
        let response = app.get("/users/1").await;
        assert_eq!(response.status().code, 503);
        assert!(response.headers().get_one("Retry-After").is_some());
        let api = app.get("/api/users").await;
        assert_eq!(api.status().code, 503);
        assert_eq!(api.content_type(), Some(rocket::http::ContentType::JSON));
    }
    proxy.set(Mode::Pass);
    for app in &apps {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let response = app.get("/users/1").await;
            if response.status().code == 200 {
                assert_ne!(response.headers().get_one("X-Cache"), Some("STALE"));
                break;
            }
            assert!(Instant::now() < deadline, "recovered without a restart");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[rocket::async_test]
async fn with_redis_cut_during_a_burst_every_request_succeeds_and_each_instance_renders_at_most_once(
) {
    let proxy = FaultProxy::start("127.0.0.1:6379").await;
    let redis = format!("redis://127.0.0.1:{}/", proxy.port());
    let apps = cluster(|b| b.with("cache.url", redis.clone())).await;
    let (answers, ()) = tokio::join!(burst(&apps, "/test/slow?ms=300", 300), async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        proxy.set(Mode::Cut);
    });
    report("Redis cut mid-burst", &answers, renders(&apps));
    assert!(answers.iter().all(|a| a.status == 200));
    assert!(renders(&apps) <= 3, "renders: {}", renders(&apps));
}

#[rocket::async_test]
async fn with_redis_down_a_burst_renders_once_per_instance() {
    let apps = cluster(|b| {
        b.with(
            "cache.url",
            format!("redis://127.0.0.1:{}/", crate::support::closed_port()),
        )
    })
    .await;
    let answers = burst(&apps, "/test/slow?ms=300", 300).await;
    report("Redis down", &answers, renders(&apps));
    assert!(answers.iter().all(|a| a.status == 200));
    assert!(renders(&apps) <= 3, "renders: {}", renders(&apps));
}

#[rocket::async_test]
async fn an_uncacheable_answer_is_remembered_so_others_skip_the_wait() {
    let apps = cluster(|b| b.with_rule(json!({ "path": "/test/cookie" }))).await;
    assert_eq!(apps[0].get("/test/cookie").await.status().code, 200);
    let second = apps[1].get("/test/cookie").await;
    let status = second
        .headers()
        .get_one("Cache-Status")
        .unwrap_or_default()
        .to_owned();
    assert!(
        status.contains("detail=hit-for-miss") || status.contains("set-cookie"),
        "{status}"
    );
    assert!(
        apps[0]
            .namespace
            .keys()
            .iter()
            .any(|k| k.ends_with("/test/cookie")),
        "a hit-for-miss marker is shared in Redis"
    );
}

#[rocket::async_test]
async fn early_refresh_renders_a_hot_key_before_it_expires() {
    let app = AppBuilder::new()
        .with_test_routes()
        .with_rule(json!({ "path": "/test/slow", "ttl": 2 }))
        .with("cache.early_refresh_beta", 10.0)
        .start()
        .await;
    assert_eq!(
        app.get("/test/slow?ms=300")
            .await
            .headers()
            .get_one("X-Cache"),
        Some("MISS")
    );
    let mut early = 0;
    for _ in 0..20 {
        let response = app.get("/test/slow?ms=300").await;
        assert_eq!(response.status().code, 200);
        let status = response
            .headers()
            .get_one("Cache-Status")
            .unwrap_or_default();
        if status.contains("early-refresh") {
            early += 1;
            assert!(status.contains("stored"), "{status}");
        }
    }
    assert!(
        early >= 1,
        "a 300 ms render with 2 s to live is refreshed early at beta 10"
    );
    assert_eq!(app.test_renders(), 1 + early);
}

#[rocket::async_test]
async fn without_early_refresh_a_fresh_key_is_never_rendered() {
    let app = AppBuilder::new()
        .with_test_routes()
        .with_rule(json!({ "path": "/test/slow", "ttl": 30 }))
        .start()
        .await;
    for _ in 0..20 {
        app.get("/test/slow?ms=50").await;
    }
    assert_eq!(app.test_renders(), 1);
}
