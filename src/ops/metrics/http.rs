//! HTTP metrics of every answer: `http_requests_total{method,route,status}` and
//! `http_request_duration_seconds{method,route}`.
//!
//! Labels come from closed sets only, so no request can create a series: the
//! method is one of Rocket's (a closed enum), the route is the pattern of a
//! mounted route (or of the cache policy a hit stood for), `unmatched` when no
//! route took the request, and the status is a three-digit code or `other`.

use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// The route label of requests no route took (404s of unknown paths): one series
/// however many paths are tried.
pub const UNMATCHED: &str = "unmatched";

/// Upper bounds (seconds) of the latency buckets: 0.5 ms (a cache hit) to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The two HTTP metric families, registered with the app's registry.
#[derive(Clone)]
pub struct HttpMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
}

/// One answer, as the metrics label it.
pub struct Answer<'a> {
    pub method: &'a str,
    pub route: &'a str,
    pub status: u16,
    pub took: Duration,
}

impl HttpMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "Answers sent, by method, route pattern and status.",
            ),
            &["method", "route", "status"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time from a request's arrival to its answer's headers, by method and route pattern.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["method", "route"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        Ok(Self { requests, duration })
    }

    /// Counts one answer and its latency.
    pub fn observe(&self, answer: &Answer<'_>) {
        let status = status_label(answer.status);
        if let Ok(counter) =
            self.requests
                .get_metric_with_label_values(&[answer.method, answer.route, &status])
        {
            counter.inc();
        }
        if let Ok(histogram) = self
            .duration
            .get_metric_with_label_values(&[answer.method, answer.route])
        {
            histogram.observe(answer.took.as_secs_f64());
        }
    }
}

/// A status code as a label: the code when it is a real one, else `other`.
fn status_label(code: u16) -> String {
    if (100..=599).contains(&code) {
        code.to_string()
    } else {
        "other".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_outside_the_http_range_share_one_label() {
        assert_eq!(status_label(200), "200");
        assert_eq!(status_label(599), "599");
        assert_eq!(status_label(999), "other");
        assert_eq!(status_label(42), "other");
    }
}
