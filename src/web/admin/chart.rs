//! The admin page's chart of the fleet's last hour, as numbers an inline SVG
//! template draws: hit ratio per minute (a line) above requests per minute (bars).
//!
//! Everything is computed here, so the template holds no arithmetic and no
//! script, and the page stays within the CSP (shapes are styled by classes in
//! `static/style.css`, never by `style` attributes). The title and description
//! say in words what the picture shows, for screen readers.

use serde::Serialize;

use crate::ops::fleet::{FleetWindow, Minute};

/// The drawing's coordinate space (the SVG `viewBox`); it scales to the page.
pub const WIDTH: f64 = 600.0;
pub const HEIGHT: f64 = 230.0;
/// Room on the left for the axis labels.
const LEFT: f64 = 48.0;
const RIGHT: f64 = 8.0;
/// The two plots' tops and heights.
const RATIO_TOP: f64 = 22.0;
const RATIO_HEIGHT: f64 = 80.0;
const RATE_TOP: f64 = 140.0;
const RATE_HEIGHT: f64 = 66.0;

/// What the template draws.
#[derive(Debug, Serialize)]
pub struct ChartView {
    pub width: f64,
    pub height: f64,
    pub title: String,
    pub desc: String,
    /// `points` of each run of minutes that had cacheable requests (a minute
    /// without any breaks the line: its ratio is unknown, not zero).
    pub ratio_lines: Vec<String>,
    /// A dot per minute with a ratio, so a lone minute still shows.
    pub ratio_dots: Vec<Dot>,
    pub bars: Vec<Bar>,
    /// The axes' fixed lines and labels.
    pub axes: Axes,
    /// The request axis' top label (the busiest minute).
    pub max_rate: u64,
}

#[derive(Debug, Serialize)]
pub struct Dot {
    pub cx: f64,
    pub cy: f64,
}

#[derive(Debug, Serialize)]
pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// Coordinates of the axes, gridlines and labels.
#[derive(Debug, Serialize)]
pub struct Axes {
    pub left: f64,
    pub right: f64,
    pub ratio_top: f64,
    pub ratio_middle: f64,
    pub ratio_bottom: f64,
    pub rate_top: f64,
    pub rate_bottom: f64,
    /// Baselines of the labels under each plot.
    pub label_under_ratio: f64,
    pub label_under_rate: f64,
    /// Where the y-axis labels end (right-aligned).
    pub label_x: f64,
}

/// The chart of `window` (oldest minute first).
pub fn chart(window: &FleetWindow) -> ChartView {
    let minutes = &window.minutes;
    let count = minutes.len().max(1);
    let step = (WIDTH - LEFT - RIGHT) / as_f64(count as u64);
    let x_of = |i: usize| LEFT + step * (as_f64(i as u64) + 0.5);
    let ratio_y = |ratio: f64| RATIO_TOP + RATIO_HEIGHT * (1.0 - ratio);

    let mut ratio_lines = Vec::new();
    let mut run: Vec<String> = Vec::new();
    let mut ratio_dots = Vec::new();
    for (i, minute) in minutes.iter().enumerate() {
        if let Some(ratio) = minute.hit_ratio() {
            let (x, y) = (round(x_of(i)), round(ratio_y(ratio)));
            run.push(format!("{x},{y}"));
            ratio_dots.push(Dot { cx: x, cy: y });
        } else if !run.is_empty() {
            ratio_lines.push(run.join(" "));
            run.clear();
        }
    }
    if !run.is_empty() {
        ratio_lines.push(run.join(" "));
    }

    let max_rate = minutes.iter().map(|m| m.requests).max().unwrap_or(0);
    let bars = minutes
        .iter()
        .enumerate()
        .filter(|(_, m)| m.requests > 0)
        .map(|(i, m)| {
            let height = RATE_HEIGHT * as_f64(m.requests) / as_f64(max_rate.max(1));
            Bar {
                x: round(x_of(i) - step * 0.4),
                y: round(RATE_TOP + RATE_HEIGHT - height),
                width: round(step * 0.8),
                height: round(height),
            }
        })
        .collect();

    ChartView {
        width: WIDTH,
        height: HEIGHT,
        title: "Cache hit ratio and requests per minute, whole cluster, last hour".to_owned(),
        desc: describe(window),
        ratio_lines,
        ratio_dots,
        bars,
        axes: Axes {
            left: LEFT,
            right: WIDTH - RIGHT,
            ratio_top: RATIO_TOP,
            ratio_middle: RATIO_TOP + RATIO_HEIGHT / 2.0,
            ratio_bottom: RATIO_TOP + RATIO_HEIGHT,
            rate_top: RATE_TOP,
            rate_bottom: RATE_TOP + RATE_HEIGHT,
            label_under_ratio: RATIO_TOP + RATIO_HEIGHT + 14.0,
            label_under_rate: RATE_TOP + RATE_HEIGHT + 16.0,
            label_x: LEFT - 6.0,
        },
        max_rate,
    }
}

/// The chart in words.
fn describe(window: &FleetWindow) -> String {
    let minutes = &window.minutes;
    if window.requests == 0 {
        return "No requests reached the cache in the last hour.".to_owned();
    }
    let ratios: Vec<f64> = minutes.iter().filter_map(Minute::hit_ratio).collect();
    let ratio_part = match (
        window.hit_ratio,
        ratios.iter().copied().reduce(f64::min),
        ratios.iter().copied().reduce(f64::max),
    ) {
        (Some(overall), Some(low), Some(high)) => format!(
            "Hit ratio over the hour {}, per minute between {} and {}.",
            percent(overall),
            percent(low),
            percent(high)
        ),
        _ => "No cacheable requests, so no hit ratio.".to_owned(),
    };
    let busiest = minutes.iter().map(|m| m.requests).max().unwrap_or(0);
    let latest = minutes.last().map_or(0, |m| m.requests);
    format!(
        "{ratio_part} {} requests in the hour, at most {busiest} in a minute, \
         {latest} in the minute in progress.",
        window.requests
    )
}

/// A ratio as a whole percentage, as people read it.
pub fn percent(ratio: f64) -> String {
    format!("{:.0}%", ratio * 100.0)
}

/// Coordinates to a tenth: plenty for a 600-unit drawing, and short markup.
fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

// Minute counts and request counts are far below 2^53: exact as f64.
#[allow(clippy::cast_precision_loss)]
fn as_f64(value: u64) -> f64 {
    value as f64
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn window(points: &[(u64, u64, u64)]) -> FleetWindow {
        let minutes: Vec<Minute> = points
            .iter()
            .enumerate()
            .map(|(i, &(requests, hits, misses))| Minute {
                start: i as u64 * 60,
                requests,
                hits,
                misses,
            })
            .collect();
        let hits = minutes.iter().map(|m| m.hits).sum();
        let misses = minutes.iter().map(|m| m.misses).sum();
        FleetWindow {
            instances: 1,
            window_secs: 3600,
            requests: minutes.iter().map(|m| m.requests).sum(),
            hits,
            misses,
            outcomes: HashMap::new(),
            hit_ratio: crate::ops::fleet::window::ratio(hits, misses),
            minutes,
        }
    }

    #[test]
    fn a_minute_without_cacheable_requests_breaks_the_line() {
        let view = chart(&window(&[(10, 9, 1), (4, 4, 0), (0, 0, 0), (5, 0, 5)]));
        assert_eq!(view.ratio_lines.len(), 2, "{:?}", view.ratio_lines);
        assert_eq!(view.ratio_dots.len(), 3);
        // 100% is at the top of its plot, 0% at the bottom.
        assert!((view.ratio_dots[1].cy - RATIO_TOP).abs() < 0.05);
        assert!((view.ratio_dots[2].cy - (RATIO_TOP + RATIO_HEIGHT)).abs() < 0.05);
        assert_eq!(view.bars.len(), 3, "no bar for an empty minute");
        assert_eq!(view.max_rate, 10);
        assert!((view.bars[0].height - RATE_HEIGHT).abs() < 0.05);
        assert!(
            view.desc.contains("per minute between 0% and 100%"),
            "{}",
            view.desc
        );
        assert!(
            view.desc.contains("19 requests in the hour"),
            "{}",
            view.desc
        );
    }

    #[test]
    fn an_idle_hour_says_so_and_draws_nothing() {
        let view = chart(&window(&[(0, 0, 0); 60]));
        assert!(view.ratio_lines.is_empty() && view.bars.is_empty());
        assert!(view.desc.starts_with("No requests"), "{}", view.desc);
    }

    #[test]
    fn every_shape_stays_inside_the_drawing() {
        let points: Vec<(u64, u64, u64)> = (0..60).map(|i| (i * 7 % 13, i % 5, i % 3)).collect();
        let view = chart(&window(&points));
        for bar in &view.bars {
            assert!(bar.x >= LEFT - 0.1 && bar.x + bar.width <= WIDTH - RIGHT + 0.1);
            assert!(bar.y >= RATE_TOP - 0.1 && bar.y + bar.height <= RATE_TOP + RATE_HEIGHT + 0.1);
        }
        for dot in &view.ratio_dots {
            assert!(dot.cy >= RATIO_TOP - 0.1 && dot.cy <= RATIO_TOP + RATIO_HEIGHT + 0.1);
        }
    }
}
