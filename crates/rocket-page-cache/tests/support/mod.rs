//! What the engine's tests share: a namespace of their own in the shared Redis,
//! a minimal Rocket app whose routes count their renders, a Redis server of a
//! test's own (to stop or freeze), and one poll helper.

pub mod app;
pub mod own_redis;
pub mod routes;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The shared test Redis; tests only touch keys under their own namespace.
pub const REDIS_URL: &str = "redis://127.0.0.1:6379/";

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
    /// Whether the keys go away with their server (one of the test's own).
    throwaway: bool,
}

impl Namespace {
    /// A namespace in the shared test Redis.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            name: random_name("rpc-test"),
            url: REDIS_URL.to_owned(),
            throwaway: false,
        })
    }

    /// A namespace on a test's own server, which takes its keys along when it
    /// stops (and may be frozen when this is dropped, so it is not cleaned).
    pub fn throwaway(url: &str) -> Arc<Self> {
        Arc::new(Self {
            name: random_name("rpc-test"),
            url: url.to_owned(),
            throwaway: true,
        })
    }

    /// Every key under the namespace, by SCAN (never KEYS).
    pub fn keys(&self) -> Vec<String> {
        let Ok(mut conn) = redis::Client::open(self.url.as_str()).and_then(|c| c.get_connection())
        else {
            return Vec::new();
        };
        let pattern = format!("{}:*", self.name);
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

    /// The stored page of `path` on `localhost` (not its tags or lease), if any.
    pub fn page_key(&self, path: &str) -> Option<String> {
        let suffix = format!(":localhost:{path}");
        self.keys().into_iter().find(|key| key.ends_with(&suffix))
    }

    /// Runs one command against the namespace's Redis.
    pub fn command<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> T {
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
        if let Ok(mut conn) =
            redis::Client::open(self.url.as_str()).and_then(|c| c.get_connection())
        {
            let _: redis::RedisResult<u64> = redis::cmd("UNLINK").arg(&keys).query(&mut conn);
        }
    }
}
