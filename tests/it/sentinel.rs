//! The app on Redis Sentinel (`cache.sentinel`): instances share pages through
//! the master the sentinels name, an edit on one instance purges them for all,
//! the cluster-wide figures add up there, and a sentinel table that makes no
//! sense (or sits beside `cluster_nodes`) stops the launch.

use std::time::Duration;

use rocket::http::Method;
use serde_json::json;
use test_support::{eventually, OwnSentinel};

use crate::support::{invalidations_arrive, AppBuilder};

/// Longer than a few flushes of the cluster figures (one a second).
const FLUSHED_WITHIN: Duration = Duration::from_secs(15);

fn on_sentinel(builder: AppBuilder) -> AppBuilder {
    builder
        .with_admin()
        .with("cache.sentinel", OwnSentinel::shared().config())
}

#[rocket::async_test]
async fn on_redis_sentinel_pages_are_shared_and_an_edit_purges_them_on_every_instance() {
    let a = on_sentinel(AppBuilder::new()).start().await;
    a.insert_users(2);
    let b = on_sentinel(a.peer()).start().await;
    assert_eq!(a.fetch("/users/2").await.x_cache(), "MISS");
    let before = b.queries();
    let hit = b.fetch("/users/2").await;
    assert_eq!(hit.x_cache(), "HIT", "{}", hit.body);
    assert_eq!(b.queries(), before, "a hit reads nothing from MySQL");

    let (status, _) = a
        .api_json(
            Method::Put,
            "/api/users/2",
            Some(&json!({
                "name": "Renamed under Sentinel",
                "email": "user0@example.com",
                "phone": "555 0001",
                "address": "1 Test Street",
            })),
        )
        .await;
    assert_eq!(status, 200);
    invalidations_arrive().await;
    let after = b.fetch("/users/2").await;
    assert_eq!(after.x_cache(), "MISS", "purged for every instance");
    assert!(
        after.body.contains("Renamed under Sentinel"),
        "{}",
        after.body
    );
    assert_eq!(a.fetch("/users/2").await.x_cache(), "HIT");

    let (status, cache) = a.api_json(Method::Get, "/api/admin/cache", None).await;
    assert_eq!(status, 200, "{cache}");
    assert_eq!(cache["store"]["backend"], "redis-sentinel", "{cache}");
    // The fleet's counts are added up in the master too.
    eventually(FLUSHED_WITHIN, "both instances counted", || async {
        let (_, cache) = a.api_json(Method::Get, "/api/admin/cache", None).await;
        let cluster = &cache["cluster"];
        (cluster["instances"] == 2 && cluster["hits"].as_u64() >= Some(2)).then_some(())
    })
    .await;
}

#[rocket::async_test]
async fn a_sentinel_table_beside_cluster_nodes_or_without_a_master_stops_the_launch() {
    let sentinel = OwnSentinel::shared().config();
    let beside_a_cluster = AppBuilder::new()
        .with("cache.sentinel", &sentinel)
        .with("cache.cluster_nodes", ["redis://127.0.0.1:7000/"]);
    let mut refused = vec![("beside cluster_nodes".to_owned(), beside_a_cluster)];
    for table in [
        json!({ "master": "", "nodes": ["redis://127.0.0.1:26379/"] }),
        json!({ "master": "m", "nodes": [] }),
        json!({ "master": "m", "nodes": ["http://127.0.0.1:26379/"] }),
        json!({ "nodes": ["redis://127.0.0.1:26379/"] }),
    ] {
        refused.push((
            table.to_string(),
            AppBuilder::new().with("cache.sentinel", &table),
        ));
    }
    for (what, builder) in refused {
        let Err(error) = builder.try_start().await else {
            panic!("the app launched with cache.sentinel {what}")
        };
        assert!(
            matches!(error.kind(), rocket::error::ErrorKind::FailedFairings(_)),
            "{what}: {error}"
        );
    }
}
