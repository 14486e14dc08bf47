//! `GET /metrics`: exact counters, the optional bearer token, and a format that
//! Prometheus's own checker accepts.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::{AppBuilder, Reply, TestApp};

const TOKEN: &str = "scrape-token-0123456789";

/// The value of the sample `series` (name plus labels) in an exposition.
fn sample(text: &str, series: &str) -> u64 {
    try_sample(text, series).unwrap_or_else(|| panic!("no sample {series} in:\n{text}"))
}

/// The value of `series`, or `None` when the exposition has no such sample.
fn try_sample(text: &str, series: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().expect("a counter is an integer"))
}

/// `page_cache_requests_total` of one outcome and route pattern.
fn requests(outcome: &str, route: &str) -> String {
    format!(r#"page_cache_requests_total{{outcome="{outcome}",route="{route}"}}"#)
}

async fn scrape(app: &TestApp) -> String {
    let reply = app.fetch("/metrics").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

#[rocket::async_test]
async fn ten_hits_add_exactly_ten_to_the_hit_counter_and_reach_mysql_never() {
    let app = TestApp::spawn().await;
    assert_eq!(app.fetch("/users/1").await.x_cache(), "MISS");
    let before = scrape(&app).await;
    let queries = app.queries();

    for _ in 0..10 {
        assert_eq!(app.fetch("/users/1").await.x_cache(), "HIT");
    }

    let after = scrape(&app).await;
    // The first hit comes from Redis; later ones may come from the near cache
    // once its link is up: counted apart, ten in all.
    let hits = requests("hit", "/users/<id>");
    let near_hits = requests("near_hit", "/users/<id>");
    let counted = |text: &str| sample(text, &hits) + sample(text, &near_hits);
    assert_eq!(counted(&after) - counted(&before), 10);
    let misses = requests("miss", "/users/<id>");
    assert_eq!(sample(&after, &misses), sample(&before, &misses));
    // The hits were not rendered: the render histogram did not move.
    let renders = r#"page_cache_render_seconds_count{route="/users/<id>"}"#;
    assert_eq!(sample(&after, renders), 1);
    assert_eq!(sample(&before, renders), 1);
    // The HTTP view of the same requests: under the route pattern, not the
    // cache's internal route.
    let answers = r#"http_requests_total{method="GET",route="/users/<id>",status="200"}"#;
    assert_eq!(sample(&after, answers), 11);
    assert!(!after.contains("__rocket-cache"), "{after}");
    assert_eq!(
        sample(&after, "page_cache_renders_total"),
        sample(&before, "page_cache_renders_total")
    );
    assert_eq!(app.queries(), queries, "a hit reached MySQL");
}

#[rocket::async_test]
async fn routes_are_labelled_by_pattern_so_requests_cannot_add_series() {
    let app = TestApp::spawn().await;
    app.insert_users(3);
    for id in 1..=4 {
        app.fetch(&format!("/users/{id}")).await;
    }
    for n in 0..5 {
        let reply = app.fetch(&format!("/no/such/page/{n}")).await;
        assert_eq!(reply.status, 404);
    }
    let text = scrape(&app).await;
    assert_eq!(sample(&text, &requests("miss", "/users/<id>")), 4);
    assert_eq!(sample(&text, &requests("hit", "/")), 0);
    for id in 1..=4 {
        assert!(!text.contains(&format!("/users/{id}\"")), "{text}");
    }
    assert!(!text.contains("/no/such"), "{text}");
    let unmatched = r#"http_requests_total{method="GET",route="unmatched",status="404"}"#;
    assert_eq!(sample(&text, unmatched), 5);
    assert_eq!(sample(&text, "page_cache_breaker_open"), 0);
    assert!(text.contains("# TYPE page_cache_render_seconds histogram\n"));
    assert!(text.contains("# TYPE http_request_duration_seconds histogram\n"));
}

#[rocket::async_test]
async fn a_stale_answer_is_counted_as_stale_under_its_route() {
    let app = AppBuilder::new().with_test_routes().start().await;
    assert_eq!(app.fetch("/test/user/1").await.x_cache(), "MISS");
    app.cache()
        .purge_path("/test/user/1", true)
        .await
        .expect("soft purge");
    // One request refreshes (held at the gate); meanwhile another gets the
    // stored page, stale.
    let gate = app.gate();
    gate.arm();
    let refresh = app.fetch("/test/user/1");
    let meanwhile = async {
        gate.reached().await;
        let stale = app.fetch("/test/user/1").await;
        gate.release();
        stale
    };
    let (refresh, stale) = tokio::join!(refresh, meanwhile);
    assert_eq!((refresh.x_cache(), stale.x_cache()), ("MISS", "STALE"));

    let text = scrape(&app).await;
    let route = "/test/user/<id>";
    assert_eq!(sample(&text, &requests("stale", route)), 1);
    assert_eq!(sample(&text, &requests("miss", route)), 2);
    assert_eq!(sample(&text, &requests("hit", route)), 0);
    let renders = format!(r#"page_cache_render_seconds_count{{route="{route}"}}"#);
    assert_eq!(sample(&text, &renders), 2);
    // Only declared patterns are listed, each with every outcome.
    assert_eq!(try_sample(&text, &requests("hit", "/test/user/1")), None);
}

#[rocket::async_test]
async fn metrics_are_never_stored_and_say_no_store() {
    let app = TestApp::spawn().await;
    let first = app.fetch("/metrics").await;
    assert_eq!(first.header("cache-control"), Some("no-store"));
    assert!(first
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/plain")));
    app.fetch("/users/1").await;
    // A stored copy would still show the counters of the first scrape.
    let second = scrape(&app).await;
    assert_ne!(first.body, second);
    assert_ne!(app.fetch("/metrics").await.x_cache(), "HIT");
}

#[rocket::async_test]
async fn a_configured_token_is_required_to_scrape() {
    let app = AppBuilder::new().with("metrics.token", TOKEN).start().await;

    let without = app.fetch("/metrics").await;
    assert_eq!(without.status, 401);
    assert!(without.body.contains("metrics.token"), "{}", without.body);
    assert!(!without.body.contains("page_cache_"));
    assert_eq!(
        without.header("www-authenticate"),
        Some("Bearer realm=\"metrics\"")
    );

    let wrong = Reply::read(
        app.get_with("/metrics", &[("Authorization", "Bearer not-the-token")])
            .await,
    )
    .await;
    assert_eq!(wrong.status, 401);

    let bearer = format!("Bearer {TOKEN}");
    let with = Reply::read(
        app.get_with("/metrics", &[("Authorization", &bearer)])
            .await,
    )
    .await;
    assert_eq!(with.status, 200, "{}", with.body);
    assert!(with.body.contains("page_cache_requests_total"));
}

#[rocket::async_test]
async fn without_a_token_configured_metrics_are_open() {
    let app = AppBuilder::new().with("metrics.token", "").start().await;
    assert!(scrape(&app)
        .await
        .contains("# TYPE page_cache_stored_total counter"));
}

#[rocket::async_test]
async fn promtool_accepts_the_exposition() {
    let app = TestApp::spawn().await;
    app.fetch("/users/1").await;
    app.fetch("/users/1").await;
    let text = scrape(&app).await;

    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!(
            "\n!!! SKIPPED promtool_accepts_the_exposition: `promtool` is not installed \
             (apt-get install prometheus; .ci/run does it) !!!\n"
        );
        return;
    };
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(text.as_bytes())
        .expect("promtool reads the exposition");
    let output = child.wait_with_output().expect("promtool finishes");
    assert!(
        output.status.success(),
        "promtool refused the exposition:\n{}{}\n---\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[rocket::async_test]
async fn a_misspelt_metrics_key_stops_the_launch() {
    let started = AppBuilder::new()
        .with("metrics.tokn", TOKEN)
        .try_start()
        .await;
    let Err(error) = started else {
        panic!("an unknown `metrics` key was ignored");
    };
    // Looking at the kind marks the error handled (Rocket panics on an unread one).
    assert!(
        matches!(error.kind(), rocket::error::ErrorKind::FailedFairings(f)
            if f.iter().any(|fairing| fairing.name == "Metrics access")),
        "{error}"
    );
}
