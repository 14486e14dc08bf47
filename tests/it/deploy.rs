//! deploy/: the Grafana dashboard asks only for metrics the app exports, and
//! Prometheus's own checker accepts the scrape config and every query.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use crate::support::TestApp;

fn repo(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// Every panel query of the dashboard, with Grafana's rate window filled in.
fn dashboard_queries() -> Vec<(String, String)> {
    let dashboard: serde_json::Value =
        serde_json::from_str(&repo("deploy/grafana/dashboards/rocket-cache.json"))
            .expect("the dashboard is JSON");
    dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|panel| {
            let title = panel["title"].as_str().unwrap_or_default().to_owned();
            panel["targets"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |target| {
                    let expr = target["expr"].as_str().expect("an expr").to_owned();
                    (title.clone(), expr.replace("$__rate_interval", "5m"))
                })
        })
        .collect()
}

/// The metric names a query reads (`page_cache_*`, `http_*`), histogram series
/// named by their family.
fn metric_names(expr: &str) -> BTreeSet<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("page_cache_") || word.starts_with("http_"))
        .map(|word| {
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| word.strip_suffix(suffix))
                .unwrap_or(word)
                .to_owned()
        })
        .collect()
}

#[rocket::async_test]
async fn the_dashboard_reads_only_metrics_the_app_exports_and_shows_what_operators_need() {
    let app = TestApp::spawn().await;
    app.fetch("/users/1").await;
    let exposition = app.fetch("/metrics").await.body;
    let queries = dashboard_queries();
    let titles: Vec<&str> = queries.iter().map(|(title, _)| title.as_str()).collect();
    for wanted in [
        "Hit ratio",
        "outcome",
        "Render time",
        "HTTP latency",
        "breaker",
    ] {
        assert!(
            titles.iter().any(|t| t.contains(wanted)),
            "no panel about {wanted}: {titles:?}"
        );
    }
    for (title, expr) in &queries {
        let names = metric_names(expr);
        assert!(
            !names.is_empty(),
            "{title}: {expr} reads no metric of the app"
        );
        for name in names {
            assert!(
                exposition.contains(&format!("# TYPE {name} ")),
                "{title}: {name} is not exported:\n{exposition}"
            );
        }
    }
}

/// Runs `promtool` with `args`; `None` (after a loud line) when it is missing.
fn promtool(args: &[&str]) -> Option<std::process::Output> {
    let output = Command::new("promtool").args(args).output();
    if output.is_err() {
        eprintln!(
            "\n!!! SKIPPED a promtool check: `promtool` is not installed \
             (apt-get install prometheus; .ci/run does it) !!!\n"
        );
    }
    output.ok()
}

#[test]
fn promtool_accepts_the_scrape_config_and_every_dashboard_query() {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus.yml");
    let Some(checked) = promtool(&["check", "config", &config.to_string_lossy()]) else {
        return;
    };
    assert!(checked.status.success(), "{checked:?}");

    // Each query as a recording rule: `promtool check rules` parses the PromQL.
    let rules: Vec<serde_json::Value> = dashboard_queries()
        .iter()
        .enumerate()
        .map(|(i, (_, expr))| serde_json::json!({ "record": format!("dashboard:query{i}"), "expr": expr }))
        .collect();
    let file = std::env::temp_dir().join(format!(
        "{}.yml",
        test_support::random_name("dashboard-rules")
    ));
    let groups = serde_json::json!({ "groups": [{ "name": "dashboard", "rules": rules }] });
    std::fs::write(&file, groups.to_string()).expect("write the rules");
    let checked = promtool(&["check", "rules", &file.to_string_lossy()]);
    let _ = std::fs::remove_file(&file);
    let checked = checked.expect("promtool ran a moment ago");
    assert!(
        checked.status.success(),
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}

#[test]
fn compose_runs_prometheus_on_the_scrape_config_and_grafana_on_the_dashboards() {
    let compose = repo("docker-compose.yml");
    for needed in [
        "\n  prometheus:\n",
        "./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro",
        "\n  grafana:\n",
        "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro",
    ] {
        assert!(
            compose.contains(needed),
            "docker-compose.yml lacks {needed:?}"
        );
    }
    // The scrape config finds the app replicas by the compose service name.
    assert!(repo("deploy/prometheus.yml").contains("names: [\"app\"]"));
}
