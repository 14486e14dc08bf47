//! The store `cache.backend` names, and the breakers its operations go through.

use std::sync::Arc;

use super::cluster::ClusterStore;
use super::memory::MemoryStore;
use super::none::NoStore;
use super::redis::RedisStore;
use super::Store;
use crate::breaker::Breakers;
use crate::build_error::BuildError;
use crate::config::{BackendKind, CacheConfig};

/// The store for `config`, its keys under `namespace_prefix`; nothing is
/// dialled yet.
pub fn build(
    config: &CacheConfig,
    namespace_prefix: &str,
) -> Result<(Arc<dyn Store>, Breakers), BuildError> {
    let namespace_prefix = namespace_prefix.to_owned();
    // A cluster's masters fail apart: its single-key operations get a breaker
    // per range of slots (see `breaker`).
    let built: (Arc<dyn Store>, Breakers) = match config.backend {
        BackendKind::Redis if config.is_cluster() => (
            Arc::new(ClusterStore::new(
                &config.cluster_nodes,
                config.op_timeout,
                namespace_prefix.clone(),
            )?),
            Breakers::per_slot_range(),
        ),
        BackendKind::Redis => {
            let store = match &config.sentinel {
                Some(sentinel) => RedisStore::via_sentinel(
                    sentinel,
                    &config.url,
                    config.op_timeout,
                    namespace_prefix.clone(),
                )?,
                None => RedisStore::new(&config.url, config.op_timeout, namespace_prefix.clone())?,
            };
            (Arc::new(store), Breakers::single())
        }
        BackendKind::Memory => (
            Arc::new(MemoryStore::new(config.memory_max_bytes)),
            Breakers::single(),
        ),
        BackendKind::None => (Arc::new(NoStore), Breakers::single()),
    };
    Ok(built)
}
