//! Counters per route policy: each request counted once under the pattern of its
//! policy, whatever its path; renders timed.

use serde_json::json;

use crate::support::app::TestApp;
use rocket_page_cache::stats::{Outcome, RouteStatsSnapshot};

fn route<'a>(stats: &'a [RouteStatsSnapshot], pattern: &str) -> &'a RouteStatsSnapshot {
    stats
        .iter()
        .find(|r| r.route == pattern)
        .unwrap_or_else(|| panic!("no route {pattern} in {stats:?}"))
}

#[tokio::test]
async fn each_request_is_counted_once_under_its_policys_pattern() {
    let app = TestApp::spawn(json!({})).await;
    for id in 1..=3 {
        assert_eq!(app.get(&format!("/item/{id}")).await.x_cache(), "MISS");
    }
    for _ in 0..10 {
        assert_eq!(app.get("/item/1").await.x_cache(), "HIT");
    }
    let private = app
        .get_with("/item/2", &[("Authorization", "Bearer x")])
        .await;
    assert_eq!(private.x_cache(), "BYPASS");
    app.get("/not-cached").await;

    let stats = app.cache().route_stats_snapshot();
    let item = route(&stats, "/item/<id>");
    assert_eq!(item.requests(Outcome::Miss), 3);
    // From Redis, then from the near cache once its link is up.
    let hits = item.requests(Outcome::Hit) + item.requests(Outcome::NearHit);
    assert_eq!(hits, 10);
    assert_eq!(item.requests(Outcome::Bypass), 1);
    assert_eq!(item.requests(Outcome::Stale), 0);
    assert_eq!(item.render_seconds.count, 3, "each miss rendered once");
    assert!(item.render_seconds.sum_seconds > 0.0);
    // Every declared pattern is listed once; no request path ever is.
    assert!(stats.iter().all(|r| !r.route.contains("/item/1")));
    let total: u64 = stats
        .iter()
        .flat_map(|r| r.requests.iter().map(|(_, n)| n))
        .sum();
    assert_eq!(total, 14);
    let global = app.cache().stats_snapshot();
    let global_hits = global.hits + global.near_hits;
    assert_eq!((global_hits, global.misses, global.bypasses), (10, 3, 1));
    assert_eq!(global.near_hits, item.requests(Outcome::NearHit));
    assert!(!app.cache().breaker_open());
}
