//! A `redis-server` of a test's own on a free port, for what the shared one must
//! never do: go away, freeze mid-connection, or fill up.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

/// A running `redis-server`, killed when dropped.
pub struct OwnRedis {
    child: Child,
    pub url: String,
}

impl OwnRedis {
    /// Starts one with no persistence and waits until it answers `PING`.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// As [`start`](Self::start), with more `redis-server` arguments
    /// (`--maxmemory 64mb`, ...).
    pub async fn start_with(args: &[&str]) -> Self {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server (is it installed?)");
        let url = format!("redis://127.0.0.1:{port}/");
        let redis = Self { child, url };
        let client = redis::Client::open(redis.url.as_str()).expect("redis URL");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let answered = async {
                let mut conn = client.get_multiplexed_async_connection().await.ok()?;
                redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .ok()
            };
            if answered.await.is_some() {
                break;
            }
            assert!(Instant::now() < deadline, "own redis-server answers PING");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        redis
    }

    /// Freezes it (SIGSTOP): connections stay open, nothing is answered.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Thaws a frozen server (SIGCONT).
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    /// Stops it for good: connections are refused from now on.
    pub fn kill(&mut self) {
        self.thaw();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} failed");
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}
