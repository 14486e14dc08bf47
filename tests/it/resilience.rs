//! `MySQL` going away: at start (launch aborted, one clear line) and while running
//! (503 with `Retry-After`, then recovery without a restart).

use std::time::{Duration, Instant};

use test_support::{eventually, free_port, mysql_addr, random_name};

use crate::support::process::{server_command, Process};
use crate::support::proxy::{FaultProxy, Mode};
use crate::support::{AppBuilder, TestApp};

/// An app whose `MySQL` traffic goes through a fault proxy.
async fn app_behind_proxy(acquire_timeout_ms: u64) -> (TestApp, FaultProxy) {
    let proxy = FaultProxy::start(mysql_addr()).await;
    let builder = AppBuilder::new();
    // mysql_async moves a connection to 127.0.0.1 onto the server's Unix socket
    // unless told not to, which would bypass the proxy.
    let url = format!(
        "mysql://root@127.0.0.1:{}/{}?prefer_socket=false",
        proxy.port(),
        builder.db().name
    );
    let app = builder
        .with("databases.main.url", url)
        .with("databases.main.pool_size", 2)
        .with("databases.main.acquire_timeout_ms", acquire_timeout_ms)
        .with("databases.main.connect_timeout_ms", 10_000)
        // Without a page cache, so that every request needs MySQL.
        .with("cache.backend", "none")
        .start()
        .await;
    (app, proxy)
}

/// Polls `uri` until it answers `status`; panics after `within`.
async fn wait_for_status(app: &TestApp, uri: &str, status: u16, within: Duration) {
    let what = format!("{uri} answers {status}");
    eventually(within, &what, || async {
        (app.get_text(uri).await.0 == status).then_some(())
    })
    .await;
}

/// Asserts the HTML 503 page and the JSON 503, both with `Retry-After`.
async fn assert_unavailable(app: &TestApp) {
    let page = app.fetch("/").await;
    assert_eq!(page.status, 503, "{}", page.body);
    assert!(page.is_html(), "{:?}", page.headers);
    assert!(
        page.body.contains("503 · Service Unavailable"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("The database is unavailable right now"),
        "{}",
        page.body
    );
    assert_eq!(page.header("retry-after"), Some("5"));
    assert_eq!(page.header("cache-control"), Some("no-store"));

    let api = app.fetch("/api/users").await;
    assert_eq!(api.status, 503, "{}", api.body);
    assert!(api.is_json(), "{:?}", api.headers);
    assert_eq!(api.json()["error"]["status"], 503);
    assert_eq!(api.header("retry-after"), Some("5"));

    let user = app.fetch("/users/1").await;
    assert_eq!(user.status, 503, "{}", user.body);

    let ready = app.fetch("/health/ready").await;
    assert_eq!(ready.status, 503, "{}", ready.body);
    let body = ready.json();
    assert_eq!(body["status"], "unavailable", "{body}");
    assert_eq!(body["database"]["status"], "down", "{body}");
    assert_eq!(ready.header("cache-control"), Some("no-store"));

    // The process is alive all along.
    let (status, _) = app.get_text("/health/live").await;
    assert_eq!(status, 200);
}

#[rocket::async_test]
async fn mysql_lost_while_running_gives_503_then_the_app_recovers_by_itself() {
    let (app, proxy) = app_behind_proxy(2_000).await;
    let (status, _) = app.get_text("/").await;
    assert_eq!(status, 200);

    proxy.switch(Mode::Cut).await;
    assert_unavailable(&app).await;

    let dialled = proxy.accepted();
    proxy.switch(Mode::Pass).await;
    wait_for_status(&app, "/", 200, Duration::from_secs(15)).await;
    assert!(
        proxy.accepted() > dialled,
        "recovered without a new connection?"
    );
    let (status, body) = app.get_json("/health/ready").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["database"]["status"], "up");
    let (status, body) = app.get_text("/users/1").await;
    assert_eq!(status, 200);
    assert!(body.contains("Soumitra"));
}

#[rocket::async_test]
async fn mysql_hung_while_running_gives_503_within_the_acquire_budget() {
    let (app, proxy) = app_behind_proxy(500).await;
    let (status, _) = app.get_text("/").await;
    assert_eq!(status, 200);

    proxy.switch(Mode::Stall).await;
    // Connections now open but never answer; the connect timeout is 10 s, so only
    // the 500 ms acquire budget can make this quick.
    for uri in ["/", "/api/users", "/health/ready"] {
        let started = Instant::now();
        let reply = app.fetch(uri).await;
        let took = started.elapsed();
        assert_eq!(reply.status, 503, "{uri}: {}", reply.body);
        assert!(took < Duration::from_secs(4), "{uri} took {took:?}");
    }
    assert_unavailable(&app).await;

    proxy.switch(Mode::Pass).await;
    wait_for_status(&app, "/", 200, Duration::from_secs(15)).await;
    wait_for_status(&app, "/health/ready", 200, Duration::from_secs(15)).await;
}

#[rocket::async_test]
async fn mysql_unreachable_at_start_aborts_the_launch_without_a_panic() {
    let url = format!("mysql://root@127.0.0.1:{}/x", free_port());
    let started = Instant::now();
    let result = AppBuilder::new()
        .with("databases.main.url", url)
        .with("databases.main.startup_timeout_secs", 1)
        .try_start()
        .await;
    let Err(error) = result else {
        panic!("the app launched without MySQL")
    };
    assert!(
        matches!(error.kind(), rocket::error::ErrorKind::FailedFairings(f) if f.iter().any(|f| f.name == "MySQL pool")),
        "{error}"
    );
    // It retried for about its startup budget, not for the default 30 s.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[rocket::async_test]
async fn the_server_exits_non_zero_with_one_line_naming_the_hidden_url_and_the_fix() {
    let port = free_port();
    let databases = format!(
        "{{main={{url=\"mysql://root:pw-Zq81x@127.0.0.1:{port}/x\",startup_timeout_secs=1}}}}"
    );
    let mut server = Process::spawn(server_command(&[
        ("ROCKET_DATABASES", databases),
        (
            "ROCKET_CACHE",
            format!("{{namespace=\"{}\"}}", random_name("rc-test")),
        ),
        ("ROCKET_PORT", free_port().to_string()),
    ]));
    let status = server.wait_exit(Duration::from_secs(30)).await;
    let output = server.output();
    assert!(!status.success(), "{status}; output:\n{output}");
    // The password itself, wherever it might show (the log does name `secret_key`).
    assert!(
        !output.contains("pw-Zq81x"),
        "the password leaked:\n{output}"
    );
    assert!(!output.contains("panicked"), "{output}");
    let hidden = format!("mysql://root:***@127.0.0.1:{port}/x");
    let line = output
        .lines()
        .find(|line| line.contains("cannot reach MySQL"))
        .unwrap_or_else(|| panic!("no line says MySQL is unreachable:\n{output}"));
    assert!(line.contains(&hidden), "{line}");
    assert!(line.contains("Start MariaDB"), "{line}");
    assert!(line.contains("/usr/sbin/mariadbd"), "{line}");
}
