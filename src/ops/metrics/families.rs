//! Building Prometheus metric families by hand, for the collectors that read
//! their figures at scrape time (the page cache's, the read replicas').

use prometheus::proto::{self, LabelPair, Metric, MetricFamily, MetricType};

/// A family named and described by `(name, help)`, of `kind`, with `metrics`.
pub(super) fn family(
    (name, help): (&str, &str),
    kind: MetricType,
    metrics: Vec<Metric>,
) -> MetricFamily {
    let mut family = MetricFamily::default();
    family.set_name(name.to_owned());
    family.set_help(help.to_owned());
    family.set_field_type(kind);
    family.set_metric(metrics);
    family
}

/// A sample with these `(name, value)` labels and no value yet.
pub(super) fn labelled(labels: &[(&str, &str)]) -> Metric {
    let pairs = labels
        .iter()
        .map(|(name, value)| {
            let mut pair = LabelPair::default();
            pair.set_name((*name).to_owned());
            pair.set_value((*value).to_owned());
            pair
        })
        .collect();
    Metric::from_label(pairs)
}

// Counts stay far below 2^53, where f64 (Prometheus's sample type) is exact.
#[allow(clippy::cast_precision_loss)]
pub(super) fn counter(value: u64, labels: &[(&str, &str)]) -> Metric {
    let mut metric = labelled(labels);
    let mut counter = proto::Counter::default();
    counter.set_value(value as f64);
    metric.set_counter(counter);
    metric
}

pub(super) fn gauge(value: f64, labels: &[(&str, &str)]) -> Metric {
    let mut metric = labelled(labels);
    let mut gauge = proto::Gauge::default();
    gauge.set_value(value);
    metric.set_gauge(gauge);
    metric
}
