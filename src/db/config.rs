//! `[default.databases.main]`: the typed configuration of the database wing.

use std::time::Duration;

use figment::Figment;
use rocket_page_cache::redact_url;
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
        ] {
            crate::config::check_range(key, value, range)?;
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> DatabaseConfig {
        DatabaseConfig {
            url: url.to_owned(),
            pool_size: 1,
            connect_timeout_ms: 1,
            acquire_timeout_ms: 1,
            startup_timeout_secs: 0,
        }
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
    fn redacted_url_hides_the_password() {
        assert_eq!(
            redact_url("mysql://root:secret@db/x"),
            "mysql://root:***@db/x"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379/"),
            "redis://127.0.0.1:6379/"
        );
    }

    #[test]
    fn non_mysql_url_is_rejected_by_key() {
        let err = config("postgres://x/y").validate().unwrap_err().to_string();
        assert!(err.contains("databases.main.url"), "{err}");
    }
}
