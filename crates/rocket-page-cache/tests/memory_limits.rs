//! What bounds the cache's share of Redis: the engine reads each server's
//! `maxmemory` and `maxmemory-policy` through its store (every master of a
//! cluster), for the line it logs at start.

use std::sync::Arc;

use serde_json::json;
use test_support::{OwnCluster, OwnRedis};

use crate::support::app::TestApp;
use crate::support::shared::Shared;
use crate::support::Namespace;

#[tokio::test]
async fn a_redis_of_64_mib_with_volatile_lru_is_read_as_such() {
    let redis =
        OwnRedis::start_with(&["--maxmemory", "64mb", "--maxmemory-policy", "volatile-lru"]).await;
    let namespace = Namespace::throwaway(&redis.url);
    let app = TestApp::start_on(&redis.url, &namespace, &Arc::default(), json!({})).await;
    let limits = app.cache().memory_limits().await.expect("INFO answers");
    assert_eq!(limits.len(), 1, "{limits:?}");
    assert_eq!(limits[0].max_bytes, 64 * 1024 * 1024);
    assert_eq!(limits[0].policy, "volatile-lru");
    assert!(redis.url.contains(&limits[0].node), "{limits:?}");
}

#[tokio::test]
async fn redis_out_of_the_box_has_no_limit_and_noeviction() {
    let redis = OwnRedis::start().await;
    let namespace = Namespace::throwaway(&redis.url);
    let app = TestApp::start_on(&redis.url, &namespace, &Arc::default(), json!({})).await;
    let limits = app.cache().memory_limits().await.expect("INFO answers");
    assert_eq!(
        limits
            .iter()
            .map(|l| (l.max_bytes, l.policy.as_str()))
            .collect::<Vec<_>>(),
        [(0, "noeviction")]
    );
}

#[tokio::test]
async fn on_a_cluster_every_master_is_asked() {
    let app = Shared::Cluster.app(json!({})).await;
    let limits = app.cache().memory_limits().await.expect("INFO answers");
    let mut nodes: Vec<u16> = limits
        .iter()
        .map(|l| l.node.rsplit(':').next().unwrap().parse().unwrap())
        .collect();
    nodes.sort_unstable();
    let mut masters = OwnCluster::shared().master_ports();
    masters.sort_unstable();
    assert_eq!(nodes, masters, "{limits:?}");
}

#[tokio::test]
async fn the_memory_backend_has_no_server_to_ask() {
    let app = TestApp::spawn(json!({ "backend": "memory" })).await;
    assert!(app.cache().memory_limits().await.unwrap().is_empty());
}
