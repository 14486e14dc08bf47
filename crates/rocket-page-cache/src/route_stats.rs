//! Counters per route policy: what the cache did with each request, and how long
//! renders took.
//!
//! The set of routes is fixed when the handle is built (one entry per distinct
//! route pattern and `[[cache.rules]]` path), so nothing a request sends can add
//! a series: exporters may label by route without bounding anything themselves.
//! Counters are plain atomics, bumped where the global ones are, so the per-route
//! figures add up to the global ones.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

/// What the cache did with one request it had a policy for.
///
/// Exporters and the cluster figures walk [`Outcome::ALL`], so a new outcome is
/// added here (variant, `ALL`, `as_str`, `from_cache`) and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Answered from a fresh stored page (also when handed over by the render
    /// this request waited for).
    Hit,
    /// Answered from a fresh page in this instance's near cache.
    NearHit,
    /// Answered from a stored page past its lifetime, within grace, while
    /// another request refreshes it.
    Stale,
    /// The route rendered it (also when the render failed and a stored copy
    /// answered instead: the route ran).
    Miss,
    /// The request must not use the shared cache (private, host, spelling, off).
    Bypass,
}

impl Outcome {
    /// Every outcome, in the order exporters list them.
    pub const ALL: &'static [Self] = &[
        Self::Hit,
        Self::NearHit,
        Self::Stale,
        Self::Miss,
        Self::Bypass,
    ];

    /// The label value: `hit`, `near_hit`, `stale`, `miss`, `bypass`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::NearHit => "near_hit",
            Self::Stale => "stale",
            Self::Miss => "miss",
            Self::Bypass => "bypass",
        }
    }

    /// Whether the answer came out of the cache: these count as hits in a hit
    /// ratio, [`Outcome::Miss`] as misses, and bypasses not at all (the cache was
    /// not allowed to help).
    pub fn from_cache(self) -> bool {
        matches!(self, Self::Hit | Self::NearHit | Self::Stale)
    }

    fn index(self) -> usize {
        Self::ALL
            .iter()
            .position(|&o| o == self)
            .unwrap_or_default()
    }
}

/// Upper bounds, in seconds, of the render-time histogram's buckets: 1 ms to 10 s,
/// about 2.5x apart (the usual Prometheus latency spread).
pub const RENDER_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// One route's position in the table, found once per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteId(pub(crate) usize);

/// The counters of every route, indexed by [`RouteId`].
pub struct RouteStats {
    routes: Vec<RouteCounters>,
}

struct RouteCounters {
    label: String,
    outcomes: Vec<AtomicU64>,
    render: Histogram,
}

impl RouteStats {
    /// One entry per label, in order; labels must be distinct (the policies
    /// dedupe them).
    pub fn new(labels: &[String]) -> Self {
        Self {
            routes: labels
                .iter()
                .map(|label| RouteCounters {
                    label: label.clone(),
                    outcomes: Outcome::ALL.iter().map(|_| AtomicU64::new(0)).collect(),
                    render: Histogram::new(RENDER_BUCKETS),
                })
                .collect(),
        }
    }

    /// The route pattern `route` was declared with.
    pub fn label(&self, route: RouteId) -> Option<&str> {
        self.routes.get(route.0).map(|r| r.label.as_str())
    }

    /// Counts one request of `route`.
    pub fn count(&self, route: RouteId, outcome: Outcome) {
        if let Some(counter) = self
            .routes
            .get(route.0)
            .and_then(|r| r.outcomes.get(outcome.index()))
        {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records how long one render of `route` took.
    pub fn record_render(&self, route: RouteId, took: Duration) {
        if let Some(r) = self.routes.get(route.0) {
            r.render.observe(took);
        }
    }

    pub fn snapshot(&self) -> Vec<RouteStatsSnapshot> {
        self.routes
            .iter()
            .map(|r| RouteStatsSnapshot {
                route: r.label.clone(),
                requests: Outcome::ALL
                    .iter()
                    .zip(&r.outcomes)
                    .map(|(&outcome, count)| (outcome, count.load(Ordering::Relaxed)))
                    .collect(),
                render_seconds: r.render.snapshot(),
            })
            .collect()
    }
}

/// One route's figures at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteStatsSnapshot {
    /// The route pattern as declared (`/users/<id>`), never a request's path.
    pub route: String,
    /// Requests since start per outcome, one pair for each of [`Outcome::ALL`].
    pub requests: Vec<(Outcome, u64)>,
    /// How long the route took to render, for the requests it rendered.
    pub render_seconds: HistogramSnapshot,
}

impl RouteStatsSnapshot {
    /// Requests of this route with `outcome` since start.
    pub fn requests(&self, outcome: Outcome) -> u64 {
        self.requests
            .iter()
            .find(|(o, _)| *o == outcome)
            .map_or(0, |(_, n)| *n)
    }
}

/// A histogram of durations with fixed buckets: bounded memory, lock-free updates.
struct Histogram {
    bounds: &'static [f64],
    /// One counter per bound, then one for everything above the last.
    counts: Vec<AtomicU64>,
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
        }
    }

    fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = self
            .bounds
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(self.bounds.len());
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn snapshot(&self) -> HistogramSnapshot {
        let mut running = 0;
        let mut cumulative = Vec::with_capacity(self.bounds.len());
        for count in &self.counts[..self.bounds.len()] {
            running += count.load(Ordering::Relaxed);
            cumulative.push(running);
        }
        let count = running + self.counts[self.bounds.len()].load(Ordering::Relaxed);
        #[allow(clippy::cast_precision_loss)] // nanoseconds to seconds for display
        let sum_seconds = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        HistogramSnapshot {
            bounds: self.bounds,
            cumulative,
            count,
            sum_seconds,
        }
    }
}

/// A histogram at one moment, in the shape Prometheus exposes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistogramSnapshot {
    /// Upper bounds of the buckets, in seconds, ascending (no `+Inf`).
    pub bounds: &'static [f64],
    /// Observations at or below each bound (cumulative), one per bound.
    pub cumulative: Vec<u64>,
    /// Every observation (the `+Inf` bucket).
    pub count: u64,
    pub sum_seconds: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_counted_per_route_and_unknown_routes_are_ignored() {
        let stats = RouteStats::new(&["/".to_owned(), "/users/<id>".to_owned()]);
        let user = RouteId(1);
        for _ in 0..3 {
            stats.count(user, Outcome::Hit);
        }
        stats.count(user, Outcome::Miss);
        stats.count(RouteId(9), Outcome::Hit);
        let snapshot = stats.snapshot();
        assert_eq!(snapshot[1].route, "/users/<id>");
        assert_eq!(snapshot[1].requests(Outcome::Hit), 3);
        assert_eq!(snapshot[1].requests(Outcome::Miss), 1);
        assert_eq!(snapshot[0].requests(Outcome::Hit), 0);
        assert_eq!(snapshot[0].requests.len(), Outcome::ALL.len());
        assert_eq!(stats.label(user), Some("/users/<id>"));
        assert_eq!(stats.label(RouteId(2)), None);
    }

    #[test]
    fn renders_fall_in_cumulative_buckets() {
        let stats = RouteStats::new(&["/".to_owned()]);
        let route = RouteId(0);
        stats.record_render(route, Duration::from_micros(500));
        stats.record_render(route, Duration::from_millis(1));
        stats.record_render(route, Duration::from_millis(30));
        stats.record_render(route, Duration::from_mins(1));
        let render = &stats.snapshot()[0].render_seconds;
        assert_eq!(render.count, 4);
        assert_eq!(render.cumulative[0], 2, "0.5 ms and 1 ms are <= 1 ms");
        let at = |bound: f64| {
            let i = render
                .bounds
                .iter()
                .position(|&b| (b - bound).abs() < 1e-12)
                .unwrap();
            render.cumulative[i]
        };
        assert_eq!(at(0.025), 2);
        assert_eq!(at(0.05), 3);
        assert_eq!(at(10.0), 3, "a minute is only in +Inf");
        assert!(
            (render.sum_seconds - 60.0315).abs() < 1e-9,
            "{}",
            render.sum_seconds
        );
    }

    #[test]
    fn only_hits_near_or_not_and_stale_answers_come_from_the_cache() {
        let from_cache: Vec<_> = Outcome::ALL.iter().filter(|o| o.from_cache()).collect();
        assert_eq!(
            from_cache,
            [&Outcome::Hit, &Outcome::NearHit, &Outcome::Stale]
        );
    }
}
