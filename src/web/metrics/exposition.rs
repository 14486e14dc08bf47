//! The cache's counters in the Prometheus text exposition format (version 0.0.4),
//! written by hand: a handful of counters need no exporter crate.

use std::fmt::Write;

use rocket_page_cache::StatsSnapshot;

/// The `Content-Type` Prometheus expects for this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every metric of `stats`, each with its `# HELP` and `# TYPE` lines.
pub fn render(stats: &StatsSnapshot) -> String {
    let mut out = String::new();
    counter_family(
        &mut out,
        "page_cache_requests_total",
        "Requests the page cache looked at, by what it did with them.",
        &[
            ("outcome=\"hit\"", stats.hits),
            ("outcome=\"near_hit\"", stats.near_hits),
            ("outcome=\"stale\"", stats.stale),
            ("outcome=\"miss\"", stats.misses),
            ("outcome=\"bypass\"", stats.bypasses),
        ],
    );
    counter(
        &mut out,
        "page_cache_renders_total",
        "Pages rendered by the app because the cache had no usable entry.",
        stats.misses,
    );
    counter(
        &mut out,
        "page_cache_coalesced_total",
        "Requests that waited for another request's render instead of rendering.",
        stats.collapsed,
    );
    counter(
        &mut out,
        "page_cache_stored_total",
        "Rendered pages written to the cache store.",
        stats.stored,
    );
    counter(
        &mut out,
        "page_cache_store_errors_total",
        "Cache store operations that failed or ran out of time.",
        stats.errors,
    );
    out
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    counter_family(out, name, help, &[("", value)]);
}

/// One counter with a sample per label set (`""` for none).
fn counter_family(out: &mut String, name: &str, help: &str, samples: &[(&str, u64)]) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} counter");
    for (labels, value) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_counter_has_help_type_and_its_value() {
        let stats = StatsSnapshot {
            hits: 7,
            misses: 3,
            collapsed: 2,
            errors: 1,
            stored: 4,
            ..StatsSnapshot::default()
        };
        let text = render(&stats);
        assert!(text.contains("# TYPE page_cache_requests_total counter\n"));
        assert!(text.contains("page_cache_requests_total{outcome=\"hit\"} 7\n"));
        assert!(text.contains("page_cache_requests_total{outcome=\"miss\"} 3\n"));
        assert!(text.contains("page_cache_renders_total 3\n"));
        assert!(text.contains("page_cache_coalesced_total 2\n"));
        assert!(text.contains("page_cache_store_errors_total 1\n"));
        assert!(text.contains("page_cache_stored_total 4\n"));
        assert_eq!(text.matches("# HELP ").count(), 5);
        assert_eq!(text.matches("# TYPE ").count(), 5);
    }
}
