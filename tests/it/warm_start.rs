//! Warm start: a deploy's new generation renders the hot pages once before its
//! instances report ready, and instances that start together share the work
//! (the render lease), proven by counting the statements that reached MySQL.

use std::time::Duration;

use rocket_page_cache::stats::Outcome;
use rocket_page_cache::Cache;
use serde_json::json;
use test_support::eventually;

use crate::support::browser::ServedApp;
use crate::support::{AppBuilder, TestApp};

/// `/health/ready` of a served instance: status and the `status` word.
async fn readiness(app: &ServedApp) -> (u16, String) {
    let response = reqwest::get(app.url("/health/ready"))
        .await
        .expect("the instance answers");
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.expect("JSON");
    (
        status,
        body["status"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn wait_ready(app: &ServedApp, within: Duration) {
    eventually(within, "the instance is ready", || async {
        (readiness(app).await == (200, "ready".to_owned())).then_some(())
    })
    .await;
}

/// GET `path` from a served instance as the local client's browser sent it
/// when the page was counted (`Host: localhost`, the host of its key).
async fn get_as_counted(app: &ServedApp, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(app.url(path))
        .header("Host", "localhost:8000")
        .send()
        .await
        .expect("the instance answers")
}

/// Renders by this instance's cache since start (misses of every route).
fn renders(cache: &Cache) -> u64 {
    cache
        .route_stats_snapshot()
        .iter()
        .map(|r| r.requests(Outcome::Miss))
        .sum()
}

/// Waits until the shared list holds `count` pages, and returns them.
async fn hot_list(app: &TestApp, count: usize) -> Vec<String> {
    eventually(Duration::from_secs(10), "the hot list fills", || async {
        let listed = app.cache().hot_pages(100).await.ok()?;
        (listed.len() >= count).then_some(listed)
    })
    .await
}

#[rocket::async_test]
async fn a_new_generation_renders_each_hot_page_once_with_three_instances_starting_together() {
    let old = AppBuilder::new()
        .with("cache.generation", "old")
        .with("cache.warm.sample_every", 1)
        .start()
        .await;
    old.insert_users(5);
    let pages: Vec<String> = std::iter::once("/".to_owned())
        .chain((1..=5).map(|id| format!("/users/{id}")))
        .collect();
    for page in &pages {
        assert_eq!(old.fetch(page).await.x_cache(), "MISS", "{page}");
        old.fetch(page).await;
    }
    assert_eq!(hot_list(&old, pages.len()).await.len(), pages.len());

    let new = |generation: &str, max_pages: u64| {
        old.peer()
            // The binlog follower's own statements (one instance takes it over
            // from another) would blur the count.
            .with("databases.main.binlog", "off")
            .with("cache.generation", generation)
            .with("cache.warm.max_pages", max_pages)
    };
    // What an instance sends MySQL by starting at all, with nothing to warm.
    let idle = new("idle", 0).serve().await;
    wait_ready(&idle, Duration::from_secs(5)).await;
    let baseline = idle.queries();
    drop(idle);
    // What one instance's warm start of the list costs MySQL.
    let solo = new("solo", 100).serve().await;
    wait_ready(&solo, Duration::from_secs(30)).await;
    assert_eq!(renders(&solo.cache), pages.len() as u64);
    let once = solo.queries() - baseline;
    drop(solo);

    let (a, b, c) = futures::join!(
        new("new", 100).serve(),
        new("new", 100).serve(),
        new("new", 100).serve()
    );
    let fleet = [a, b, c];
    for app in &fleet {
        wait_ready(app, Duration::from_secs(30)).await;
    }
    let warm_renders: u64 = fleet.iter().map(|app| renders(&app.cache)).sum();
    let warm_statements: u64 = fleet.iter().map(|app| app.queries() - baseline).sum();
    eprintln!(
        "warm start of {} pages on 3 instances together: {warm_renders} renders, \
         {warm_statements} statements (on one instance alone: {once})",
        pages.len()
    );
    assert_eq!(
        warm_renders,
        pages.len() as u64,
        "each hot page rendered once in the fleet"
    );
    // Connection pings make a few statements come and go; each instance
    // rendering every page would cost three times as much.
    assert!(
        warm_statements <= once + once / 2,
        "MySQL saw {warm_statements} statements; one instance's warm start costs {once}"
    );
    // Ready means warm: every hot page is a hit on every instance.
    for app in &fleet {
        let before = app.queries();
        for page in &pages {
            let response = get_as_counted(app, page).await;
            let x_cache = response.headers()["x-cache"].to_str().unwrap().to_owned();
            assert!(x_cache.contains("HIT"), "{page}: {x_cache}");
        }
        assert_eq!(app.queries(), before, "no statement after the warm start");
    }
}

/// The old build with the test routes, where `/test/slow?ms=` renders as slowly
/// as asked (`ms` part of the key, so the warm start asks the same).
fn with_slow_page(builder: AppBuilder) -> AppBuilder {
    builder
        .with_test_routes()
        .with_rule(json!({ "path": "/test/slow", "query": ["ms"] }))
        .with("cache.warm.sample_every", 1)
}

#[rocket::async_test]
async fn ready_says_warming_until_the_hot_pages_are_rendered() {
    let old = with_slow_page(AppBuilder::new())
        .with("cache.generation", "old")
        .start()
        .await;
    assert_eq!(old.get_text("/test/slow?ms=1500").await.0, 200);
    hot_list(&old, 1).await;

    let new = with_slow_page(old.peer())
        .with("cache.generation", "new")
        .serve()
        .await;
    assert_eq!(
        readiness(&new).await,
        (503, "warming".to_owned()),
        "not ready while the hot page renders"
    );
    wait_ready(&new, Duration::from_secs(10)).await;
    let response = get_as_counted(&new, "/test/slow?ms=1500").await;
    assert_eq!(response.headers()["x-cache"], "HIT");
}

#[rocket::async_test]
async fn a_warm_start_ends_at_max_secs_whatever_is_left() {
    let old = with_slow_page(AppBuilder::new())
        .with("cache.generation", "old")
        .start()
        .await;
    old.get_text("/test/slow?ms=4000").await;
    hot_list(&old, 1).await;

    let started = std::time::Instant::now();
    let new = with_slow_page(old.peer())
        .with("cache.generation", "new")
        .with("cache.warm.max_secs", 1)
        .serve()
        .await;
    assert_eq!(readiness(&new).await.1, "warming");
    wait_ready(&new, Duration::from_secs(5)).await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "ready before the hot page could render"
    );
}

#[rocket::async_test]
async fn an_instance_of_a_generation_already_warm_is_ready_at_once() {
    let old = with_slow_page(AppBuilder::new())
        .with("cache.generation", "same")
        .start()
        .await;
    old.get_text("/test/slow?ms=1500").await;
    hot_list(&old, 1).await;
    let again = with_slow_page(old.peer())
        .with("cache.generation", "same")
        .serve()
        .await;
    assert_eq!(readiness(&again).await, (200, "ready".to_owned()));
}
