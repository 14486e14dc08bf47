//! The engine's own integration tests: a minimal Rocket app per test, the shared
//! Redis (or a `redis-server`, Redis Cluster or Sentinel deployment of the
//! test's own), nothing else.

mod support;

#[path = "../examples/hello.rs"]
mod hello;

mod cluster;
mod compression;
mod entry;
mod eviction;
mod example;
mod fail_open;
mod flight;
mod fragments;
mod keys;
mod memo;
mod memory_limits;
mod near;
mod policy;
mod private;
mod purge;
mod reads;
mod route_stats;
mod sentinel;
mod shared_counts;
mod stale;
