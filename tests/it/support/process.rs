//! The real server binary as a child process, for what only a process shows: the
//! environment overrides Rocket reads, the exit code, and the lines an operator reads.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Pause between two looks at a child or its port.
const POLL: Duration = Duration::from_millis(100);

/// The server binary with a clean `ROCKET_*` environment (none inherited from the
/// shell that runs the tests), the `debug` profile and the repository's
/// Rocket.toml and templates (the working directory is the crate root).
pub fn server_command(env: &[(&str, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rocket-cache"));
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("ROCKET_") {
            command.env_remove(key);
        }
    }
    command
        .env("ROCKET_PROFILE", "debug")
        .env("ROCKET_CLI_COLORS", "false")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// A running child whose stdout and stderr are collected; killed when dropped.
pub struct Process {
    child: Child,
    output: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

impl Process {
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command.spawn().expect("start the server binary");
        let output = Arc::new(Mutex::new(String::new()));
        let mut readers = Vec::new();
        let pipes: [Option<Box<dyn Read + Send>>; 2] = [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ];
        for mut pipe in pipes.into_iter().flatten() {
            let output = output.clone();
            readers.push(std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    output
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }));
        }
        Self {
            child,
            output,
            readers,
        }
    }

    /// The child's process id (for `/proc/<pid>/status`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the child printed so far (stdout and stderr interleaved).
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Its exit status once it has exited by itself, or `None` while it runs.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.try_wait().expect("poll the child")?;
        // The pipes close at exit: wait for the last lines.
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        Some(status)
    }

    /// Waits (polling) until the child exits; panics past `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running after {timeout:?}; output:\n{}",
                self.output()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Polls `url` until it answers with any status; panics if the child exits
    /// first or nothing answers within `timeout`.
    pub async fn wait_answer(&mut self, url: &str, timeout: Duration) -> reqwest::Response {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("HTTP client");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                panic!(
                    "the server exited ({status}) before answering; output:\n{}",
                    self.output()
                );
            }
            if let Ok(response) = client.get(url).send().await {
                return response;
            }
            assert!(
                Instant::now() < deadline,
                "{url} did not answer within {timeout:?}; output:\n{}",
                self.output()
            );
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A Rocket.toml of a test's own (for `ROCKET_CONFIG`), removed when dropped.
pub struct TempConfig {
    pub path: std::path::PathBuf,
}

impl TempConfig {
    pub fn new(contents: &str) -> Self {
        let name = format!("{}.toml", test_support::random_name("rocket-cache-test"));
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, contents).expect("write the config file");
        Self { path }
    }
}

impl Drop for TempConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
