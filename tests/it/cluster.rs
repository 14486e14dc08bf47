//! Several instances, one cache: single flight across the cluster, stale serving,
//! and no stampede on MySQL, proven by counting renders.

use std::time::{Duration, Instant};

use futures::future::{join_all, select_all};
use rocket::local::asynchronous::LocalResponse;
use serde_json::json;
use test_support::{eventually, mysql_addr, redis_addr};

use crate::support::proxy::{FaultProxy, Mode};
use crate::support::{AppBuilder, Reply, TestApp};

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
    let answers = burst(&apps, "/test/slow?ms=3000", 300).await;
    report("stale key", &answers, renders(&apps) - 1);
    assert_eq!(renders(&apps), 2, "exactly one refresh");
    let stale = answers.iter().filter(|a| a.x_cache == "STALE").count();
    assert!(
        stale >= 290,
        "all but the refresher (and a few late arrivals) got the stale copy: {stale}"
    );
    assert!(answers.iter().all(|a| a.status == 200));
    // The refresh takes 3 s: a stale answer that waited for it would take longer,
    // and a loaded machine answers 300 stored pages well within that.
    let slowest = answers
        .iter()
        .filter(|a| a.x_cache == "STALE")
        .map(|a| a.took)
        .max()
        .unwrap();
    assert!(
        slowest < Duration::from_secs(3),
        "no stale answer waited for the render: {slowest:?}"
    );
}

#[rocket::async_test]
async fn a_lease_whose_holder_died_expires_and_another_instance_renders() {
    let apps = cluster(|b| {
        b.with("cache.lease_ms", 500)
            .with("cache.lock_timeout_ms", 10_000)
    })
    .await;
    // Instance 0 takes the lease and dies mid-render: its request is dropped
    // once its render has begun (so the lease is taken), however slow that is.
    let started = Instant::now();
    let abandoned = tokio::select! {
        _ = apps[0].get("/test/slow?ms=5000") => false,
        () = eventually(Duration::from_secs(5), "the first render begins", || async {
            (apps[0].test_renders() == 1).then_some(())
        }) => true,
    };
    assert!(abandoned, "the first render was cut short");
    let response = apps[1].get("/test/slow?ms=100").await;
    // The lease was taken after `started`: it ran out no earlier than 500 ms on.
    let took = started.elapsed();
    assert_eq!(response.status().code, 200);
    assert_eq!(response.headers().get_one("X-Cache"), Some("MISS"));
    assert!(
        took >= Duration::from_millis(500),
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
    let lease = Duration::from_millis(300);
    let started = Instant::now();
    let (hung, other) = tokio::join!(
        async {
            let reply = Reply::read(apps[0].get("/test/slow?ms=3000").await).await;
            (reply, started.elapsed())
        },
        async {
            // The first render has begun, so its lease is taken: no sleep to guess it.
            let what = "the first instance renders";
            eventually(Duration::from_secs(5), what, || async {
                (apps[0].test_renders() == 1).then_some(())
            })
            .await;
            let reply = Reply::read(apps[1].get("/test/slow?ms=50").await).await;
            (reply, started.elapsed())
        }
    );
    assert_eq!((hung.0.status, other.0.status), (200, 200));
    assert_eq!(other.0.x_cache(), "MISS", "{}", other.0.cache_status());
    // The lease was taken after `started`, so it ran out no earlier than
    // `started + lease`: an answer before that rendered without waiting for it.
    assert!(
        other.1 >= lease,
        "the second instance rendered before the lease ran out: {:?}",
        other.1
    );
    assert!(
        other.1 < hung.1,
        "the second instance waited for the hung render: {:?} vs {:?}",
        other.1,
        hung.1
    );
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
        // The holder's render has begun, so it holds the lease.
        eventually(Duration::from_secs(5), "the holder renders", || async {
            (apps[0].test_renders() == 1).then_some(())
        })
        .await;
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
        let proxy = FaultProxy::start(mysql_addr()).await;
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
    let proxy = FaultProxy::start(mysql_addr()).await;
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
        let reply = eventually(
            Duration::from_secs(10),
            "recovered without a restart",
            || async {
                let reply = app.fetch("/users/1").await;
                (reply.status == 200).then_some(reply)
            },
        )
        .await;
        assert_ne!(reply.x_cache(), "STALE");
    }
}

#[rocket::async_test]
async fn with_redis_cut_while_a_burst_waits_on_a_render_every_request_succeeds_with_at_most_a_render_per_instance(
) {
    let proxy = FaultProxy::start(redis_addr()).await;
    let redis = format!("redis://127.0.0.1:{}/", proxy.port());
    let apps = cluster(|b| b.with("cache.url", redis.clone())).await;
    // The first render is held at its gate, so the cut lands while the burst is
    // under way: after the lease was taken through Redis, before anything is stored.
    for app in &apps {
        app.gate().arm();
    }
    let (answers, ()) = tokio::join!(burst(&apps, "/test/user/1", 300), async {
        select_all(apps.iter().map(|app| Box::pin(app.gate().reached()))).await;
        proxy.switch(Mode::Cut).await;
        // A release before a gate is reached lets its render through at once.
        for app in &apps {
            app.gate().release();
        }
    });
    report("Redis cut mid-burst", &answers, renders(&apps));
    assert!(answers.iter().all(|a| a.status == 200));
    assert!(
        answers.iter().all(|a| a.body == "Soumitra"),
        "{}",
        answers[0].body
    );
    assert!(
        apps[0]
            .namespace
            .keys()
            .iter()
            .all(|k| !k.ends_with("/test/user/1")),
        "the cut came before the page could be stored"
    );
    assert!(renders(&apps) <= 3, "renders: {}", renders(&apps));
}

#[rocket::async_test]
async fn with_redis_down_a_burst_renders_once_per_instance() {
    // The render outlasts the store budget (1 s in tests) and the burst's dispatch on
    // a loaded machine, so every request of the burst finds the flight still going:
    // with nothing stored, one arriving after it ended would rightly render again.
    let apps = cluster(|b| {
        b.with(
            "cache.url",
            format!("redis://127.0.0.1:{}/", test_support::free_port()),
        )
        .with("cache.lock_timeout_ms", 6_000)
    })
    .await;
    let answers = burst(&apps, "/test/slow?ms=2500", 300).await;
    report("Redis down", &answers, renders(&apps));
    assert!(answers.iter().all(|a| a.status == 200));
    assert!(renders(&apps) <= 3, "renders: {}", renders(&apps));
}

#[rocket::async_test]
async fn an_uncacheable_answer_is_remembered_so_others_skip_the_wait() {
    // A waiter would wait the whole 10 s lock timeout for a leader held at its gate.
    let apps = cluster(|b| b.with("cache.lock_timeout_ms", 10_000)).await;
    let uri = "/test/gated-cookie";
    let first = apps[0].fetch(uri).await;
    assert_eq!(first.status, 200);
    assert!(
        first.cache_status().contains("set-cookie"),
        "{}",
        first.cache_status()
    );
    assert!(
        apps[0].namespace.keys().iter().any(|k| k.ends_with(uri)),
        "a hit-for-miss marker is shared in Redis"
    );
    // One render held at its gate on instance 1; while it is held, requests on
    // every instance (its own included) answer: none of them waits for it.
    apps[1].cookie_gate().arm();
    let held = apps[1].get(uri);
    let others = async {
        apps[1].cookie_gate().reached().await;
        let others = join_all(apps.iter().map(|app| async move {
            tokio::time::timeout(Duration::from_secs(5), app.fetch(uri))
                .await
                .expect("a follower waited for the held render")
        }))
        .await;
        apps[1].cookie_gate().release();
        others
    };
    let (held, others) = tokio::join!(held, others);
    assert_eq!(held.status().code, 200);
    // Each answered within 5 s although a waiter would have waited 10 s: the
    // marker sent them straight to the route.
    assert!(others.iter().all(|reply| reply.status == 200));
    assert_eq!(renders(&apps), 5, "everyone rendered for themselves");
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
