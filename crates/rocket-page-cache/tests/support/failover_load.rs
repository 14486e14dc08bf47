//! The steady load the failover tests (a Redis Cluster master, a Sentinel
//! master) keep up while a store goes away: workers asking for a round of
//! pages, each answer recorded with when it was asked and how long it took.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::app::{Reply, TestApp};

/// Requests in flight at once.
pub const WORKERS: usize = 8;

/// What one request of the load saw.
pub struct Seen {
    pub at: Instant,
    /// The worker that asked (`0..WORKERS`).
    pub worker: usize,
    pub path: String,
    pub took: Duration,
    pub reply: Reply,
}

/// A hit read from the store by this request: not from the near cache, and not
/// shared by another request of this instance (whose hit may have been near).
pub fn store_hit(reply: &Reply) -> bool {
    let status = reply.cache_status();
    reply.x_cache() == "HIT" && !near_hit(reply) && !status.contains("collapsed")
}

/// A hit from the instance's near cache.
pub fn near_hit(reply: &Reply) -> bool {
    reply.cache_status().contains("detail=near")
}

/// One worker: requests `paths` in turn from `worker` on `app` until `stop`,
/// recording each answer.
pub async fn load_worker(
    app: Arc<TestApp>,
    paths: Arc<Vec<String>>,
    stop: Arc<AtomicBool>,
    worker: usize,
) -> Vec<Seen> {
    let mut seen = Vec::new();
    let mut i = worker;
    while !stop.load(Ordering::SeqCst) {
        let path = &paths[i % paths.len()];
        let at = Instant::now();
        let reply = app.get(path).await;
        seen.push(Seen {
            at,
            worker,
            path: path.clone(),
            took: at.elapsed(),
            reply,
        });
        i += WORKERS;
        // A request the cache cannot help completes without waiting on
        // anything: let the conductor and the other workers run.
        tokio::task::yield_now().await;
    }
    seen
}
