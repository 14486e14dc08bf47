//! What the app's tests (`tests/it`) and the engine's (`crates/rocket-page-cache/tests`)
//! share, written once:
//!
//! - where the shared test servers are ([`redis_addr`], [`redis_url`],
//!   [`mysql_addr`]: from the environment, by default this machine's), and
//!   [`scan`] / [`unlink`] to look inside a namespace of a test's own on them;
//! - the Redis servers a test starts of its own, for what a shared one must never
//!   do (stop, freeze, fill up, fail over): one `redis-server` ([`OwnRedis`]), a
//!   Redis Cluster ([`OwnCluster`]) and a Sentinel deployment ([`OwnSentinel`]),
//!   each with a watchdog that cleans up after a test process that is gone
//!   ([`own_servers`]);
//! - a request to an app under Rocket's local client as a browser sends it
//!   ([`browser_request`]);
//! - one poll helper ([`eventually`]), random names ([`random_name`]) and free
//!   ports ([`free_port`]).
//!
//! A dev-dependency only: nothing here is built into the app or the engine.

pub mod browser_request;
pub mod own_cluster;
pub mod own_redis;
pub mod own_sentinel;
pub mod own_servers;
pub mod shared;

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

pub use browser_request::{browser_request, SEALED_COOKIE};
pub use own_cluster::OwnCluster;
pub use own_redis::OwnRedis;
pub use own_sentinel::OwnSentinel;
pub use shared::{mysql_addr, redis_addr, redis_url, scan, unlink};

/// A short random name, unique enough for parallel tests (and runs) on one
/// server: `<prefix>_<16 hex digits>`.
pub fn random_name(prefix: &str) -> String {
    format!("{prefix}_{:016x}", rand::random::<u64>())
}

/// How often [`eventually`] probes again.
const POLL: Duration = Duration::from_millis(20);

/// Probes until `probe` gives `Some`, and returns it; panics naming `what` when
/// `within` has passed. For what happens by itself (a TTL, a background retry,
/// a recovery) and cannot be awaited directly.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(POLL).await;
    }
}

/// A port of 127.0.0.1 that nothing listens on now, and that this process has
/// not handed out before: servers started at once (tests run in parallel) take
/// a while to bind theirs, so the system could name the same free port twice.
/// Also the port of a server that is not there (connections are refused).
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("bind a free port")
            .port();
        let mut handed_out = HANDED_OUT.lock().unwrap_or_else(PoisonError::into_inner);
        if handed_out.insert(port) {
            return port;
        }
    }
}
