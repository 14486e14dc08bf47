//! The shared-store suite's parameter: each of its tests is written once, as an
//! `async fn(Shared)`, and [`on_every_store!`](crate::on_every_store) makes one
//! test of it against the shared single Redis (`single::<name>`), one against
//! the run's Redis Cluster (`cluster::<name>`) and one against the master of the
//! run's Sentinel deployment (`sentinel::<name>`).

use std::sync::Arc;

use rocket_page_cache::ManualClock;
use serde_json::{json, Value};
use test_support::{OwnCluster, OwnSentinel};

use super::app::TestApp;
use super::routes::Backend;
use super::Namespace;

/// Which shared store a test of the suite runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shared {
    /// The shared test Redis, one server.
    Single,
    /// The run's Redis Cluster (three masters, three replicas).
    Cluster,
    /// The master of the run's Sentinel deployment (a master, a replica,
    /// three sentinels), found through the sentinels.
    Sentinel,
}

impl Shared {
    /// A namespace of the test's own on this store.
    pub fn namespace(self) -> Arc<Namespace> {
        match self {
            Self::Single => Namespace::new(),
            Self::Cluster => Namespace::on_cluster(OwnCluster::shared().urls()),
            Self::Sentinel => {
                let deployment = OwnSentinel::shared();
                Namespace::on_sentinel(deployment.master_url(), deployment.config())
            }
        }
    }

    /// An instance of the test app on this store, in a namespace of its own.
    pub async fn app(self, extra: Value) -> TestApp {
        TestApp::start(&self.namespace(), &Arc::<Backend>::default(), extra).await
    }

    /// As [`app`](Self::app), the engine reading the time from `clock`.
    pub async fn app_with_clock(self, extra: Value, clock: &ManualClock) -> TestApp {
        let backend = Arc::<Backend>::default();
        TestApp::start_with_clock(&self.namespace(), &backend, extra, Some(clock)).await
    }
}

/// `extra` with `cache.cluster_nodes` set when `namespace` is on a cluster,
/// `cache.sentinel` when it is on a Sentinel deployment.
pub fn with_store(namespace: &Namespace, extra: Value) -> Value {
    let nodes = namespace.cluster_nodes();
    let mut table = match namespace.sentinel() {
        Some(sentinel) => json!({ "sentinel": sentinel }),
        None if !nodes.is_empty() => json!({ "cluster_nodes": nodes }),
        None => return extra,
    };
    if let (Some(table), Some(extra)) = (table.as_object_mut(), extra.as_object()) {
        table.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    table
}

/// One test per store for each `async fn(Shared)` named: `single::<name>`,
/// `cluster::<name>` and `sentinel::<name>`, in the module that calls it.
#[macro_export]
macro_rules! on_every_store {
    ($($case:ident),+ $(,)?) => {
        mod single {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case($crate::support::shared::Shared::Single).await;
                }
            )+
        }
        mod cluster {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case($crate::support::shared::Shared::Cluster).await;
                }
            )+
        }
        mod sentinel {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case($crate::support::shared::Shared::Sentinel).await;
                }
            )+
        }
    };
}
