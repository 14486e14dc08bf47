//! The integration tests: one binary, real `MariaDB` and Redis, a fresh database and
//! Redis namespace per test.

mod support;

mod admin;
mod api;
mod binlog_reader;
mod bounds;
mod browser;
mod caching;
mod cluster;
mod cluster_figures;
mod config;
mod deploy;
mod device_cookies;
mod eviction;
mod fairings;
mod fleet_logins;
mod follower;
mod fragments;
mod generation;
mod health;
mod invalidation;
mod keyset;
mod logins;
mod logs;
mod metrics;
mod migrations;
mod near;
mod pages;
mod pool;
mod probe;
mod read_tags;
mod replicas;
mod request_ids;
mod resilience;
mod sentinel;
mod spelling;
mod strangers;
mod warm_start;
mod writes;
