//! A Redis Cluster of a test's own: three masters and three replicas on free
//! ports, made with `redis-cli --cluster create`, with a short node timeout so
//! that a killed master's replica takes over within a couple of seconds.
//!
//! Every server is killed and the directory of its cluster files removed when
//! the cluster is dropped. The one cluster the tests of a run share lives in a
//! static, which is never dropped: a watchdog shell does the same for it once the
//! test process is gone.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use crate::own_servers::{cli, wait_for, watch_pids, watchdog};

/// Masters, and one replica for each.
const MASTERS: usize = 3;
const NODES: usize = MASTERS * 2;
/// How long a node may be silent before it is failed over (ms).
const NODE_TIMEOUT_MS: &str = "1000";

/// One `redis-server --cluster-enabled yes`.
struct Node {
    port: u16,
    child: Child,
}

/// A running cluster; see the module's doc.
pub struct OwnCluster {
    nodes: Vec<Node>,
    dir: PathBuf,
    watchdog: Child,
}

impl OwnCluster {
    /// The cluster the tests of this run share (each in a namespace of its
    /// own), started by the first test that asks for it.
    pub fn shared() -> &'static OwnCluster {
        static SHARED: OnceLock<OwnCluster> = OnceLock::new();
        SHARED.get_or_init(OwnCluster::start)
    }

    /// Starts six servers, joins them into a cluster of three masters with a
    /// replica each, and waits until every node says `cluster_state:ok`.
    /// Blocking: it runs once per cluster, before any request.
    pub fn start() -> Self {
        let dir = std::env::temp_dir().join(crate::random_name("rpc-cluster"));
        std::fs::create_dir_all(&dir).expect("cluster directory");
        let watchdog = watchdog(&dir, "cluster");
        let mut ports = BTreeSet::new();
        while ports.len() < NODES {
            ports.insert(free_cluster_port());
        }
        let nodes: Vec<Node> = ports
            .into_iter()
            .map(|port| Node {
                port,
                child: start_node(&dir, port),
            })
            .collect();
        let pids: Vec<u32> = nodes.iter().map(|n| n.child.id()).collect();
        watch_pids(&dir, &pids);
        let cluster = Self {
            nodes,
            dir,
            watchdog,
        };
        for node in &cluster.nodes {
            wait_for(&format!("node {} answers PING", node.port), || {
                cli(node.port, &["PING"]).is_some_and(|reply| reply.trim() == "PONG")
            });
        }
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for node in &cluster.nodes {
            create.arg(format!("127.0.0.1:{}", node.port));
        }
        let created = create
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run redis-cli --cluster create");
        assert!(created.success(), "redis-cli --cluster create failed");
        cluster.wait_until_ok();
        // A replica that never synced holds no data of an age it may fail over
        // with: wait until each has its master's copy.
        for node in &cluster.nodes {
            wait_for(
                &format!("node {} is a master or in sync", node.port),
                || {
                    cli(node.port, &["INFO", "REPLICATION"]).is_some_and(|info| {
                        info.contains("role:master") || info.contains("master_link_status:up")
                    })
                },
            );
        }
        cluster
    }

    /// Seed URLs of every node, as `cache.cluster_nodes` takes them.
    pub fn urls(&self) -> Vec<String> {
        self.ports()
            .into_iter()
            .map(|port| format!("redis://127.0.0.1:{port}/"))
            .collect()
    }

    /// Ports of the nodes that are running (killed ones left out).
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|node| node.port).collect()
    }

    /// Ports of the masters that serve slots now, as the cluster sees them.
    pub fn master_ports(&self) -> Vec<u16> {
        let Some(nodes) = self
            .ports()
            .into_iter()
            .find_map(|port| cli(port, &["CLUSTER", "NODES"]))
        else {
            return Vec::new();
        };
        let mut masters: Vec<u16> = nodes
            .lines()
            .filter(|line| {
                let flags = line.split(' ').nth(2).unwrap_or_default();
                flags.contains("master") && !flags.contains("fail") && line.split(' ').count() > 8
            })
            .filter_map(|line| {
                let address = line.split(' ').nth(1)?;
                address.split(['@', ':']).nth(1)?.parse().ok()
            })
            .collect();
        masters.sort_unstable();
        masters
    }

    /// `CLUSTER NODES` as the first running node that answers sees it, for a
    /// failing test to say what the cluster looked like.
    pub fn nodes_report(&self) -> String {
        self.ports()
            .into_iter()
            .find_map(|port| cli(port, &["CLUSTER", "NODES"]))
            .unwrap_or_else(|| "no node answered CLUSTER NODES".to_owned())
    }

    /// SIGSTOPs the node on `port`: its connections stay open and nothing is
    /// answered, as when a host drops off the network.
    pub fn freeze(&self, port: u16) {
        if let Some(node) = self.nodes.iter().find(|node| node.port == port) {
            let status = Command::new("kill")
                .args(["-STOP", &node.child.id().to_string()])
                .status()
                .expect("run kill");
            assert!(status.success(), "kill -STOP failed");
        }
    }

    /// SIGKILLs the node on `port` (no goodbye to its peers or clients).
    pub fn kill(&mut self, port: u16) {
        if let Some(at) = self.nodes.iter().position(|node| node.port == port) {
            let mut node = self.nodes.remove(at);
            let _ = node.child.kill();
            let _ = node.child.wait();
        }
    }

    /// Waits until every running node says `cluster_state:ok`.
    pub fn wait_until_ok(&self) {
        for port in self.ports() {
            wait_for(&format!("node {port} says cluster_state:ok"), || {
                cli(port, &["CLUSTER", "INFO"])
                    .is_some_and(|info| info.contains("cluster_state:ok"))
            });
        }
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.child.kill();
            let _ = node.child.wait();
        }
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_node(dir: &std::path::Path, port: u16) -> Child {
    let config = dir.join(format!("nodes-{port}.conf"));
    Command::new("redis-server")
        .current_dir(dir)
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--cluster-enabled", "yes"])
        .arg("--cluster-config-file")
        .arg(&config)
        .args(["--cluster-node-timeout", NODE_TIMEOUT_MS])
        // As a cache's cluster should be: the masters that answer keep serving
        // their slots while another's are being failed over.
        .args(["--cluster-require-full-coverage", "no"])
        .args(["--save", "", "--appendonly", "no"])
        // Replicas sync at once instead of after the default five seconds.
        .args(["--repl-diskless-sync-delay", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start redis-server (is it installed?)")
}

/// A port free now whose cluster bus port (+10000) is free too.
fn free_cluster_port() -> u16 {
    loop {
        let port = 20_000 + rand::random::<u16>() % 30_000;
        let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port) && free(port + 10_000) {
            return port;
        }
    }
}
