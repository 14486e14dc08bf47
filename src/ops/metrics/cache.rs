//! The page cache's figures as Prometheus metric families, read from the
//! engine at each scrape (a [`Collector`]): the engine counts, this only exports.
//!
//! Series are bounded by the engine's route policies (every pattern once, with
//! every outcome), never by what requests send. A new engine figure is one line
//! in [`COUNTERS`] or [`GAUGES`]; a new outcome needs none here (the engine's
//! `Outcome::ALL` is walked).

use std::sync::Arc;

use prometheus::core::{Collector, Desc};
use prometheus::proto::{self, Metric, MetricFamily, MetricType};
use rocket_page_cache::stats::{HistogramSnapshot, StatsSnapshot};
use rocket_page_cache::Cache;

use super::families::{counter, family, gauge, labelled};
use crate::follower::FollowerStatus;

/// What the engine says at one scrape.
struct Figures {
    stats: StatsSnapshot,
    breaker_open: bool,
}

type Read = fn(&Figures) -> u64;

/// Counters without labels: name, help, and where the engine keeps the value.
const COUNTERS: &[(&str, &str, Read)] = &[
    (
        "page_cache_renders_total",
        "Pages rendered by the app because the cache had no usable entry.",
        |f| f.stats.misses,
    ),
    (
        "page_cache_coalesced_total",
        "Requests that waited for another request's render instead of rendering.",
        |f| f.stats.collapsed,
    ),
    (
        "page_cache_stored_total",
        "Rendered pages written to the cache store.",
        |f| f.stats.stored,
    ),
    (
        "page_cache_not_stored_total",
        "Rendered pages a shared cache must not keep (status, cookies, Cache-Control, size).",
        |f| f.stats.not_stored,
    ),
    (
        "page_cache_fragment_hits_total",
        "Fragments of admin pages found in the cache store.",
        |f| f.stats.fragment_hits,
    ),
    (
        "page_cache_fragment_near_hits_total",
        "Of the fragment hits, those served from this instance's near cache.",
        |f| f.stats.fragment_near_hits,
    ),
    (
        "page_cache_fragment_renders_total",
        "Fragments of admin pages rendered (not in the store, or the store not usable).",
        |f| f.stats.fragment_renders,
    ),
    (
        "page_cache_codings_added_total",
        "Compressed codings added to stored pages on their first demand.",
        |f| f.stats.codings_added,
    ),
    (
        "page_cache_codings_refused_total",
        "Codings made for a page the store no longer held in that version (rendered again or purged).",
        |f| f.stats.codings_refused,
    ),
    (
        "page_cache_store_errors_total",
        "Cache store operations that failed or ran out of time.",
        |f| f.stats.errors,
    ),
];

/// Gauges without labels.
const GAUGES: &[(&str, &str, Read)] = &[
    (
        "page_cache_breaker_open",
        "1 while the store failed repeatedly and is being skipped, else 0.",
        |f| u64::from(f.breaker_open),
    ),
    (
        "page_cache_near_bytes",
        "Bytes this instance's near cache holds (0 when it is off).",
        |f| f.stats.near_bytes,
    ),
];

const REQUESTS: (&str, &str) = (
    "page_cache_requests_total",
    "Requests to cacheable routes, by route pattern and what the cache did with them.",
);
const RENDER_SECONDS: (&str, &str) = (
    "page_cache_render_seconds",
    "Time the app took to render a page the cache did not have, by route pattern.",
);

const PURGES: (&str, &str) = (
    "page_cache_purges_total",
    "Purges of committed changes, by source: this instance's writes (app) or the database's \
     binlog (binlog).",
);
const BINLOG_EVENTS: (&str, &str) = (
    "page_cache_binlog_events_total",
    "Committed transactions of followed tables this instance read from the binlog and purged.",
);
const BINLOG_LAG: (&str, &str) = (
    "page_cache_binlog_lag_seconds",
    "Seconds between the commit of the last transaction purged and its purge, while this \
     instance follows the binlog (else 0).",
);

/// Collects the engine's figures from a [`Cache`] handle.
pub struct CacheCollector {
    cache: Cache,
    follower: Option<Arc<FollowerStatus>>,
    descs: Vec<Desc>,
}

impl CacheCollector {
    pub fn new(cache: Cache, follower: Option<Arc<FollowerStatus>>) -> prometheus::Result<Self> {
        let desc = |(name, help): (&str, &str), labels: &[&str]| {
            Desc::new(
                name.to_owned(),
                help.to_owned(),
                labels.iter().map(|&l| l.to_owned()).collect(),
                std::collections::HashMap::new(),
            )
        };
        let mut descs = vec![
            desc(REQUESTS, &["outcome", "route"])?,
            desc(RENDER_SECONDS, &["route"])?,
            desc(PURGES, &["source"])?,
            desc(BINLOG_EVENTS, &[])?,
            desc(BINLOG_LAG, &[])?,
        ];
        for (name, help, _) in COUNTERS.iter().chain(GAUGES) {
            descs.push(desc((name, help), &[])?);
        }
        Ok(Self {
            cache,
            follower,
            descs,
        })
    }
}

impl Collector for CacheCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let figures = Figures {
            stats: self.cache.stats_snapshot(),
            breaker_open: self.cache.breaker_open(),
        };
        let routes = self.cache.route_stats_snapshot();
        let mut requests = Vec::new();
        let mut renders = Vec::new();
        for route in &routes {
            for &(outcome, count) in &route.requests {
                requests.push(counter(
                    count,
                    &[("outcome", outcome.as_str()), ("route", &route.route)],
                ));
            }
            renders.push(histogram(&route.render_seconds, &route.route));
        }
        let mut families = vec![
            family(REQUESTS, MetricType::COUNTER, requests),
            family(RENDER_SECONDS, MetricType::HISTOGRAM, renders),
        ];
        for (name, help, read) in COUNTERS {
            let metric = counter(read(&figures), &[]);
            families.push(family((name, help), MetricType::COUNTER, vec![metric]));
        }
        for (name, help, read) in GAUGES {
            // Gauges are byte counts and flags, far below 2^53.
            #[allow(clippy::cast_precision_loss)]
            let metric = gauge(read(&figures) as f64, &[]);
            families.push(family((name, help), MetricType::GAUGE, vec![metric]));
        }
        let purges = vec![
            counter(figures.stats.purges_by_writer, &[("source", "app")]),
            counter(figures.stats.purges_from_log, &[("source", "binlog")]),
        ];
        families.push(family(PURGES, MetricType::COUNTER, purges));
        let (events, lag) = self
            .follower
            .as_ref()
            .map_or((0, 0.0), |f| (f.transactions(), f.lag_seconds()));
        families.push(family(
            BINLOG_EVENTS,
            MetricType::COUNTER,
            vec![counter(events, &[])],
        ));
        families.push(family(BINLOG_LAG, MetricType::GAUGE, vec![gauge(lag, &[])]));
        families
    }
}

fn histogram(snapshot: &HistogramSnapshot, route: &str) -> Metric {
    let mut metric = labelled(&[("route", route)]);
    let mut histogram = proto::Histogram::default();
    histogram.set_sample_count(snapshot.count);
    histogram.set_sample_sum(snapshot.sum_seconds);
    histogram.set_bucket(
        snapshot
            .bounds
            .iter()
            .zip(&snapshot.cumulative)
            .map(|(&bound, &count)| {
                let mut bucket = proto::Bucket::default();
                bucket.set_upper_bound(bound);
                bucket.set_cumulative_count(count);
                bucket
            })
            .collect(),
    );
    metric.set_histogram(histogram);
    metric
}
