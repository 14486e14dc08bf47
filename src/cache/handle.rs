//! [`Cache`]: the clonable handle on the configured store, managed by Rocket.

use std::sync::Arc;

use serde::Serialize;

use super::config::{BackendKind, CacheConfig};
use super::store::memory::MemoryStore;
use super::store::none::NoStore;
use super::store::redis::RedisStore;
use super::store::{Store, StoreError};

/// The cache as the app and the fairing see it. Cloning is cheap.
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

struct Inner {
    config: CacheConfig,
    store: Arc<dyn Store>,
    /// `namespace:` — everything this app writes starts with it.
    namespace_prefix: String,
}

/// What `/health/ready` says of the cache.
#[derive(Debug, Clone, Serialize)]
pub struct CacheHealth {
    /// `up`, `degraded` (unreachable: pages are served uncached) or `disabled`.
    pub status: &'static str,
    pub backend: &'static str,
    pub namespace: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Cache {
    /// Builds the store named by `config.backend`; nothing is dialled yet.
    pub fn new(config: CacheConfig) -> Result<Self, String> {
        config.validate()?;
        let namespace_prefix = format!("{}:", config.namespace);
        let store: Arc<dyn Store> = match config.backend {
            BackendKind::Redis => Arc::new(
                RedisStore::new(&config.url, config.op_timeout(), namespace_prefix.clone())
                    .map_err(|e| format!("cache.url: {e}"))?,
            ),
            BackendKind::Memory => Arc::new(MemoryStore::new(config.memory_max_bytes)),
            BackendKind::None => Arc::new(NoStore),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                store,
                namespace_prefix,
            }),
        })
    }

    pub fn config(&self) -> &CacheConfig {
        &self.inner.config
    }

    pub(crate) fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    /// `namespace:`, the start of every key this app owns.
    pub fn namespace_prefix(&self) -> &str {
        &self.inner.namespace_prefix
    }

    /// Runs a store operation within the configured budget.
    pub(crate) async fn within_budget<T>(
        &self,
        op: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let budget = self.inner.config.op_timeout();
        tokio::time::timeout(budget, op)
            .await
            .unwrap_or(Err(StoreError::Timeout(budget)))
    }

    /// Whether the store answers, for health checks.
    pub async fn health(&self) -> CacheHealth {
        let config = &self.inner.config;
        let (status, error) = if config.backend == BackendKind::None {
            ("disabled", None)
        } else {
            match self.within_budget(self.store().ping()).await {
                Ok(()) => ("up", None),
                Err(e) => ("degraded", Some(e.to_string())),
            }
        };
        CacheHealth {
            status,
            backend: self.store().name(),
            namespace: config.namespace.clone(),
            error,
        }
    }
}
