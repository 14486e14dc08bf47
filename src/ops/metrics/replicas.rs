//! The read replicas as this instance sees them, one series per configured
//! replica (a bounded list: `databases.main.replicas`), labelled by its URL
//! with the password hidden.

use std::sync::Arc;

use prometheus::core::{Collector, Desc};
use prometheus::proto::{Metric, MetricFamily, MetricType};

use super::families::{counter, family, gauge};
use crate::db::replicas::{ReplicaView, Replicas};

const UP: (&str, &str) = (
    "db_replica_in_rotation",
    "1 while renders may read this replica (healthy and within replica_max_lag_ms), else 0.",
);
const LAG: (&str, &str) = (
    "db_replica_lag_seconds",
    "How far this replica was behind the primary at its last check (-1 when unknown).",
);
const READS: (&str, &str) = (
    "db_replica_reads_total",
    "Render reads this instance made on this replica.",
);
const BEHIND: (&str, &str) = (
    "db_replica_behind_purges_total",
    "Render reads sent to the primary because this replica had not applied a purged write \
     within the wait.",
);

/// Reads each replica's view at scrape time.
pub struct ReplicaCollector {
    replicas: Arc<Replicas>,
    descs: Vec<Desc>,
}

impl ReplicaCollector {
    pub fn new(replicas: Arc<Replicas>) -> prometheus::Result<Self> {
        let descs = [UP, LAG, READS, BEHIND]
            .into_iter()
            .map(|(name, help)| {
                Desc::new(
                    name.to_owned(),
                    help.to_owned(),
                    vec!["replica".to_owned()],
                    std::collections::HashMap::new(),
                )
            })
            .collect::<prometheus::Result<_>>()?;
        Ok(Self { replicas, descs })
    }
}

impl Collector for ReplicaCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let views = self.replicas.views();
        let series = |sample: fn(&ReplicaView, &[(&str, &str)]) -> Metric| -> Vec<Metric> {
            views
                .iter()
                .map(|view| sample(view, &[("replica", &view.replica)]))
                .collect()
        };
        vec![
            family(
                UP,
                MetricType::GAUGE,
                series(|v, labels| gauge(f64::from(u8::from(v.in_rotation)), labels)),
            ),
            family(
                LAG,
                MetricType::GAUGE,
                series(|v, labels| gauge(v.lag_ms.map_or(-1.0, millis_as_seconds), labels)),
            ),
            family(
                READS,
                MetricType::COUNTER,
                series(|v, labels| counter(v.reads, labels)),
            ),
            family(
                BEHIND,
                MetricType::COUNTER,
                series(|v, labels| counter(v.behind_purges, labels)),
            ),
        ]
    }
}

#[allow(clippy::cast_precision_loss)] // lags stay far below 2^53 ms
fn millis_as_seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}
