//! A Redis key namespace per test, and plain connections to look inside it.

use std::sync::Arc;

use super::random_name;

/// `host:port` of the shared test Redis: `TEST_REDIS_ADDR`, by default this
/// machine's.
pub fn redis_addr() -> &'static str {
    static ADDR: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    super::server_addr(&ADDR, "TEST_REDIS_ADDR", "127.0.0.1:6379")
}

/// The URL of the shared test Redis.
pub fn redis_url() -> String {
    format!("redis://{}/", redis_addr())
}

/// A Redis key namespace of its own, cleared (SCAN + UNLINK) when the last holder goes.
pub struct TestNamespace {
    pub name: String,
}

impl TestNamespace {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            name: random_name("rc-test"),
        })
    }

    /// The cache's keys under this namespace (SCAN, never KEYS): pages, tags,
    /// leases. The cluster figures' keys (`<namespace>:stats:*`, written by every
    /// instance each second, see [`stats_keys`](Self::stats_keys)) and the warm
    /// start's hot list (`<namespace>:warm:hot`, one key counted from a sample of
    /// the pages served, in the background) are left out, so that tests of what
    /// requests store are not disturbed by them.
    pub fn keys(&self) -> Vec<String> {
        let stats = self.stats_prefix();
        let hot_list = format!("{}:warm:hot", self.name);
        scan(&format!("{}:*", self.name))
            .into_iter()
            .filter(|key| !key.starts_with(&stats) && *key != hot_list)
            .collect()
    }

    /// The cluster figures' keys under this namespace.
    pub fn stats_keys(&self) -> Vec<String> {
        scan(&format!("{}*", self.stats_prefix()))
    }

    fn stats_prefix(&self) -> String {
        format!("{}:stats:", self.name)
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let keys = scan(&format!("{}:*", self.name));
        if keys.is_empty() {
            return;
        }
        if let Ok(mut conn) = redis_conn() {
            let _: redis::RedisResult<u64> = redis::cmd("UNLINK").arg(&keys).query(&mut conn);
        }
    }
}

/// A synchronous connection to the shared test Redis.
pub fn redis_conn() -> redis::RedisResult<redis::Connection> {
    redis::Client::open(redis_url())?.get_connection()
}

/// Every key matching `pattern`, by SCAN.
pub fn scan(pattern: &str) -> Vec<String> {
    let Ok(mut conn) = redis_conn() else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
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
