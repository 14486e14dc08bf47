//! Nothing a stranger sends grows the cache without bound: a flood of invented
//! paths leaves the namespace small, and its 404s are gone `not_found_ttl` later
//! (their tag sets, which Redis must never evict, at the index sweep after).

use std::time::{Duration, Instant};

use rocket_page_cache::index_sweep::IndexSweeper;
use test_support::eventually;

use crate::support::{redis_conn, AppBuilder, TestApp};

/// Keys and bytes (`MEMORY USAGE`) under the app's namespace.
fn namespace_usage(app: &TestApp) -> (usize, u64) {
    let keys = app.namespace.keys();
    let mut conn = redis_conn().expect("redis");
    let bytes = keys
        .iter()
        .map(|key| {
            redis::cmd("MEMORY")
                .arg("USAGE")
                .arg(key)
                .query::<Option<u64>>(&mut conn)
                .ok()
                .flatten()
                .unwrap_or(0)
        })
        .sum();
    (keys.len(), bytes)
}

/// Milliseconds left on a key (`PTTL`).
fn pttl(key: &str) -> i64 {
    let mut conn = redis_conn().expect("redis");
    redis::cmd("PTTL").arg(key).query(&mut conn).expect("PTTL")
}

/// The hostile requests: random unknown ids, very long paths, padded, signed,
/// repeated and out-of-range list parameters, list cursors that name no user;
/// `n` of each kind.
fn hostile_paths(n: usize) -> Vec<String> {
    let long = "x".repeat(7_000);
    (0..n)
        .flat_map(|i| {
            let id = 1_000_000 + rand::random::<u32>() % 1_000_000_000;
            [
                format!("/users/{id}"),
                match i % 3 {
                    0 => format!("/users/{long}{i}"),
                    1 => format!("/{long}{i}"),
                    _ => format!("/api/users/{id}{long}"),
                },
                match i % 4 {
                    0 => format!("/?page={:0>5}&per_page=020", 1 + i % 7),
                    1 => format!("/?after={id}"),
                    2 => format!("/?page=1&page={i}"),
                    _ => format!("/api/users?per_page=+{}", i % 100 + 1),
                },
            ]
        })
        .collect()
}

#[rocket::async_test]
async fn three_thousand_hostile_paths_leave_the_namespace_small_and_nothing_outlives_not_found_ttl()
{
    let app = TestApp::spawn().await;
    let not_found_ttl_ms = 30_000;
    let baseline = namespace_usage(&app);
    let queries = app.queries();

    let started = Instant::now();
    let paths = hostile_paths(1_000);
    assert_eq!(paths.len(), 3_000);
    for path in &paths {
        let status = app.get(path).await.status().code;
        // 307: a list cursor that names no user goes to the page of the same
        // users; redirects are never stored.
        assert!(matches!(status, 307 | 400 | 404), "{path}: {status}");
    }
    let (keys, bytes) = namespace_usage(&app);
    eprintln!(
        "flood of {} paths in {:?}: {keys} keys, {bytes} bytes in the namespace \
         (before: {baseline:?}); {} MySQL statements",
        paths.len(),
        started.elapsed(),
        app.queries() - queries
    );
    assert!(bytes < 4 * 1024 * 1024, "{bytes} bytes");
    assert!(
        app.namespace
            .keys()
            .iter()
            .any(|k| k.contains(":/users/") && !k.contains("tag:")),
        "unknown ids are stored as 404s, up to the budget"
    );
    // The users count is memoised for five minutes, filed under the table and its
    // membership: three keys whatever the flood, so they are not the flood's. Tag
    // sets have no lifetime, so that Redis never evicts them; the index sweep
    // removes them once their pages are gone (see the next test).
    let flood_keys = app
        .namespace
        .keys()
        .into_iter()
        .filter(|k| !k.contains(":memo:") && !k.contains(":tag:"));
    for key in flood_keys {
        // -2: gone since the scan (a hit-for-miss marker lives 10 s).
        let left = pttl(&key);
        assert!(
            left == -2 || (1..=not_found_ttl_ms).contains(&left),
            "{key} lives {left} ms: longer than not_found_ttl, or forever"
        );
    }
}

#[rocket::async_test]
async fn stored_404s_are_gone_not_found_ttl_later_and_their_tags_two_index_sweeps_after() {
    let not_found_ttl = 1;
    let app = AppBuilder::new()
        .with("cache.not_found_ttl", not_found_ttl)
        .start()
        .await;
    for id in 0..20 {
        assert_eq!(
            app.get(&format!("/users/{}", 7_000 + id))
                .await
                .status()
                .code,
            404
        );
    }
    assert!(!app.namespace.keys().is_empty(), "the 404s were stored");
    let within = Duration::from_secs(not_found_ttl + 3);
    let tag_sets_only = || {
        let keys = app.namespace.keys();
        keys.iter().all(|key| key.contains(":tag:")).then_some(keys)
    };
    let left = eventually(within, "the stored 404s expire", || async {
        tag_sets_only()
    })
    .await;
    assert!(!left.is_empty(), "their tag sets stay until swept");
    // The index sweep removes a member found gone at two sweeps in a row.
    let mut sweeper = IndexSweeper::default();
    for _ in 0..2 {
        sweeper.sweep(app.cache()).await.expect("an index sweep");
    }
    assert_eq!(app.namespace.keys(), Vec::<String>::new(), "nothing left");
}

#[rocket::async_test]
async fn past_the_negative_budget_404s_are_served_uncached() {
    let app = AppBuilder::new()
        .with("cache.max_negative_entries", 3)
        .start()
        .await;
    for id in 0..10 {
        let reply = app.fetch(&format!("/users/{}", 5_000 + id)).await;
        assert_eq!(reply.status, 404);
    }
    let stored: Vec<String> = app
        .namespace
        .keys()
        .into_iter()
        .filter(|k| k.contains(":/users/") && !k.contains("tag:"))
        .collect();
    assert_eq!(stored.len(), 3, "{stored:?}");
    let reply = app.fetch("/users/5009").await;
    assert!(
        reply
            .header("cache-status")
            .is_some_and(|s| s.contains("negative-budget")),
        "{:?}",
        reply.header("cache-status")
    );
}
