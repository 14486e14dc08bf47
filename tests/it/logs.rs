//! What the server process logs for requests, read from the real binary's output.

use std::time::Duration;

use crate::support::process::{server_command, Process};
use crate::support::{closed_port, TestDb, TestNamespace};

#[rocket::async_test]
async fn head_hits_log_nothing_in_release() {
    let db = TestDb::new();
    let namespace = TestNamespace::new();
    let port = closed_port();
    let mut server = Process::spawn(server_command(&[
        ("ROCKET_PROFILE", "release".to_owned()),
        ("ROCKET_PORT", port.to_string()),
        (
            "ROCKET_DATABASES",
            format!("{{main={{url=\"{}\"}}}}", db.url()),
        ),
        (
            "ROCKET_CACHE",
            format!("{{namespace=\"{}\"}}", namespace.name),
        ),
    ]));
    let url = format!("http://127.0.0.1:{port}/users/1");
    let first = server.wait_answer(&url, Duration::from_mins(1)).await;
    assert_eq!(first.status(), 200);
    let client = reqwest::Client::new();
    for _ in 0..3 {
        let head = client.head(&url).send().await.expect("HEAD answers");
        assert_eq!(head.status(), 200);
        assert_eq!(head.headers()["x-cache"], "HIT");
    }
    let output = server.output();
    assert!(!output.contains("No matching routes"), "{output}");
    assert!(!output.contains("__rocket-cache"), "{output}");
}
