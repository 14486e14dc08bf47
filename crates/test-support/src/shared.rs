//! The shared test servers every test run uses: where they are (an environment
//! variable each, by default this machine's), and a look inside a namespace of a
//! test's own on a Redis. Tests create their own databases and namespaces there
//! and touch nothing else: never `KEYS`, `FLUSHDB` or `FLUSHALL`.

use std::sync::OnceLock;

/// `host:port` of the shared test Redis: `TEST_REDIS_ADDR`, by default
/// `127.0.0.1:6379`.
pub fn redis_addr() -> &'static str {
    static ADDR: OnceLock<String> = OnceLock::new();
    server_addr(&ADDR, "TEST_REDIS_ADDR", "127.0.0.1:6379")
}

/// The URL of the shared test Redis (`redis://<redis_addr>/`).
pub fn redis_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| format!("redis://{}/", redis_addr()))
}

/// `host:port` of the shared test MariaDB (user root, no password):
/// `TEST_MYSQL_ADDR`, by default `127.0.0.1:3306`.
pub fn mysql_addr() -> &'static str {
    static ADDR: OnceLock<String> = OnceLock::new();
    server_addr(&ADDR, "TEST_MYSQL_ADDR", "127.0.0.1:3306")
}

/// `host:port` of a shared test server: the environment variable `var`, else
/// `default`; read once into `slot`.
fn server_addr(slot: &'static OnceLock<String>, var: &str, default: &str) -> &'static str {
    slot.get_or_init(|| std::env::var(var).unwrap_or_else(|_| default.to_owned()))
}

/// Every key matching `pattern` on the one server at `url`, by `SCAN` (never
/// `KEYS`); none when the server does not answer. On a cluster, what that one
/// node holds.
pub fn scan(url: &str, pattern: &str) -> Vec<String> {
    let Ok(mut conn) = redis::Client::open(url).and_then(|c| c.get_connection()) else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query(&mut conn)
            .expect("SCAN");
        keys.extend(batch);
        if next == 0 {
            return keys;
        }
        cursor = next;
    }
}

/// Removes `keys` from the one server at `url` (`UNLINK`), as a test's
/// namespace is emptied when it goes; a server that does not answer is left as
/// it is.
pub fn unlink(url: &str, keys: &[String]) {
    if keys.is_empty() {
        return;
    }
    if let Ok(mut conn) = redis::Client::open(url).and_then(|c| c.get_connection()) {
        let _: redis::RedisResult<u64> = redis::cmd("UNLINK").arg(keys).query(&mut conn);
    }
}
