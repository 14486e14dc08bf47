//! The cluster-wide lease on rendering a page, and what a flight's leader does
//! with it.
//!
//! The leader of a flight (see `flight`) takes a lease in the store (`SET NX PX`
//! with a random token); a leader that finds the lease taken watches the entry
//! with a short backoff until the holder stores it, the lease frees up, or
//! `lock_timeout_ms` passes. Nothing waits forever: leases expire. This sits
//! above the handle: it talks to the cluster through [`Cache`].

use std::time::{Duration, Instant};

use super::entry::{Entry, Freshness, Kind};
use super::handle::{Cache, CacheUnavailable};

/// The cluster's lease on rendering one page: its key in the store and this
/// request's random token. Taken before the render, released after the store.
#[derive(Debug, Clone)]
pub struct Lease {
    key: String,
    token: String,
}

impl Lease {
    /// A claim on the lease of `page_key`, not yet taken.
    pub fn claim(page_key: &str) -> Self {
        Self {
            key: lease_key(page_key),
            token: hex::encode(rand::random::<[u8; 16]>()),
        }
    }

    /// Takes it for `cache.lease_ms` if nobody holds it; `Ok(false)` if someone does.
    pub async fn try_take(&self, cache: &Cache) -> Result<bool, CacheUnavailable> {
        let ttl = cache.config().lease;
        cache.try_lease(&self.key, &self.token, ttl).await
    }

    /// Frees it, if this token still holds it.
    pub async fn release(&self, cache: &Cache) {
        cache.release_lease(&self.key, &self.token).await;
    }
}

/// What a leader should do after talking to the cluster.
pub enum LeaderPlan {
    /// Another instance stored the page meanwhile: serve it.
    Serve(Entry),
    /// Render; with a lease when we hold the cluster's.
    Render(Option<Lease>),
    /// The route answers uncacheable here lately: render, no lease.
    RenderUncacheable,
}

/// The lease key of a page key.
fn lease_key(key: &str) -> String {
    format!("{key}|lease")
}

/// Takes the cluster's lease for `key`, or waits for whoever holds it.
///
/// Store failures end the wait at once: with the store down nobody can be
/// coordinated, so the leader renders for its own process.
pub async fn lead(cache: &Cache, key: &str) -> LeaderPlan {
    let deadline = Instant::now() + cache.config().lock_timeout;
    let lease = Lease::claim(key);
    let mut backoff = Duration::from_millis(5);
    loop {
        match lease.try_take(cache).await {
            Ok(true) => {
                // The holder before us may have stored the page just before it let go.
                return match cache.lookup(key).await {
                    Ok(Some(entry)) if is_fresh_page(cache, &entry) => {
                        lease.release(cache).await;
                        LeaderPlan::Serve(entry)
                    }
                    _ => LeaderPlan::Render(Some(lease)),
                };
            }
            Ok(false) => {}
            Err(_) => return LeaderPlan::Render(None),
        }
        if Instant::now() + backoff > deadline {
            return LeaderPlan::Render(None);
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_millis(50));
        match cache.lookup(key).await {
            Ok(Some(entry)) if is_fresh_page(cache, &entry) => return LeaderPlan::Serve(entry),
            Ok(Some(entry)) if is_fresh_marker(cache, &entry) => {
                return LeaderPlan::RenderUncacheable
            }
            Ok(_) => {}
            Err(_) => return LeaderPlan::Render(None),
        }
    }
}

fn is_fresh_page(cache: &Cache, entry: &Entry) -> bool {
    entry.kind == Kind::Page && entry.freshness(cache.now_ms()) == Freshness::Fresh
}

fn is_fresh_marker(cache: &Cache, entry: &Entry) -> bool {
    entry.kind == Kind::HitForMiss && entry.freshness(cache.now_ms()) == Freshness::Fresh
}
