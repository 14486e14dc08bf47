//! The page cache engine: a Rocket fairing that answers repeat requests from a
//! shared store, and the pieces it is made of.
//!
//! It knows nothing of users, `MySQL` or the app's routes: the app hands it route
//! policies ([`RoutePolicy`]) and the figment, nothing else.
//!
//! - [`fairing`]: lookup before routing, store after rendering.
//! - [`decide`](mod@decide): what a request gets (bypass, hit, stale, render).
//! - [`key`], [`policy`]: how a request becomes a key; what is cacheable.
//! - [`entry`]: the stored envelope.
//! - [`flight`]: one render per key across the cluster.
//! - [`store`]: Redis, memory and none backends.

pub mod config;
mod decide;
pub mod entry;
mod fairing;
mod flight;
mod handle;
pub mod key;
pub mod policy;
mod stats;
pub mod store;

pub use config::{BackendKind, CacheConfig, RuleConfig};
pub use fairing::PageCache;
pub use handle::{path_tag, Cache, CacheHealth};
pub use policy::RoutePolicy;
pub use stats::StatsSnapshot;
