//! `[default.databases.main]`: the typed configuration of the database.

use std::time::Duration;

use super::redact::redact_url;
use figment::Figment;
use serde::Deserialize;

use crate::config::ConfigError;

/// `[default.databases.main]`: the MySQL/MariaDB database of the users directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `mysql://user:password@host:port/database`; the database is created if missing.
    pub url: String,
    /// Most connections this instance keeps open.
    #[serde(default = "DatabaseConfig::default_pool_size")]
    pub pool_size: usize,
    /// Budget for opening one connection (TCP, handshake, auth).
    #[serde(default = "DatabaseConfig::default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Budget for taking a connection from the pool, opening one if needed; past it
    /// the request gets a 503.
    #[serde(default = "DatabaseConfig::default_acquire_timeout_ms")]
    pub acquire_timeout_ms: u64,
    /// How long the app keeps retrying `MySQL` at start before it gives up and exits.
    #[serde(default = "DatabaseConfig::default_startup_timeout_secs")]
    pub startup_timeout_secs: u64,
    /// Whether to follow the server's binlog, so that writes made by anyone
    /// purge the cached pages they change.
    #[serde(default)]
    pub binlog: BinlogMode,
    /// The replica id the follower registers with; must differ from the
    /// server's and from every real replica's.
    #[serde(default = "DatabaseConfig::default_binlog_server_id")]
    pub binlog_server_id: u32,
    /// How soon another instance takes over following when the follower's
    /// instance dies or is cut off (the lifetime of its lease).
    #[serde(default = "DatabaseConfig::default_binlog_takeover_ms")]
    pub binlog_takeover_ms: u64,
    /// Tables whose changes purge nothing, besides the app's own bookkeeping
    /// (sessions, migrations), which is never followed.
    #[serde(default)]
    pub binlog_ignore_tables: Vec<String>,
    /// Read replicas of `url` (`mysql://...`, the same database name): page
    /// renders and memoised values read from them, everything else from `url`.
    #[serde(default)]
    pub replicas: Vec<String>,
    /// A replica further behind the primary than this is taken out of rotation
    /// until it catches up.
    #[serde(default = "DatabaseConfig::default_replica_max_lag_ms")]
    pub replica_max_lag_ms: u64,
}

/// `databases.main.binlog`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BinlogMode {
    /// Follow when the server writes a row-based binlog; otherwise say once, at
    /// start, what that means and how to turn it on.
    #[default]
    Auto,
    /// Follow, and refuse to start when the server cannot be followed.
    On,
    /// Do not follow: writes made outside the app show when pages expire.
    Off,
}

impl DatabaseConfig {
    fn default_pool_size() -> usize {
        10
    }
    fn default_connect_timeout_ms() -> u64 {
        3_000
    }
    fn default_acquire_timeout_ms() -> u64 {
        2_000
    }
    fn default_startup_timeout_secs() -> u64 {
        30
    }
    /// High in the id space, where replicas numbered by hand seldom are.
    fn default_binlog_server_id() -> u32 {
        4_000_000_001
    }
    fn default_binlog_takeover_ms() -> u64 {
        5_000
    }
    fn default_replica_max_lag_ms() -> u64 {
        1_000
    }

    /// Reads `databases.main` and checks every value.
    pub fn from_figment(figment: &Figment) -> Result<Self, ConfigError> {
        let config: Self = figment
            .extract_inner("databases.main")
            .map_err(|e| ConfigError::Extract(Box::new(e)))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let url = url::Url::parse(&self.url)
            .map_err(|e| ConfigError::invalid("databases.main.url", format!("not a URL ({e})")))?;
        if url.scheme() != "mysql" {
            return Err(ConfigError::invalid(
                "databases.main.url",
                format!("must start with mysql://, got {}", redact_url(&self.url)),
            ));
        }
        if self.database_name().is_none() {
            return Err(ConfigError::invalid(
                "databases.main.url",
                "must name a database made of letters, digits, `_` or `$` \
                 (mysql://root@127.0.0.1:3306/users)",
            ));
        }
        let pool_size = u64::try_from(self.pool_size).unwrap_or(u64::MAX);
        for (key, value, range) in [
            ("databases.main.pool_size", pool_size, 1..=1_000),
            (
                "databases.main.connect_timeout_ms",
                self.connect_timeout_ms,
                1..=60_000,
            ),
            (
                "databases.main.acquire_timeout_ms",
                self.acquire_timeout_ms,
                1..=60_000,
            ),
            (
                "databases.main.startup_timeout_secs",
                self.startup_timeout_secs,
                0..=3_600,
            ),
            (
                "databases.main.replica_max_lag_ms",
                self.replica_max_lag_ms,
                100..=600_000,
            ),
        ] {
            crate::config::check_range(key, value, range)?;
        }
        if self.binlog_server_id == 0 {
            return Err(ConfigError::invalid(
                "databases.main.binlog_server_id",
                "must be more than 0 (a replica id the server has not seen)",
            ));
        }
        if !(500..=600_000).contains(&self.binlog_takeover_ms) {
            return Err(ConfigError::invalid(
                "databases.main.binlog_takeover_ms",
                format!("from 500 to 600000; got {}", self.binlog_takeover_ms),
            ));
        }
        self.validate_replicas()
    }

    /// Each replica is a `mysql://` URL of the same database (the app reads the
    /// same tables there), named once, and not the primary itself.
    fn validate_replicas(&self) -> Result<(), ConfigError> {
        const KEY: &str = "databases.main.replicas";
        if self.replicas.len() > MAX_REPLICAS {
            return Err(ConfigError::invalid(
                KEY,
                format!(
                    "at most {MAX_REPLICAS} replicas; got {}",
                    self.replicas.len()
                ),
            ));
        }
        let database = self.database_name();
        for (i, replica) in self.replicas.iter().enumerate() {
            let shown = redact_url(replica);
            let url = url::Url::parse(replica)
                .map_err(|e| ConfigError::invalid(KEY, format!("{shown} is not a URL ({e})")))?;
            if url.scheme() != "mysql" {
                return Err(ConfigError::invalid(
                    KEY,
                    format!("must start with mysql://, got {shown}"),
                ));
            }
            if Some(url.path().trim_start_matches('/')) != database.as_deref() {
                return Err(ConfigError::invalid(
                    KEY,
                    format!(
                        "{shown} must name the primary's database, {}",
                        database.as_deref().unwrap_or_default()
                    ),
                ));
            }
            if replica == &self.url || self.replicas[..i].contains(replica) {
                return Err(ConfigError::invalid(
                    KEY,
                    format!("{shown} is named twice (or is the primary's url)"),
                ));
            }
        }
        Ok(())
    }

    /// The database named in the URL, when it is a plain identifier (it is
    /// interpolated into `CREATE DATABASE`, so nothing else is accepted).
    pub fn database_name(&self) -> Option<String> {
        let url = url::Url::parse(&self.url).ok()?;
        let name = url.path().trim_start_matches('/');
        let plain = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$');
        plain.then(|| name.to_owned())
    }

    /// The same server without a database, to create the database from.
    pub fn server_url(&self) -> String {
        let mut url = url::Url::parse(&self.url).expect("validated at load");
        url.set_path("/");
        url.to_string()
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }
    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.acquire_timeout_ms)
    }
    pub fn startup_timeout(&self) -> Duration {
        Duration::from_secs(self.startup_timeout_secs)
    }
    pub fn binlog_takeover(&self) -> Duration {
        Duration::from_millis(self.binlog_takeover_ms)
    }
    pub fn replica_max_lag(&self) -> Duration {
        Duration::from_millis(self.replica_max_lag_ms)
    }
}

/// Most replicas one instance reads from (each has a pool and a health check).
pub const MAX_REPLICAS: usize = 16;

/// A configuration of `url` with the least of everything, for unit tests.
#[cfg(test)]
pub(crate) fn for_tests(url: &str) -> DatabaseConfig {
    DatabaseConfig {
        url: url.to_owned(),
        pool_size: 1,
        connect_timeout_ms: 1,
        acquire_timeout_ms: 1,
        startup_timeout_secs: 0,
        binlog: BinlogMode::Off,
        binlog_server_id: 1,
        binlog_takeover_ms: 5_000,
        binlog_ignore_tables: Vec::new(),
        replicas: Vec::new(),
        replica_max_lag_ms: 1_000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> DatabaseConfig {
        for_tests(url)
    }

    #[test]
    fn database_name_must_be_a_plain_identifier() {
        assert_eq!(
            config("mysql://root@localhost:3306/users")
                .database_name()
                .as_deref(),
            Some("users")
        );
        assert_eq!(config("mysql://root@localhost:3306/").database_name(), None);
        assert_eq!(config("mysql://root@localhost/a`b").database_name(), None);
        assert_eq!(
            config("mysql://root@localhost/a;drop").database_name(),
            None
        );
    }

    #[test]
    fn server_url_drops_the_database() {
        assert_eq!(
            config("mysql://root:pw@db:3307/users").server_url(),
            "mysql://root:pw@db:3307/"
        );
    }

    #[test]
    fn replicas_must_be_mysql_urls_of_the_same_database() {
        let mut c = config("mysql://root@db:3306/users");
        c.replicas = vec!["mysql://root@r1:3306/users".to_owned()];
        assert!(c.validate().is_ok());
        for bad in [
            "postgres://r1/users",
            "mysql://root@r1:3306/other",
            "mysql://root@db:3306/users",
            "not a url",
        ] {
            c.replicas = vec![bad.to_owned()];
            let err = c.validate().unwrap_err().to_string();
            assert!(err.contains("databases.main.replicas"), "{bad}: {err}");
        }
        c.replicas = vec!["mysql://root@r1/users".to_owned(); 2];
        assert!(c.validate().is_err(), "a replica named twice");
        c.replicas.clear();
        c.replica_max_lag_ms = 50;
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("replica_max_lag_ms"), "{err}");
    }

    #[test]
    fn non_mysql_url_is_rejected_by_key() {
        let err = config("postgres://x/y").validate().unwrap_err().to_string();
        assert!(err.contains("databases.main.url"), "{err}");
    }
}
