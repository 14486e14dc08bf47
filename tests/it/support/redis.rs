//! A Redis key namespace per test, and plain connections to look inside it.

use std::sync::Arc;

use test_support::{random_name, redis_url, unlink};

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
        unlink(redis_url(), &scan(&format!("{}:*", self.name)));
    }
}

/// A synchronous connection to the shared test Redis.
pub fn redis_conn() -> redis::RedisResult<redis::Connection> {
    redis::Client::open(redis_url())?.get_connection()
}

/// Every key matching `pattern` in the shared test Redis, by SCAN.
fn scan(pattern: &str) -> Vec<String> {
    test_support::scan(redis_url(), pattern)
}
