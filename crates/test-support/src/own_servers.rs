//! What the servers a test starts of its own share: one `redis-cli` command (and
//! the output of any other command), a blocking poll while a deployment forms,
//! and a watchdog that outlives nothing.

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

/// The file in a deployment's directory that names its servers' process ids,
/// for its [`watchdog`] to kill.
const WATCHED_PIDS: &str = "watched.pids";

/// Names the servers `pids` in `dir` for its [`watchdog`]; a server started
/// again (a restart) is named anew, replacing the list.
pub fn watch_pids(dir: &Path, pids: &[u32]) {
    let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
    std::fs::write(dir.join(WATCHED_PIDS), pids.join(" "))
        .expect("write the servers' process ids for the watchdog");
}

/// A shell that outlives nothing: once this test process is gone it kills the
/// servers named in `dir` (see [`watch_pids`]) and removes `dir` (a static
/// deployment is never dropped). Started before the servers, it watches from the
/// start: a test process gone while a deployment is being made leaves nothing
/// behind either.
pub fn watchdog(dir: &Path, of_what: &str) -> Child {
    let script = format!(
        "while kill -0 {parent} 2>/dev/null; do sleep 0.5; done; \
         kill -9 $(cat '{dir}/{WATCHED_PIDS}' 2>/dev/null) 2>/dev/null; sleep 0.5; rm -rf '{dir}'",
        parent = std::process::id(),
        dir = dir.display(),
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start the {of_what}'s watchdog: {e}"))
}
