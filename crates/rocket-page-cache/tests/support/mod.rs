//! What the engine's tests share: a namespace of their own in the shared Redis
//! (or in a Redis Cluster or Sentinel deployment of the run's own), a minimal
//! Rocket app whose routes count their renders, and the shared-store suite's
//! parameter. The servers a test starts of its own (a Redis server, cluster or
//! Sentinel deployment, to stop, freeze or fail over) and the poll helper are
//! the `test-support` crate's, shared with the app's tests.

pub mod app;
pub mod failover_load;
pub mod routes;
pub mod shared;

use std::sync::Arc;

use test_support::{random_name, redis_url, scan, unlink};

/// A Redis key namespace of a test's own, emptied (SCAN + UNLINK) when the last
/// holder drops it.
pub struct Namespace {
    pub name: String,
    url: String,
    /// The cluster's node URLs when the namespace lives on a Redis Cluster
    /// (then `url` is not used).
    cluster: Vec<String>,
    /// `cache.sentinel` when the namespace lives on the master of a Sentinel
    /// deployment (then `url` is that master's).
    sentinel: Option<serde_json::Value>,
    /// Whether the keys go away with their server (one of the test's own).
    throwaway: bool,
}

impl Namespace {
    /// A namespace in the shared test Redis.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            name: random_name("rpc-test"),
            url: redis_url().to_owned(),
            cluster: Vec::new(),
            sentinel: None,
            throwaway: false,
        })
    }

    /// A namespace on the master of a Sentinel deployment: `master_url` is the
    /// master's now, `sentinel` the `cache.sentinel` table that finds it.
    pub fn on_sentinel(master_url: String, sentinel: serde_json::Value) -> Arc<Self> {
        Arc::new(Self {
            name: random_name("rpc-test"),
            url: master_url,
            cluster: Vec::new(),
            sentinel: Some(sentinel),
            throwaway: false,
        })
    }

    /// `cache.sentinel` of a namespace on a Sentinel deployment.
    pub fn sentinel(&self) -> Option<&serde_json::Value> {
        self.sentinel.as_ref()
    }

    /// A namespace on a Redis Cluster whose nodes are at `urls`, emptied when
    /// dropped as on one server.
    pub fn on_cluster(urls: Vec<String>) -> Arc<Self> {
        Arc::new(Self {
            name: random_name("rpc-test"),
            url: String::new(),
            cluster: urls,
            sentinel: None,
            throwaway: false,
        })
    }

    /// The cluster's node URLs, empty for one server.
    pub fn cluster_nodes(&self) -> &[String] {
        &self.cluster
    }

    /// A namespace on a test's own server, which takes its keys along when it
    /// stops (and may be frozen when this is dropped, so it is not cleaned).
    pub fn throwaway(url: &str) -> Arc<Self> {
        Arc::new(Self {
            name: random_name("rpc-test"),
            url: url.to_owned(),
            cluster: Vec::new(),
            sentinel: None,
            throwaway: true,
        })
    }

    /// Every key under the namespace, by SCAN (never KEYS); on a cluster, of
    /// every node, each key once.
    pub fn keys(&self) -> Vec<String> {
        let pattern = format!("{}:*", self.name);
        if self.cluster.is_empty() {
            return scan(&self.url, &pattern);
        }
        let keys: std::collections::BTreeSet<String> = self
            .cluster
            .iter()
            .flat_map(|url| scan(url, &pattern))
            .collect();
        keys.into_iter().collect()
    }

    /// The stored page of `path` on `localhost` (not its tags or lease), if any.
    pub fn page_key(&self, path: &str) -> Option<String> {
        let suffix = format!(":localhost:{path}");
        self.keys().into_iter().find(|key| key.ends_with(&suffix))
    }

    /// Runs one command against the namespace's Redis (routed by its key on a
    /// cluster).
    pub fn command<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> T {
        if !self.cluster.is_empty() {
            let mut conn = redis::cluster::ClusterClient::new(self.cluster.clone())
                .and_then(|c| c.get_connection())
                .expect("connect to the cluster");
            return command.query(&mut conn).expect("Redis command");
        }
        let mut conn = redis::Client::open(self.url.as_str())
            .and_then(|c| c.get_connection())
            .expect("connect to Redis");
        command.query(&mut conn).expect("Redis command")
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        if self.throwaway {
            return;
        }
        let keys = self.keys();
        if keys.is_empty() {
            return;
        }
        if !self.cluster.is_empty() {
            if let Ok(mut conn) = redis::cluster::ClusterClient::new(self.cluster.clone())
                .and_then(|c| c.get_connection())
            {
                for key in &keys {
                    let _: redis::RedisResult<u64> = redis::cmd("UNLINK").arg(key).query(&mut conn);
                }
            }
            return;
        }
        unlink(&self.url, &keys);
    }
}
