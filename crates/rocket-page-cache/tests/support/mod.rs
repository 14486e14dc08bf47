//! What the engine's tests share: a namespace of their own in the shared Redis
//! (or in a Redis Cluster or Sentinel deployment of the run's own), a minimal
//! Rocket app whose routes count their renders, a Redis server, cluster or
//! Sentinel deployment of a test's own (to stop, freeze or fail over), the
//! shared-store suite's parameter, and one poll helper.

pub mod app;
pub mod failover_load;
pub mod own_cluster;
pub mod own_redis;
pub mod own_sentinel;
pub mod own_servers;
pub mod routes;
pub mod shared;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The shared test Redis (`TEST_REDIS_ADDR`, `host:port`, by default this
/// machine's); tests only touch keys under their own namespace.
pub fn redis_url() -> &'static str {
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    URL.get_or_init(|| {
        let addr = std::env::var("TEST_REDIS_ADDR").unwrap_or_else(|_| "127.0.0.1:6379".to_owned());
        format!("redis://{addr}/")
    })
}

/// Pause between two looks in [`eventually`].
const POLL: Duration = Duration::from_millis(20);

/// Polls `check` until it gives `Some`, failing the test with `what` past `limit`.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(POLL).await;
    }
}

/// A name no other test (or run) uses.
pub fn random_name(prefix: &str) -> String {
    format!("{prefix}-{:016x}", rand::random::<u64>())
}

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
        if self.cluster.is_empty() {
            return scan_namespace(&self.url, &self.name);
        }
        let keys: std::collections::BTreeSet<String> = self
            .cluster
            .iter()
            .flat_map(|url| scan_namespace(url, &self.name))
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
        if let Ok(mut conn) =
            redis::Client::open(self.url.as_str()).and_then(|c| c.get_connection())
        {
            let _: redis::RedisResult<u64> = redis::cmd("UNLINK").arg(&keys).query(&mut conn);
        }
    }
}

/// Every key under `namespace` on the one server at `url` (none when it does
/// not answer); on a cluster, what that one node holds.
pub fn scan_namespace(url: &str, namespace: &str) -> Vec<String> {
    let Ok(mut conn) = redis::Client::open(url).and_then(|c| c.get_connection()) else {
        return Vec::new();
    };
    let pattern = format!("{namespace}:*");
    let mut keys = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query(&mut conn)
            .expect("SCAN");
        keys.extend(batch);
        if next == 0 {
            return keys;
        }
        cursor = next;
    }
}
