//! rocket-page-cache: a server-side page cache for any Rocket app, shared by every
//! instance through one Redis (or kept in memory, or off).
//!
//! Attach [`PageCache`] with the cache policy of each route ([`RoutePolicy`], the
//! `@cache.cached()` of this engine) and configure it under `[default.cache]`
//! ([`CacheConfig`]). The engine knows nothing of the app: the app hands it route
//! policies, private cookie names and the figment, nothing else; the app reaches
//! the engine through the managed [`Cache`] handle (memo, purge, usage, health).
//!
//! Inside:
//! - `fairing`: lookup before routing, hand the verdict to what answers.
//! - `decide`: what a request gets (bypass, hit, stale, render).
//! - `render`: a render in progress, one constructor per case, and what it owes.
//! - `after_render`: after the route, store what may be stored, step by step.
//! - `respond`: write a stored page, a bypass, the validators into a response.
//! - `revalidate`: `If-None-Match` answered from an entry's head, its page unread.
//! - `cache_status`: the typed reasons and the one `X-Cache`/`Cache-Status` writer.
//! - `key`, `policy`: how a request becomes a key; what is storable.
//! - [`reads`]: what a render read (rows, memberships), recorded by the app's
//!   data layer; the tags an entry is filed under and a [`Change`] purges.
//! - `private`: whether a private cookie stands for a session (decrypts, and the
//!   app's check says it is live), so that junk cookies cannot bypass.
//! - `entry`: the stored envelope (its layout is private).
//! - `encoding`: which content coding a request gets, and each one's `ETag`.
//! - `compress`: a page's body in br or gzip, off the async workers.
//! - `coding_jobs`: a coding a hit asks for, added to the stored page then
//!   (a render is stored only in its requester's coding).
//! - `flight`: one render per key in this process (knows no store).
//! - `lease`: the cluster-wide lease and what a flight's leader does with it,
//!   above the handle.
//! - `fragment`: parts of a page kept in the store under what they read
//!   ([`Cache::fragment`]), for pages that are not stored whole.
//! - `memory_report`: the line at start that says what happens when Redis is full.
//! - `route_stats`: counters per route policy ([`Outcome`], render times).
//! - `handle`: the [`Cache`] handle, every store call within its budget.
//! - `near`: the per-instance L1 in front of Redis and the invalidation link
//!   that keeps it coherent (one tracking connection per master on a cluster;
//!   on the master of the moment under Sentinel).
//! - `fleet`: per-minute counts of every instance, in the shared store.
//! - `tally`: counts of events per member (the login throttle's), in the
//!   shared store, bounded and forgotten after a quiet time.
//! - `singleton`: work one instance does for all (a lease by name, renewed, and a
//!   state only its holder may write).
//! - `warm`: the shared list of hot pages, and the warm start of a new
//!   generation (an instance renders them once before it reports ready).
//! - `clock`: the time every freshness decision reads ([`Clock`]; a
//!   [`ManualClock`] for tests).
//! - [`BuildError`]: why the cache could not be built at ignite, naming the
//!   key to fix ([`config::ConfigError`] for a refused value) and keeping the
//!   cause (the Redis client's, the URL parser's, figment's) as its source.
//! - `store`: Redis (one server, the master Redis Sentinel names, or a
//!   cluster), memory and none backends, behind one trait; values are opaque
//!   bytes to them.

#![forbid(unsafe_code)]

mod after_render;
mod breaker;
mod budget;
mod build_error;
mod cache_status;
mod clock;
mod coding_jobs;
mod compress;
pub mod config;
mod counters;
mod decide;
mod encoding;
mod entry;
mod fairing;
mod fleet;
mod flight;
mod fragment;
#[cfg(test)]
mod freshness_tests;
mod handle;
pub mod index_sweep;
mod key;
mod lease;
mod memory_report;
mod near;
mod policy;
mod private;
pub mod reads;
mod render;
mod respond;
mod revalidate;
mod route_stats;
mod singleton;
mod store;
pub mod tally;
mod warm;

pub use build_error::BuildError;
pub use config::CacheConfig;
pub use fairing::{request_outcome, PageCache, RequestOutcome};
pub use handle::{Cache, CacheUnavailable};
pub use policy::RoutePolicy;
pub use reads::{Change, Reads};
pub use singleton::Singleton;
pub use store::StoreError;

/// A clock tests move by hand ([`PageCache::with_clock`]), so that freshness,
/// grace and age are checked without sleeping.
#[cfg(any(test, feature = "test-util"))]
pub use clock::ManualClock;

/// How routes are declared to the engine besides their [`RoutePolicy`]: how a
/// parameter is spelled canonically, how a session cookie is judged, how a
/// request path is normalised the way keys are.
pub mod routes {
    pub use crate::key::normalise_request_path;
    pub use crate::policy::{Canonical, RoutePolicy};
    pub use crate::private::SessionCheck;
}

/// What the engine reports: its counters, the figures of each route policy,
/// what the store holds and how it bounds its memory, and its health.
pub mod stats {
    pub use crate::counters::StatsSnapshot;
    pub use crate::handle::CacheHealth;
    pub use crate::route_stats::{HistogramSnapshot, Outcome, RouteStatsSnapshot, RENDER_BUCKETS};
    pub use crate::store::{MemoryLimit, Usage};
}
