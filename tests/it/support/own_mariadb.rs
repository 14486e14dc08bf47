//! A MariaDB server of a test's own, writing a row-based binlog (the shared
//! server on 3306 writes none): a data directory made by `mariadb-install-db`,
//! `mariadbd` on a free port, and a fresh database per test on it.
//!
//! The server is killed and its directory removed when it is dropped. The one
//! server the tests of a run share lives in a static, which is never dropped: a
//! watchdog shell does the same for it once the test process is gone.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use test_support::own_servers::{stdout_of, watch_pids, watchdog};
use test_support::{eventually, free_port, random_name};

/// Longest wait for a server to answer after it was started.
const START_LIMIT: Duration = Duration::from_secs(30);
/// The server's own `server_id`; readers register with others.
pub const SERVER_ID: u32 = 1;

/// A running `mariadbd`; see the module's doc.
pub struct OwnMariaDb {
    port: u16,
    dir: PathBuf,
    extra: Vec<String>,
    child: Child,
    watchdog: Child,
}

impl OwnMariaDb {
    /// The server the tests of this run share (each in a database of its own),
    /// started by the first test that asks for it, with a row-based binlog.
    pub fn shared() -> &'static OwnMariaDb {
        static SHARED: OnceLock<OwnMariaDb> = OnceLock::new();
        SHARED.get_or_init(|| OwnMariaDb::start(&[]))
    }

    /// Starts a server with `--log-bin --binlog-format=ROW` and `extra` flags
    /// after them (e.g. `--binlog-row-image=MINIMAL`, `--log-bin-compress`,
    /// `--log-slave-updates`, `--server-id=2` for a replica), and waits until it
    /// answers. Blocking: about two seconds, most of them `mariadb-install-db`.
    pub fn start(extra: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(random_name("rc-mariadb"));
        std::fs::create_dir_all(dir.join(TMP_DIR)).expect("server directory");
        // Watching from the start: a test process gone while the data directory
        // is being made leaves nothing behind either.
        let watchdog = watchdog(&dir, "server");
        let installed = Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", dir.join("data").display()))
            .arg(format!("--tmpdir={}", dir.join(TMP_DIR).display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .args(as_root())
            .output()
            .expect("run mariadb-install-db (is MariaDB installed?)");
        assert!(
            installed.status.success(),
            "mariadb-install-db failed in {}:\n{}{}",
            dir.display(),
            String::from_utf8_lossy(&installed.stdout),
            String::from_utf8_lossy(&installed.stderr)
        );
        let port = free_port();
        let extra: Vec<String> = extra.iter().map(|flag| (*flag).to_owned()).collect();
        let child = spawn_server(&dir, port, &extra);
        let mut server = Self {
            port,
            dir,
            extra,
            child,
            watchdog,
        };
        server.wait_until_it_answers();
        server
    }

    /// Stops the server (SIGTERM: a clean shutdown), starts it again on the same
    /// data directory and port, and waits until it answers.
    pub fn restart(&mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let _ = self.child.wait();
        self.child = spawn_server(&self.dir, self.port, &self.extra);
        self.wait_until_it_answers();
    }

    /// Kills the server (SIGKILL, as a crash); it stays down.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A counter of `SHOW GLOBAL STATUS` (`Com_select`, ...).
    pub fn status_counter(&self, name: &str) -> u64 {
        self.cli(&format!("SHOW GLOBAL STATUS LIKE '{name}'"))
            .and_then(|out| out.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or_else(|| panic!("no status counter {name} on port {}", self.port))
    }

    /// The server's URL, with `database` (may be empty), for mysql_async.
    pub fn url(&self, database: &str) -> String {
        format!(
            "mysql://root@127.0.0.1:{}/{database}?prefer_socket=false",
            self.port
        )
    }

    /// A fresh database on this server, dropped when the last holder goes.
    pub fn database(&self) -> Arc<OwnDatabase> {
        let name = random_name("rc_binlog");
        if self
            .cli(&format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
            .is_none()
        {
            let log = std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(80).collect();
            panic!(
                "could not create a test database on the server on port {}; the end of its \
                 error log:\n{}",
                self.port,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        Arc::new(OwnDatabase {
            url: self.url(&name),
            name,
            port: self.port,
        })
    }

    /// Runs SQL with the `mariadb` client; its output, or `None` if it failed.
    pub fn cli(&self, sql: &str) -> Option<String> {
        cli(self.port, sql)
    }

    /// Waits until this server answers on its port. The answer must name this
    /// server's data directory: another server on the same port (one that got
    /// there first) is not this one.
    fn wait_until_it_answers(&mut self) {
        let deadline = Instant::now() + START_LIMIT;
        let data = self.dir.join("data");
        let ours = |answer: &str| Path::new(answer.trim().trim_end_matches('/')) == data;
        while !self
            .cli("SELECT @@datadir")
            .is_some_and(|answer| ours(&answer))
        {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default();
                panic!("mariadbd exited ({status}):\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "mariadbd on {} did not answer within {START_LIMIT:?}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for OwnMariaDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A primary and a replica of it, each a server of the test's own: GTID
/// replication (`MASTER_USE_GTID=slave_pos`), the replica with
/// `--log-slave-updates`. Both are killed when the pair is dropped.
pub struct ReplicatedPair {
    pub primary: OwnMariaDb,
    pub replica: OwnMariaDb,
}

impl ReplicatedPair {
    /// Starts both servers and replication from the primary's first
    /// transaction. Blocking: a few seconds.
    pub fn start() -> Self {
        let primary = OwnMariaDb::start(&[]);
        let replica = OwnMariaDb::start(&["--server-id=2", "--log-slave-updates"]);
        let replicate = format!(
            "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, MASTER_USER='root', \
             MASTER_USE_GTID=slave_pos; START SLAVE",
            primary.port
        );
        replica
            .cli(&replicate)
            .expect("the replica replicates from the primary");
        Self { primary, replica }
    }

    /// A fresh database on the primary, once the replica has it too.
    pub async fn database(&self) -> Arc<OwnDatabase> {
        let db = self.primary.database();
        eventually(START_LIMIT, "the replica has the database", || async {
            let shown = self
                .replica
                .cli(&format!("SHOW DATABASES LIKE '{}'", db.name))?;
            shown.contains(&db.name).then_some(())
        })
        .await;
        db
    }

    /// The URL of `db` on the replica.
    pub fn replica_url(&self, db: &OwnDatabase) -> String {
        self.replica.url(&db.name)
    }

    /// Waits until the replica has applied everything the primary wrote.
    pub async fn caught_up(&self) {
        eventually(START_LIMIT, "the replica catches up", || async {
            let written = self.primary.cli("SELECT @@GLOBAL.gtid_binlog_pos")?;
            let applied = self.replica.cli("SELECT @@GLOBAL.gtid_slave_pos")?;
            (written.trim() == applied.trim()).then_some(())
        })
        .await;
    }
}

/// A database of a test's own on an [`OwnMariaDb`].
pub struct OwnDatabase {
    pub name: String,
    port: u16,
    url: String,
}

impl OwnDatabase {
    /// Its URL, for mysql_async (and the reader).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Runs SQL (several statements may be `;`-separated) on a connection of its
    /// own, in this database.
    pub async fn run(&self, sql: &str) {
        let mut conn = mysql_async::Conn::from_url(self.url())
            .await
            .expect("test connection");
        conn.query_drop(sql)
            .await
            .unwrap_or_else(|e| panic!("test SQL {sql:?}: {e}"));
        conn.disconnect().await.expect("test disconnect");
    }
}

impl Drop for OwnDatabase {
    fn drop(&mut self) {
        let _ = cli(
            self.port,
            &format!("DROP DATABASE IF EXISTS `{}`", self.name),
        );
    }
}

/// Starts `mariadbd` and writes its pid where the watchdog reads it.
fn spawn_server(dir: &Path, port: u16, extra: &[String]) -> Child {
    let child = Command::new("mariadbd")
        // Must come first: no my.cnf of the machine's.
        .arg("--no-defaults")
        .arg(format!("--datadir={}", dir.join("data").display()))
        .arg(format!("--tmpdir={}", dir.join(TMP_DIR).display()))
        .arg(format!("--socket={}", dir.join("sock").display()))
        .arg(format!("--log-error={}", dir.join("error.log").display()))
        .arg(format!("--pid-file={}", dir.join("pid").display()))
        .args(["--bind-address=127.0.0.1", &format!("--port={port}")])
        .args(["--log-bin=binlog", "--binlog-format=ROW"])
        .arg(format!("--server-id={SERVER_ID}"))
        .args(["--skip-name-resolve", "--innodb-buffer-pool-size=32M"])
        // Every test of a run shares the one server, each with pools of its
        // own: the default of 151 connections runs out.
        .arg("--max-connections=2000")
        .args(as_root())
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mariadbd");
    watch_pids(dir, &[child.id()]);
    child
}

/// The server's own directory for temporary tables. MariaDB deletes every
/// `#sql*` file in its tmpdir when it starts, so servers sharing `/tmp` delete
/// each other's temporary tables (a failed `mariadb-install-db`, or a query
/// failing with "Error on delete of '/tmp/#sql-temptable-...'").
const TMP_DIR: &str = "tmp";

/// `--user=root` when the tests run as root (mariadbd refuses to otherwise).
fn as_root() -> Vec<String> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0");
    if root {
        vec!["--user=root".to_owned()]
    } else {
        Vec::new()
    }
}

fn cli(port: u16, sql: &str) -> Option<String> {
    stdout_of(
        Command::new("mariadb")
            .args([
                "--no-defaults",
                "-uroot",
                "-h127.0.0.1",
                "--batch",
                "--skip-column-names",
            ])
            .arg(format!("-P{port}"))
            .args(["-e", sql]),
    )
}
