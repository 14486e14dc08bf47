//! What operators read: the request log, the Prometheus metrics, request ids,
//! the health probes, warnings that requests cause, and the fleet's cache
//! figures.

pub mod fleet;
pub(crate) mod health;
pub(crate) mod metrics;
pub(crate) mod request_id;
pub(crate) mod request_log;
pub(crate) mod request_warnings;
