//! The near cache: hot pages served from the instance's own memory, dropped on
//! every instance when Redis reports their keys changed, and all of it dropped
//! when the link that carries those reports is lost or goes silent. The first
//! two tests belong to the shared-store suite: on a cluster the link is one
//! connection per master.

use std::sync::Arc;
use std::time::Duration;

use rocket_page_cache::ManualClock;
use serde_json::json;
use test_support::{eventually, OwnRedis};

use crate::support::app::{Reply, TestApp};
use crate::support::routes::Backend;
use crate::support::shared::Shared;
use crate::support::Namespace;

crate::on_every_store!(
    a_page_is_served_from_memory_after_one_redis_hit_and_counted_apart,
    a_change_on_one_instance_leaves_no_near_copy_on_another_after_50_ms,
    a_purge_leaves_no_near_copy_of_pages_in_any_slot_after_50_ms,
);

/// How late an invalidation may arrive: a write's purge must reach every other
/// instance's near cache within this of its answer.
const STALENESS_BOUND: Duration = Duration::from_millis(50);

fn is_near(reply: &Reply) -> bool {
    reply.cache_status().contains("detail=near")
}

/// Waits until the instance's invalidation link has tracking on.
async fn link_up(app: &TestApp) {
    eventually(
        Duration::from_secs(5),
        "the near cache's link is up",
        || async { app.cache().near_serving().then_some(()) },
    )
    .await;
}

/// Requests `path` until this instance answers it from its near cache, and
/// returns that answer.
async fn warm_near(app: &TestApp, path: &str) -> Reply {
    link_up(app).await;
    eventually(Duration::from_secs(5), "a near hit", || async {
        let reply = app.get(path).await;
        is_near(&reply).then_some(reply)
    })
    .await
}

async fn a_page_is_served_from_memory_after_one_redis_hit_and_counted_apart(store: Shared) {
    let app = store.app(json!({})).await;
    link_up(&app).await;
    assert_eq!(app.get("/plain/near").await.x_cache(), "MISS");
    let from_redis = app.get("/plain/near").await;
    assert_eq!(from_redis.x_cache(), "HIT");
    assert!(!is_near(&from_redis), "{}", from_redis.cache_status());

    let near = app.get("/plain/near").await;
    assert_eq!(near.x_cache(), "HIT");
    assert!(
        near.cache_status().starts_with("rocket-cache; hit; ttl="),
        "{}",
        near.cache_status()
    );
    assert!(is_near(&near), "{}", near.cache_status());
    assert_eq!(near.body, from_redis.body);
    assert_eq!(near.header("ETag"), from_redis.header("ETag"));
    assert_eq!(app.backend.renders("/plain/near"), 1);

    let stats = app.cache().stats_snapshot();
    assert_eq!((stats.hits, stats.near_hits), (1, 1), "{stats:?}");
    assert!(stats.near_bytes > 0, "{stats:?}");
}

#[tokio::test]
async fn near_max_bytes_zero_turns_the_near_cache_off() {
    let app = TestApp::spawn(json!({ "near_max_bytes": 0 })).await;
    app.get("/plain/off").await;
    for _ in 0..5 {
        let reply = app.get("/plain/off").await;
        assert_eq!(reply.x_cache(), "HIT");
        assert!(!is_near(&reply), "{}", reply.cache_status());
    }
    assert!(!app.cache().near_serving());
    assert_eq!(app.cache().stats_snapshot().near_hits, 0);
}

/// Every kind of change on one instance, then the other instance's next answer
/// 50 ms after the change returned: never its old near copy.
async fn a_change_on_one_instance_leaves_no_near_copy_on_another_after_50_ms(store: Shared) {
    let writer = store.app(json!({})).await;
    let reader = writer.peer(json!({})).await;
    let path = "/item/9";
    let changes = ["hard purge", "soft purge", "path purge", "delete", "clear"];
    for change in changes {
        writer.get(path).await;
        let old = warm_near(&reader, path).await;
        let cache = writer.cache();
        match change {
            "hard purge" => cache.purge_tags(&["item:9".to_owned()], false).await,
            "soft purge" => cache.purge_tags(&["item:9".to_owned()], true).await,
            "path purge" => cache.purge_path(path, false).await,
            "delete" => {
                let key = writer.namespace.page_key(path).expect("stored page");
                cache.delete_key(&key).await
            }
            _ => cache.clear_all().await,
        }
        .expect("the change is made");
        tokio::time::sleep(STALENESS_BOUND).await;
        let after = reader.get(path).await;
        assert!(
            !is_near(&after),
            "{change}: still served from memory: {}",
            after.cache_status()
        );
        if change == "soft purge" {
            // Marked stale in Redis: this request refreshes it.
            assert!(
                after.cache_status().contains("fwd=stale"),
                "{change}: {}",
                after.cache_status()
            );
        } else {
            assert_ne!(after.body, old.body, "{change}: the old page");
        }
    }
}

/// Pages enough that, on a cluster, every master holds some: each master's
/// invalidations must reach the reader.
const SPREAD: usize = 18;

async fn a_purge_leaves_no_near_copy_of_pages_in_any_slot_after_50_ms(store: Shared) {
    let writer = store.app(json!({})).await;
    let reader = writer.peer(json!({})).await;
    let paths: Vec<String> = (0..SPREAD).map(|i| format!("/item/n{i}")).collect();
    for path in &paths {
        writer.get(path).await;
        warm_near(&reader, path).await;
    }
    writer
        .cache()
        .purge_tags(&["items".to_owned()], false)
        .await
        .expect("purge");
    tokio::time::sleep(STALENESS_BOUND).await;
    for path in &paths {
        let after = reader.get(path).await;
        assert!(
            !is_near(&after),
            "{path}: still served from memory: {}",
            after.cache_status()
        );
    }
}

#[tokio::test]
async fn a_page_replaced_in_redis_by_another_instance_is_dropped_from_memory() {
    let writer = TestApp::spawn(json!({})).await;
    let reader = writer.peer(json!({})).await;
    let path = "/plain/replaced";
    writer.get(path).await;
    let old = warm_near(&reader, path).await;

    // Another instance stores a new render over the key (as after a purge
    // elsewhere that this instance's test cannot see): the store is the change.
    let key = writer.namespace.page_key(path).expect("stored page");
    let raw: Vec<u8> = writer.namespace.command(redis::cmd("GET").arg(&key));
    let ttl: u64 = writer.namespace.command(redis::cmd("PTTL").arg(&key));
    writer
        .namespace
        .command::<()>(redis::cmd("SET").arg(&key).arg(raw).arg("PX").arg(ttl));
    tokio::time::sleep(STALENESS_BOUND).await;
    let after = reader.get(path).await;
    assert!(!is_near(&after), "{}", after.cache_status());
    assert_eq!(after.body, old.body, "the same bytes, now read from Redis");
}

#[tokio::test]
async fn a_page_lives_near_no_longer_than_it_is_fresh_in_redis() {
    let clock = ManualClock::starting_now();
    let app = TestApp::spawn_with_clock(json!({ "default_ttl": 1 }), &clock).await;
    app.get("/plain/short").await;
    warm_near(&app, "/plain/short").await;
    clock.advance(Duration::from_millis(1100));
    let reply = app.get("/plain/short").await;
    assert!(
        reply.cache_status().contains("fwd=stale"),
        "{}",
        reply.cache_status()
    );
}

#[tokio::test]
async fn near_max_ttl_ms_caps_a_pages_life_in_memory() {
    let app = TestApp::spawn(json!({ "near_max_ttl_ms": 200 })).await;
    app.get("/plain/capped").await;
    warm_near(&app, "/plain/capped").await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    let reply = app.get("/plain/capped").await;
    assert_eq!(reply.x_cache(), "HIT");
    assert!(
        !is_near(&reply),
        "read from Redis again: {}",
        reply.cache_status()
    );
}

/// Readers fill the near cache while another instance keeps purging and
/// re-rendering: a value fetched before a purge and kept after it would leave
/// an old render near for good. After each round the reader must serve the
/// render that Redis holds.
#[tokio::test]
async fn a_value_fetched_across_an_invalidation_is_never_kept() {
    let writer = TestApp::spawn(json!({})).await;
    let reader = Arc::new(writer.peer(json!({})).await);
    link_up(&reader).await;
    let path = "/plain/race";
    for round in 0..30 {
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let reader = Arc::clone(&reader);
                tokio::spawn(async move {
                    for _ in 0..10 {
                        reader.get(path).await;
                    }
                })
            })
            .collect();
        for _ in 0..3 {
            writer.cache().purge_path(path, false).await.expect("purge");
            writer.get(path).await;
        }
        for task in readers {
            task.await.expect("reader");
        }
        let in_redis = writer.get(path).await;
        assert_eq!(in_redis.x_cache(), "HIT", "round {round}");
        tokio::time::sleep(STALENESS_BOUND).await;
        for _ in 0..3 {
            let seen = reader.get(path).await;
            assert_eq!(
                seen.body,
                in_redis.body,
                "round {round}: {}",
                seen.cache_status()
            );
        }
    }
}

async fn start_on_own(redis: &OwnRedis, extra: serde_json::Value) -> TestApp {
    let backend = Arc::new(Backend::default());
    TestApp::start_on(
        &redis.url,
        &Namespace::throwaway(&redis.url),
        &backend,
        extra,
    )
    .await
}

#[tokio::test]
async fn a_dropped_link_flushes_the_near_cache_at_once() {
    let mut redis = OwnRedis::start().await;
    let app = start_on_own(&redis, json!({ "op_timeout_ms": 50 })).await;
    app.get("/plain/dropped").await;
    warm_near(&app, "/plain/dropped").await;

    redis.kill();
    eventually(
        Duration::from_millis(300),
        "the near cache turns off",
        || async { (!app.cache().near_serving()).then_some(()) },
    )
    .await;
    let reply = app.get("/plain/dropped").await;
    assert_eq!(reply.x_cache(), "BYPASS", "{}", reply.cache_status());
    assert_eq!(app.backend.renders("/plain/dropped"), 2);
}

/// A silent partition: the link stays open but nothing flows. The heartbeat
/// notices within its interval; when Redis answers again, so does the link.
#[tokio::test]
async fn a_silent_link_is_noticed_by_the_heartbeat_then_restored() {
    let redis = OwnRedis::start().await;
    let app = start_on_own(
        &redis,
        json!({ "op_timeout_ms": 50, "near_heartbeat_ms": 100 }),
    )
    .await;
    app.get("/plain/silent").await;
    warm_near(&app, "/plain/silent").await;

    redis.freeze();
    eventually(Duration::from_secs(1), "the heartbeat notices", || async {
        (!app.cache().near_serving()).then_some(())
    })
    .await;
    let reply = app.get("/plain/silent").await;
    assert!(!is_near(&reply), "{}", reply.cache_status());

    redis.thaw();
    link_up(&app).await;
    warm_near(&app, "/plain/silent").await;
}
