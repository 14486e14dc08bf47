//! The integration tests: one binary, real MariaDB and Redis, a fresh database and
//! Redis namespace per test.

mod support;

mod caching;
mod pages;
