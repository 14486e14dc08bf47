//! A flood of distinct valid pages against a small Redis of the test's own, with
//! writes during the flood: Redis stays under its `maxmemory` by evicting pages,
//! never the tag index, so every write's purge still finds the pages that show
//! its row, and pages keep being served from the cache.

use futures::future::join_all;
use rocket::http::Method;
use serde_json::json;
use test_support::OwnRedis;

use crate::support::{AppBuilder, TestApp};

/// Users in the directory (the sample row and `USERS - 1` more).
const USERS: u32 = 600;
/// Requests in flight at once during the flood.
const CONCURRENCY: usize = 16;
/// A write every this many pages of the flood.
const WRITE_EVERY: usize = 150;

fn info_field(url: &str, field: &str) -> u64 {
    let mut conn = redis::Client::open(url)
        .and_then(|c| c.get_connection())
        .expect("own Redis");
    let info: String = redis::cmd("INFO").query(&mut conn).expect("INFO");
    info.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("INFO has no {field}"))
}

/// Every distinct valid page of the directory the flood asks for: each user's
/// page and the list pages after each user, in three sizes.
fn distinct_pages() -> Vec<String> {
    let mut pages = Vec::new();
    for id in 1..=USERS {
        pages.push(format!("/users/{id}"));
        if id + 100 <= USERS {
            pages.push(format!("/?after={id}"));
            pages.push(format!("/?after={id}&per_page=50"));
            pages.push(format!("/?after={id}&per_page=100"));
        }
    }
    pages
}

/// Renames user `id` through the API and checks, as soon as the write is
/// acknowledged, that the pages showing it show the new name; returns the pages
/// that did not.
async fn rename_and_check(app: &TestApp, id: u32, round: usize) -> Vec<String> {
    let name = format!("Renamed {id} in round {round}");
    let i = id - 2;
    let record = json!({
        "name": name,
        "email": format!("user{i}@example.com"),
        "phone": "555 0001",
        "address": "1 Test Street",
    });
    let (status, _) = app
        .api_json(Method::Put, &format!("/api/users/{id}"), Some(&record))
        .await;
    assert_eq!(status, 200, "PUT /api/users/{id}");
    let showing = [
        format!("/users/{id}"),
        format!("/?after={}&per_page=50", id - 1),
        format!("/?after={}", id - 10),
        format!("/?after={}&per_page=100", id - 60),
    ];
    let mut stale = Vec::new();
    for uri in showing {
        let reply = app.fetch(&uri).await;
        assert_eq!(reply.status, 200, "{uri}");
        if !reply.body.contains(&name) {
            stale.push(format!("{uri} ({})", reply.x_cache()));
        }
    }
    stale
}

#[rocket::async_test]
async fn a_flood_of_distinct_pages_keeps_redis_under_its_limit_and_no_write_leaves_a_stale_page() {
    let redis =
        OwnRedis::start_with(&["--maxmemory", "6mb", "--maxmemory-policy", "volatile-lru"]).await;
    let app = AppBuilder::new()
        .with_admin()
        .with("cache.url", &redis.url)
        .untracked()
        .start()
        .await;
    app.insert_users(USERS as usize - 1);
    let pages = distinct_pages();
    let limit = info_field(&redis.url, "maxmemory");

    let mut stale = Vec::new();
    let mut peak = 0;
    for (round, chunk) in pages.chunks(CONCURRENCY).enumerate() {
        let replies = join_all(chunk.iter().map(|uri| app.fetch(uri))).await;
        for (uri, reply) in chunk.iter().zip(&replies) {
            assert_eq!(reply.status, 200, "{uri}");
        }
        if (round * CONCURRENCY) % WRITE_EVERY < CONCURRENCY {
            // A user the flood has already shown, on pages that may be cached.
            let id = 70 + u32::try_from(round % 400).unwrap();
            stale.extend(rename_and_check(&app, id, round).await);
        }
        peak = peak.max(info_field(&redis.url, "used_memory"));
    }

    assert!(stale.is_empty(), "stale after a write: {stale:?}");
    assert!(
        info_field(&redis.url, "evicted_keys") > 0,
        "the flood filled Redis (peak {peak} of {limit} bytes)"
    );
    // Redis evicts before each command, so the command itself may take it a page
    // over for a moment; never further.
    assert!(
        peak <= limit + limit / 100,
        "used_memory {peak} over maxmemory {limit}"
    );
    let hot = "/users/7";
    app.fetch(hot).await;
    assert_eq!(app.fetch(hot).await.x_cache(), "HIT", "hits continue");
}
