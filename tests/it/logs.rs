//! What the server process logs for requests, read from the real binary's output:
//! one line per request with the path the client asked for (never the cache's
//! internal route), as text or as JSON lines.

use std::time::Duration;

use test_support::{eventually, free_port, redis_addr};

use crate::support::process::{server_command, Process};
use crate::support::{TestDb, TestNamespace};

/// The server binary on a database and namespace of its own, with `extra`
/// environment, once it answers.
struct Server {
    process: Process,
    base: String,
    _db: std::sync::Arc<TestDb>,
    _namespace: std::sync::Arc<TestNamespace>,
}

impl Server {
    async fn start(extra: &[(&str, &str)]) -> Self {
        let db = TestDb::new();
        let namespace = TestNamespace::new();
        let port = free_port();
        let mut env = vec![
            ("ROCKET_PORT", port.to_string()),
            (
                "ROCKET_DATABASES",
                format!("{{main={{url=\"{}\"}}}}", db.url()),
            ),
            (
                "ROCKET_CACHE",
                format!("{{namespace=\"{}\"}}", namespace.name),
            ),
        ];
        env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let mut process = Process::spawn(server_command(&env));
        let base = format!("http://127.0.0.1:{port}");
        process
            .wait_answer(&format!("{base}/health/live"), Duration::from_mins(1))
            .await;
        Self {
            process,
            base,
            _db: db,
            _namespace: namespace,
        }
    }

    /// Sends `method path` with `id` as its `X-Request-Id`; the status and `X-Cache`.
    async fn send(&self, method: reqwest::Method, path: &str, id: &str) -> (u16, String) {
        let response = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .header("X-Request-Id", id)
            .send()
            .await
            .expect("the server answers");
        let x_cache = response
            .headers()
            .get("x-cache")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (response.status().as_u16(), x_cache)
    }

    /// The output's lines, once every one of `ids` shows up in it.
    async fn lines_once_logged(&self, ids: &[&str]) -> Vec<String> {
        eventually(Duration::from_secs(10), "every request logged", || async {
            let output = self.process.output();
            ids.iter()
                .all(|id| output.contains(id))
                .then(|| output.lines().map(str::to_owned).collect())
        })
        .await
    }
}

/// The requests each test sends: (method, path, request id, status, `X-Cache`).
const REQUESTS: &[(&str, &str, &str, u16, &str)] = &[
    ("GET", "/users/1", "log-test-miss", 200, "MISS"),
    ("GET", "/users/1", "log-test-hit", 200, "HIT"),
    ("HEAD", "/users/1", "log-test-head-hit", 200, "HIT"),
    ("GET", "/no/such/page", "log-test-unmatched", 404, ""),
];

async fn send_all(server: &Server) -> Vec<String> {
    for &(method, path, id, status, x_cache) in REQUESTS {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        assert_eq!(
            server.send(method, path, id).await,
            (status, x_cache.to_owned()),
            "{id}"
        );
    }
    let ids: Vec<&str> = REQUESTS.iter().map(|r| r.2).collect();
    server.lines_once_logged(&ids).await
}

/// The one line carrying `id`; fails when there are none or several.
fn line_of<'a>(lines: &'a [String], id: &str) -> &'a str {
    let found: Vec<&String> = lines.iter().filter(|l| l.contains(id)).collect();
    assert_eq!(
        found.len(),
        1,
        "{id}: {found:#?}\nall output:\n{}",
        lines.join("\n")
    );
    found[0]
}

/// What no request may leave in the log: the cache's internal route, and
/// Rocket's own per-request lines (the app's line says it all). Launch lines
/// (which list the mounted routes, internal ones too) are not requests'.
fn assert_no_routine_rocket_lines(lines: &[String]) {
    let launched = lines
        .iter()
        .position(|l| l.contains("Rocket has launched"))
        .unwrap_or_else(|| panic!("no launch line in:\n{}", lines.join("\n")));
    let output = lines[launched + 1..].join("\n");
    for unwanted in [
        "__rocket-cache",
        "No matching routes",
        "Matched:",
        "Response succeeded",
        "catcher",
        "Outcome:",
    ] {
        assert!(!output.contains(unwanted), "{unwanted:?} logged:\n{output}");
    }
}

#[rocket::async_test]
async fn each_request_is_one_text_line_with_its_real_path_outcome_and_id() {
    let server = Server::start(&[]).await;
    let lines = send_all(&server).await;
    let expected = [
        ("log-test-miss", "method=GET", "status=200", "cache=miss"),
        ("log-test-hit", "method=GET", "status=200", "cache=hit"),
        (
            "log-test-head-hit",
            "method=HEAD",
            "status=200",
            // From Redis, or from the near cache once its link is up.
            "hit ms=",
        ),
        (
            "log-test-unmatched",
            "method=GET",
            "status=404",
            "cache=none",
        ),
    ];
    for (id, method, status, cache) in expected {
        let line = line_of(&lines, id);
        for part in [method, status, cache, " ms=", "request_id="] {
            assert!(line.contains(part), "{part:?} missing from {line}");
        }
        assert!(line.contains(" INFO request:"), "{line}");
    }
    assert!(line_of(&lines, "log-test-hit").contains(" path=/users/1 "));
    assert!(line_of(&lines, "log-test-head-hit").contains(" path=/users/1 "));
    assert!(line_of(&lines, "log-test-unmatched").contains(" path=/no/such/page "));
    assert_no_routine_rocket_lines(&lines);
}

#[rocket::async_test]
async fn json_log_format_writes_one_json_object_per_line() {
    let server = Server::start(&[("ROCKET_LOG_FORMAT", "json")]).await;
    let lines = send_all(&server).await;
    for line in lines.iter().filter(|l| !l.trim().is_empty()) {
        let parsed: Result<serde_json::Value, _> = serde_json::from_str(line);
        assert!(
            parsed.is_ok_and(|v| v.is_object()),
            "not a JSON object: {line}"
        );
    }
    for &(method, path, id, status, _) in REQUESTS {
        let line: serde_json::Value =
            serde_json::from_str(line_of(&lines, id)).expect("a JSON line");
        assert_eq!(line["target"], "request", "{line}");
        assert_eq!(line["level"], "INFO", "{line}");
        assert_eq!(line["method"], method, "{line}");
        assert_eq!(line["path"], path, "{line}");
        assert_eq!(line["status"], status, "{line}");
        assert_eq!(line["request_id"], id, "{line}");
        assert!(line["ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{line}");
    }
    let head_hit: serde_json::Value =
        serde_json::from_str(line_of(&lines, "log-test-head-hit")).expect("a JSON line");
    let outcome = head_hit["cache"].as_str().unwrap_or_default();
    assert!(["hit", "near_hit"].contains(&outcome), "{head_hit}");
    assert_no_routine_rocket_lines(&lines);
}

#[rocket::async_test]
async fn a_misspelt_log_format_stops_the_launch_naming_the_key() {
    let db = TestDb::new();
    let mut server = Process::spawn(server_command(&[
        ("ROCKET_PORT", free_port().to_string()),
        (
            "ROCKET_DATABASES",
            format!("{{main={{url=\"{}\"}}}}", db.url()),
        ),
        ("ROCKET_LOG_FORMAT", "jsno".to_owned()),
    ]));
    let status = server.wait_exit(Duration::from_mins(1)).await;
    assert!(!status.success());
    let output = server.output();
    assert!(
        output.contains("log_format") && output.contains("\"json\""),
        "{output}"
    );
}

#[rocket::async_test]
async fn head_hits_log_nothing_in_release() {
    let server = Server::start(&[("ROCKET_PROFILE", "release")]).await;
    let url = format!("{}/users/1", server.base);
    let first = reqwest::get(&url).await.expect("GET answers");
    assert_eq!(first.status(), 200);
    let client = reqwest::Client::new();
    for _ in 0..3 {
        let head = client.head(&url).send().await.expect("HEAD answers");
        assert_eq!(head.status(), 200);
        assert_eq!(head.headers()["x-cache"], "HIT");
    }
    let output = server.process.output();
    assert!(!output.contains("No matching routes"), "{output}");
    assert!(!output.contains("__rocket-cache"), "{output}");
}

/// The cause, not only the symptom: with Rocket's routing lines kept (`debug`),
/// a HEAD hit is matched by a route of its own, without Rocket's failed lookup
/// and fallback to GET.
#[rocket::async_test]
async fn head_hits_are_matched_without_a_fallback() {
    let server = Server::start(&[("ROCKET_LOG_LEVEL", "debug")]).await;
    let url = format!("{}/users/1", server.base);
    assert_eq!(reqwest::get(&url).await.expect("GET answers").status(), 200);
    let head = reqwest::Client::new()
        .head(&url)
        .header("X-Request-Id", "log-test-head")
        .send()
        .await
        .expect("HEAD answers");
    assert_eq!(head.headers()["x-cache"], "HIT");
    let lines = server.lines_once_logged(&["log-test-head"]).await;
    let output = lines.join("\n");
    assert!(
        output.contains("Matched:"),
        "Rocket's routing lines kept:\n{output}"
    );
    assert!(!output.contains("No matching routes"), "{output}");
    assert!(!output.contains("Autohandling"), "{output}");
}

/// Sends `request` as raw bytes and reads the status line of the answer.
async fn send_raw(port: &str, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
        .await
        .expect("connect");
    stream.write_all(request).await.expect("send");
    let mut answer = vec![0; 64];
    let read = stream.read(&mut answer).await.expect("an answer");
    String::from_utf8_lossy(&answer[..read])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[rocket::async_test]
async fn per_request_warnings_are_rate_limited_and_carry_cut_paths_in_release() {
    let mut server = Server::start(&[("ROCKET_PROFILE", "release")]).await;
    let port = server.base.rsplit(':').next().expect("a port").to_owned();
    let long_path = format!("/{}", "a".repeat(60_000));
    for _ in 0..30 {
        let malformed = send_raw(
            &port,
            b"FROB /users/1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(malformed.contains(" 400 "), "{malformed}");
        let two_hosts = format!(
            "GET {long_path} HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\
             Connection: close\r\n\r\n"
        );
        let refused = send_raw(&port, two_hosts.as_bytes()).await;
        assert!(refused.contains(" 400 "), "{refused}");
    }
    let stop = std::process::Command::new("kill")
        .args(["-TERM", &server.process.pid().to_string()])
        .status()
        .expect("kill runs");
    assert!(stop.success());
    server.process.wait_exit(Duration::from_secs(30)).await;
    let output = server.process.output();
    let count = |what: &str| output.lines().filter(|l| l.contains(what)).count();
    assert_eq!(count("Bad incoming HTTP request"), 1, "{output}");
    assert_eq!(count("Host headers"), 1, "{output}");
    for line in output.lines() {
        assert!(
            line.len() < 600,
            "a line of {} bytes: {}...",
            line.len(),
            &line[..200]
        );
    }
}

#[rocket::async_test]
async fn at_start_one_line_says_what_happens_when_redis_is_full() {
    // Information when Redis evicts, a warning when nothing bounds it: both show.
    let server = Server::start(&[("ROCKET_LOG_LEVEL", "normal")]).await;
    let output = server.process.output();
    let lines: Vec<&str> = output
        .lines()
        .filter(|l| l.contains("maxmemory-policy"))
        .collect();
    assert_eq!(lines.len(), 1, "{output}");
    assert!(
        lines[0].contains(&format!("page cache: Redis {}:", redis_addr())),
        "{}",
        lines[0]
    );
}
