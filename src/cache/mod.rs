//! The page cache engine: a Rocket fairing that answers repeat requests from a
//! shared store, and the pieces it is made of.
//!
//! It knows nothing of users, MySQL or the app's routes: the app hands it route
//! policies and the figment, nothing else.

pub mod config;
pub mod entry;
mod handle;
pub mod store;

pub use config::{BackendKind, CacheConfig, RuleConfig};
pub use handle::{Cache, CacheHealth};
