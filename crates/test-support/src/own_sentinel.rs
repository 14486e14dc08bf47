//! A Redis Sentinel deployment of a test's own: a master, one replica and three
//! sentinels (`redis-server FILE --sentinel`) on free ports, with a short
//! `down-after-milliseconds` and `failover-timeout` so that a killed master's
//! replica is promoted within a few seconds.
//!
//! Every server is killed and the directory of the sentinels' files removed
//! when the deployment is dropped. The one deployment the tests of a run share
//! lives in a static, which is never dropped: a watchdog shell does the same for
//! it once the test process is gone.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use crate::free_port;
use crate::own_servers::{cli, wait_for, watch_pids, watchdog};

/// The name the sentinels monitor the master under.
pub const MASTER_NAME: &str = "rpc-master";
/// Sentinels, of which two must agree that the master is down.
const SENTINELS: usize = 3;
const QUORUM: usize = 2;
/// How long the master may be silent before a sentinel thinks it down (ms).
/// Short, yet long enough that a loaded machine does not fail it over by
/// mistake.
const DOWN_AFTER_MS: u64 = 1_000;
/// Bound of one failover attempt (ms).
const FAILOVER_TIMEOUT_MS: u64 = 3_000;

/// One `redis-server`, as a data node or a sentinel.
struct Server {
    port: u16,
    child: Child,
}

/// A running deployment; see the module's doc.
pub struct OwnSentinel {
    /// The master and the replica it was started with.
    data: Vec<Server>,
    sentinels: Vec<Server>,
    dir: PathBuf,
    watchdog: Child,
}

impl OwnSentinel {
    /// The deployment the tests of this run share (each in a namespace of its
    /// own), started by the first test that asks for it. Its master is never
    /// killed: tests that fail over start their own.
    pub fn shared() -> &'static OwnSentinel {
        static SHARED: OnceLock<OwnSentinel> = OnceLock::new();
        SHARED.get_or_init(OwnSentinel::start)
    }

    /// Starts a master and its replica, then three sentinels monitoring the
    /// master, and waits until the replica is in sync and every sentinel knows
    /// the replica and the two other sentinels (without which no failover can
    /// be agreed). Blocking: it runs once per deployment, before any request.
    pub fn start() -> Self {
        let dir = std::env::temp_dir().join(crate::random_name("rpc-sentinel"));
        std::fs::create_dir_all(&dir).expect("sentinel directory");
        let watchdog = watchdog(&dir, "sentinels");
        let master_port = free_port();
        let replica_port = free_port();
        let master = Server {
            port: master_port,
            child: start_data_node(&dir, master_port, None),
        };
        let replica = Server {
            port: replica_port,
            child: start_data_node(&dir, replica_port, Some(master_port)),
        };
        let mut sentinels = Vec::with_capacity(SENTINELS);
        for _ in 0..SENTINELS {
            let port = free_port();
            sentinels.push(Server {
                port,
                child: start_sentinel(&dir, port, master_port),
            });
        }
        let pids: Vec<u32> = [&master, &replica]
            .into_iter()
            .chain(&sentinels)
            .map(|s| s.child.id())
            .collect();
        watch_pids(&dir, &pids);
        let deployment = Self {
            data: vec![master, replica],
            sentinels,
            dir,
            watchdog,
        };
        wait_for(&format!("replica {replica_port} in sync"), || {
            cli(replica_port, &["INFO", "REPLICATION"])
                .is_some_and(|info| info.contains("master_link_status:up"))
        });
        for sentinel in &deployment.sentinels {
            wait_for(
                &format!("sentinel {} knows the replica and its peers", sentinel.port),
                || {
                    let Some(master) = cli(sentinel.port, &["SENTINEL", "MASTER", MASTER_NAME])
                    else {
                        return false;
                    };
                    let field = |name: &str| field_of(&master, name);
                    field("num-slaves").as_deref() == Some("1")
                        && field("num-other-sentinels").as_deref()
                            == Some(&(SENTINELS - 1).to_string())
                },
            );
        }
        deployment
    }

    /// The sentinels' URLs, as `cache.sentinel.nodes` takes them.
    pub fn sentinel_urls(&self) -> Vec<String> {
        self.sentinels
            .iter()
            .map(|s| format!("redis://127.0.0.1:{}/", s.port))
            .collect()
    }

    /// `cache.sentinel` for this deployment.
    pub fn config(&self) -> serde_json::Value {
        serde_json::json!({ "master": MASTER_NAME, "nodes": self.sentinel_urls() })
    }

    /// The master's port as the first sentinel that answers names it.
    pub fn master_port(&self) -> Option<u16> {
        self.sentinels.iter().find_map(|sentinel| {
            let reply = cli(
                sentinel.port,
                &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME],
            )?;
            reply.lines().nth(1)?.trim().parse().ok()
        })
    }

    /// The URL of the master the sentinels name now.
    pub fn master_url(&self) -> String {
        let port = self.master_port().expect("a sentinel names the master");
        format!("redis://127.0.0.1:{port}/")
    }

    /// SIGKILLs the data node on `port` (no goodbye to its replica or clients).
    pub fn kill(&mut self, port: u16) {
        if let Some(at) = self.data.iter().position(|node| node.port == port) {
            let mut node = self.data.remove(at);
            let _ = node.child.kill();
            let _ = node.child.wait();
        }
    }

    /// Asks a sentinel to fail the master over now (`SENTINEL FAILOVER`): the
    /// replica is promoted and the master, alive, is made its replica. A
    /// sentinel that has counted the replica but not yet read its own `INFO`
    /// answers `NOGOODSLAVE` for a moment (seen on a loaded machine), so that
    /// answer is asked again; any other answer but `OK` fails the test.
    pub fn hand_over(&self) {
        let mut reply = None;
        wait_for("a sentinel that accepts SENTINEL FAILOVER", || {
            reply = cli(
                self.sentinels[0].port,
                &["SENTINEL", "FAILOVER", MASTER_NAME],
            );
            !reply
                .as_deref()
                .is_some_and(|answer| answer.starts_with("NOGOODSLAVE"))
        });
        assert_eq!(
            reply.as_deref().map(str::trim),
            Some("OK"),
            "SENTINEL FAILOVER\n{}",
            self.report()
        );
    }

    /// Waits until the sentinels name a master other than `old` and it says it
    /// is one; returns its port.
    pub fn wait_for_new_master(&self, old: u16) -> u16 {
        let mut promoted = None;
        wait_for(&format!("a master other than {old}"), || {
            promoted = self.master_port().filter(|&port| {
                port != old && cli(port, &["ROLE"]).is_some_and(|role| role.starts_with("master"))
            });
            promoted.is_some()
        });
        promoted.expect("waited for")
    }

    /// What each sentinel says of the master, for a failing test to show.
    pub fn report(&self) -> String {
        self.sentinels
            .iter()
            .map(|s| {
                let master = cli(s.port, &["SENTINEL", "MASTER", MASTER_NAME]).unwrap_or_default();
                format!(
                    "sentinel {}: ip {:?} port {:?} flags {:?}",
                    s.port,
                    field_of(&master, "ip"),
                    field_of(&master, "port"),
                    field_of(&master, "flags")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for OwnSentinel {
    fn drop(&mut self) {
        for server in self.data.iter_mut().chain(&mut self.sentinels) {
            let _ = server.child.kill();
            let _ = server.child.wait();
        }
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A data node; `replica_of` makes it a replica of the master on that port.
/// It runs in `dir`, where a replica's full sync writes its RDB file (never the
/// directory the tests were started from).
fn start_data_node(dir: &Path, port: u16, replica_of: Option<u16>) -> Child {
    let mut command = Command::new("redis-server");
    command
        .current_dir(dir)
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no"])
        // Replicas sync at once instead of after the default five seconds.
        .args(["--repl-diskless-sync-delay", "0"]);
    if let Some(master) = replica_of {
        command.args(["--replicaof", "127.0.0.1", &master.to_string()]);
    }
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start redis-server (is it installed?)")
}

/// A sentinel on `port` monitoring the master on `master`; its configuration
/// file (which it rewrites) lives in `dir`.
fn start_sentinel(dir: &Path, port: u16, master: u16) -> Child {
    let file = dir.join(format!("sentinel-{port}.conf"));
    let config = format!(
        "bind 127.0.0.1\nport {port}\ndir {dir}\n\
         sentinel monitor {MASTER_NAME} 127.0.0.1 {master} {QUORUM}\n\
         sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n\
         sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}\n\
         sentinel parallel-syncs {MASTER_NAME} 1\n",
        dir = dir.display()
    );
    std::fs::write(&file, config).expect("write a sentinel's configuration");
    Command::new("redis-server")
        .arg(&file)
        .arg("--sentinel")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start redis-server --sentinel")
}

/// The value after `name` in a flat field/value reply, one item a line.
fn field_of(reply: &str, name: &str) -> Option<String> {
    let mut lines = reply.lines();
    while let Some(line) = lines.next() {
        if line.trim() == name {
            return lines.next().map(|v| v.trim().to_owned());
        }
    }
    None
}
