//! What the tests' own Redis deployments (a cluster, a Sentinel set) share: one
//! `redis-cli` command, a blocking poll while they form, and a watchdog that
//! outlives nothing.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Longest wait for a deployment to form (nodes meet, replicas sync, sentinels
/// find each other) or to settle after a failover.
pub const FORMING_LIMIT: Duration = Duration::from_secs(30);

/// One `redis-cli` command against a server; `None` when it does not answer.
pub fn cli(port: u16, args: &[&str]) -> Option<String> {
    stdout_of(
        Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(args),
    )
}

/// What a command printed, when it ran and succeeded (its errors are dropped).
pub fn stdout_of(command: &mut Command) -> Option<String> {
    let output = command.stderr(Stdio::null()).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Polls `check` (blocking) until it holds, failing the test past
/// [`FORMING_LIMIT`].
pub fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + FORMING_LIMIT;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "{what}: not within {FORMING_LIMIT:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A shell that outlives nothing: once this test process is gone it kills the
/// servers `pids` and removes `dir` (a static deployment is never dropped).
pub fn watchdog(pids: &[u32], dir: &Path, of_what: &str) -> Child {
    let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
    let script = format!(
        "while kill -0 {parent} 2>/dev/null; do sleep 0.5; done; kill -9 {pids} 2>/dev/null; rm -rf '{dir}'",
        parent = std::process::id(),
        pids = pids.join(" "),
        dir = dir.display(),
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start the {of_what}'s watchdog: {e}"))
}
