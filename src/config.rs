//! Typed configuration of the app, read from the figment that `build()` is given.
//!
//! Rocket.toml profiles and `ROCKET_*` environment variables reach us through that
//! figment only: there is no global configuration, so every test (and every instance
//! in a multi-instance test) can run with its own.

use std::time::Duration;

use figment::Figment;
use rocket_page_cache::redact_url;
use serde::Deserialize;

/// An invalid configuration value, named by its full key so the operator can find it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Extract(#[from] Box<figment::Error>),
    #[error("invalid `{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
}

impl ConfigError {
    pub fn invalid(key: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            key,
            reason: reason.into(),
        }
    }
}

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
        if self.pool_size == 0 {
            return Err(ConfigError::invalid(
                "databases.main.pool_size",
                "must be at least 1",
            ));
        }
        for (key, value) in [
            ("databases.main.connect_timeout_ms", self.connect_timeout_ms),
            ("databases.main.acquire_timeout_ms", self.acquire_timeout_ms),
        ] {
            if value == 0 {
                return Err(ConfigError::invalid(key, "must be more than 0"));
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
}

/// `[default.admin]`: who may write. Every key is optional; with none set, writes
/// are refused and pages are served as usual.
///
/// The HTML login needs `username` and `password_hash` together; the JSON API needs
/// `api_token`. An empty string counts as unset, so `ROCKET_ADMIN='{api_token=""}'`
/// turns the API off without editing Rocket.toml.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    pub username: Option<String>,
    /// An argon2 PHC string (`$argon2id$v=19$m=...`), as `cargo run --bin
    /// hash-password` prints it; never the password itself.
    pub password_hash: Option<String>,
    /// The `Authorization: Bearer` token of the JSON API.
    pub api_token: Option<String>,
    /// How long a login lasts, in seconds: the cookie's lifetime and the server-side
    /// session's alike.
    #[serde(default = "AdminConfig::default_session_ttl_secs")]
    pub session_ttl_secs: u64,
    /// Password checks run at once (each takes argon2's ~19 MiB); 0 means one per
    /// core. Further attempts wait briefly, then get a 429.
    #[serde(default)]
    pub login_concurrency: usize,
    /// Failed logins allowed per client address and per username before each further
    /// failure locks them out for twice as long (1 s, 2 s, ... up to 15 minutes).
    #[serde(default = "AdminConfig::default_login_failures_allowed")]
    pub login_failures_allowed: u32,
}

/// The shortest API token accepted: guessable tokens are worse than none.
pub const MIN_API_TOKEN_LEN: usize = 16;

impl AdminConfig {
    fn default_session_ttl_secs() -> u64 {
        12 * 60 * 60
    }
    fn default_login_failures_allowed() -> u32 {
        5
    }

    /// How many password checks may run at once: `login_concurrency`, or the core
    /// count when it is 0.
    pub fn login_concurrency(&self) -> usize {
        match self.login_concurrency {
            0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            n => n,
        }
    }

    /// Reads `admin` (all unset when the table is absent) and checks every value.
    pub fn from_figment(figment: &Figment) -> Result<Self, ConfigError> {
        if figment.find_value("admin").is_err() {
            return Ok(Self {
                session_ttl_secs: Self::default_session_ttl_secs(),
                login_failures_allowed: Self::default_login_failures_allowed(),
                ..Self::default()
            });
        }
        let mut config: Self = figment
            .extract_inner("admin")
            .map_err(|e| ConfigError::Extract(Box::new(e)))?;
        for value in [
            &mut config.username,
            &mut config.password_hash,
            &mut config.api_token,
        ] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                *value = None;
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// Whether `figment` asks for the HTML login (username or password hash set),
    /// without validating: used before ignite to decide about the secret key.
    pub fn login_requested(figment: &Figment) -> bool {
        ["admin.username", "admin.password_hash"].iter().any(|key| {
            figment.extract_inner::<String>(key).map_or_else(
                |_| figment.find_value(key).is_ok(),
                |v| !v.trim().is_empty(),
            )
        })
    }

    /// The login pair, when both halves are set.
    pub fn login(&self) -> Option<(&str, &str)> {
        Some((self.username.as_deref()?, self.password_hash.as_deref()?))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        match (&self.username, &self.password_hash) {
            (Some(_), None) => {
                return Err(ConfigError::invalid(
                    "admin.password_hash",
                    "must be set with admin.username (make one with \
                     `cargo run --bin hash-password`)",
                ))
            }
            (None, Some(_)) => {
                return Err(ConfigError::invalid(
                    "admin.username",
                    "must be set with admin.password_hash",
                ))
            }
            _ => {}
        }
        if let Some(username) = &self.username {
            if username.chars().count() > 64 || username.chars().any(char::is_control) {
                return Err(ConfigError::invalid(
                    "admin.username",
                    "at most 64 characters, none of them control characters",
                ));
            }
        }
        if let Some(hash) = &self.password_hash {
            check_password_hash(hash).map_err(|reason| {
                ConfigError::invalid("admin.password_hash", format!(
                    "{reason}; expected an argon2 PHC string such as `$argon2id$v=19$m=19456,t=2,p=1$...`, \
                     made with `cargo run --bin hash-password`"
                ))
            })?;
        }
        if let Some(token) = &self.api_token {
            if token.chars().count() < MIN_API_TOKEN_LEN || token.chars().any(char::is_whitespace) {
                return Err(ConfigError::invalid(
                    "admin.api_token",
                    format!(
                        "at least {MIN_API_TOKEN_LEN} characters without spaces \
                         (e.g. `openssl rand -hex 32`)"
                    ),
                ));
            }
        }
        if self.session_ttl_secs == 0 || i64::try_from(self.session_ttl_secs).is_err() {
            return Err(ConfigError::invalid(
                "admin.session_ttl_secs",
                "must be more than 0",
            ));
        }
        if self.login_concurrency > 1024 {
            return Err(ConfigError::invalid(
                "admin.login_concurrency",
                "at most 1024 (0 means one per core)",
            ));
        }
        Ok(())
    }
}

/// Whether `hash` is a PHC string of one of the argon2 variants.
fn check_password_hash(hash: &str) -> Result<(), String> {
    let parsed = argon2::PasswordHash::new(hash).map_err(|e| format!("not a PHC string ({e})"))?;
    if argon2::Algorithm::try_from(parsed.algorithm).is_err() {
        return Err(format!("`{}` is not an argon2 algorithm", parsed.algorithm));
    }
    if parsed.hash.is_none() || parsed.salt.is_none() {
        return Err("the salt or the hash is missing".to_owned());
    }
    argon2::Params::try_from(&parsed).map_err(|e| format!("bad argon2 parameters ({e})"))?;
    Ok(())
}

/// What [`prepare_secret_key`] found or did about Rocket's `secret_key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKeySource {
    /// Set in Rocket.toml or `ROCKET_SECRET_KEY`.
    Configured,
    /// No admin login is configured, so private cookies are never read: a random
    /// key was generated for this process, only so that Rocket launches in release.
    Generated,
    /// An admin login is configured but no key: sessions cannot be shared by the
    /// instances behind a load balancer, so release refuses to start.
    Missing,
    /// Set, but not a key Rocket takes (`chars` long when it is a string): the launch
    /// stops with a line naming `secret_key` and the lengths that work.
    Invalid { chars: Option<usize> },
}

/// What `secret_key` takes, for the line that refuses a wrong one.
pub const SECRET_KEY_FORMS: &str = "32 or 64 random bytes, written as 44 or 88 base64 \
     characters or 64 hex characters; make one with `openssl rand -base64 64 | tr -d '\\n'`";

impl SecretKeySource {
    /// The launch-stopping reason for an [`Invalid`](Self::Invalid) key; it never
    /// shows the key itself.
    pub fn invalid_reason(self) -> Option<String> {
        let Self::Invalid { chars } = self else {
            return None;
        };
        let given = chars.map_or_else(
            || "is not a string".to_owned(),
            |n| format!("has {n} characters and is not a key"),
        );
        Some(format!(
            "invalid `secret_key` (ROCKET_SECRET_KEY): it {given}; it must be {SECRET_KEY_FORMS}"
        ))
    }
}

/// Gives `figment` a random `secret_key` when none is configured and no admin login
/// is, so that the `secrets` feature does not stop a release build from launching
/// out of the box. With a login configured the key is left alone: a key made up
/// per instance would log users out whenever the load balancer switched instances.
pub fn prepare_secret_key(figment: Figment) -> (Figment, SecretKeySource) {
    if let Some(invalid) = unusable_secret_key(&figment) {
        // Rocket itself would stop with "failed to extract configuration", naming
        // nothing: a stand-in lets it build, and the auth fairing stops the launch
        // with a line that says what is wrong.
        return (
            figment.merge((rocket::Config::SECRET_KEY, vec![0_u8; 64])),
            invalid,
        );
    }
    if secret_key_configured(&figment) {
        return (figment, SecretKeySource::Configured);
    }
    if AdminConfig::login_requested(&figment) {
        return (figment, SecretKeySource::Missing);
    }
    let mut key = vec![0_u8; 64];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
    (
        figment.merge((rocket::Config::SECRET_KEY, key)),
        SecretKeySource::Generated,
    )
}

/// `Some` when `secret_key` is set to something Rocket cannot read as a key.
fn unusable_secret_key(figment: &Figment) -> Option<SecretKeySource> {
    let value = figment.find_value(rocket::Config::SECRET_KEY).ok()?;
    if figment
        .extract_inner::<rocket::config::SecretKey>(rocket::Config::SECRET_KEY)
        .is_ok()
    {
        return None;
    }
    let chars = value.as_str().map(|s| s.chars().count());
    Some(SecretKeySource::Invalid { chars })
}

/// Whether the figment holds a real key: Rocket's defaults hold an all-zero one,
/// which means "none". A value that does not parse counts as configured, so that
/// Rocket reports it rather than us replacing it.
fn secret_key_configured(figment: &Figment) -> bool {
    if figment.find_value(rocket::Config::SECRET_KEY).is_err() {
        return false;
    }
    figment
        .extract_inner::<rocket::config::SecretKey>(rocket::Config::SECRET_KEY)
        .map_or(true, |key| !key.is_zero())
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

    /// Rocket's own defaults (which hold an all-zero `secret_key`) plus `pairs`.
    fn figment(pairs: &[(&str, serde_json::Value)]) -> Figment {
        pairs.iter().fold(
            Figment::from(rocket::Config::debug_default()),
            |figment, (key, value)| figment.merge((*key, value.clone())),
        )
    }

    const HASH: &str = "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG";

    fn admin_error(pairs: &[(&str, serde_json::Value)]) -> String {
        AdminConfig::from_figment(&figment(pairs))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn no_admin_table_means_nothing_configured() {
        let config = AdminConfig::from_figment(&figment(&[])).unwrap();
        assert!(config.login().is_none());
        assert!(config.api_token.is_none());
        assert_eq!(config.session_ttl_secs, 12 * 60 * 60);
    }

    #[test]
    fn admin_errors_name_their_key() {
        use serde_json::json;
        let cases = [
            (
                vec![("admin.username", json!("admin"))],
                "admin.password_hash",
            ),
            (vec![("admin.password_hash", json!(HASH))], "admin.username"),
            (
                vec![
                    ("admin.username", json!("admin")),
                    ("admin.password_hash", json!("hunter2")),
                ],
                "admin.password_hash",
            ),
            (
                vec![
                    ("admin.username", json!("admin")),
                    (
                        "admin.password_hash",
                        json!("$pbkdf2-sha256$i=1$c2FsdA$aGFzaA"),
                    ),
                ],
                "admin.password_hash",
            ),
            (vec![("admin.api_token", json!("short"))], "admin.api_token"),
            (
                vec![("admin.api_token", json!("has a space in it, alas"))],
                "admin.api_token",
            ),
            (
                vec![("admin.session_ttl_secs", json!(0))],
                "admin.session_ttl_secs",
            ),
        ];
        for (pairs, key) in cases {
            let error = admin_error(&pairs);
            assert!(error.contains(key), "{pairs:?}: {error}");
        }
        assert!(admin_error(&[("admin.password", json!("x"))]).contains("password"));
    }

    #[test]
    fn empty_admin_values_count_as_unset() {
        let config =
            AdminConfig::from_figment(&figment(&[("admin.api_token", serde_json::json!(""))]))
                .unwrap();
        assert!(config.api_token.is_none());
    }

    #[test]
    fn a_secret_key_is_generated_only_without_key_and_login() {
        use serde_json::json;
        let (generated, source) = prepare_secret_key(figment(&[]));
        assert_eq!(source, SecretKeySource::Generated);
        let key: rocket::config::SecretKey = generated.extract_inner("secret_key").unwrap();
        assert!(key.is_provided(), "Rocket accepts it in release");

        let (_, source) =
            prepare_secret_key(figment(&[("admin.api_token", json!("t".repeat(20)))]));
        assert_eq!(
            source,
            SecretKeySource::Generated,
            "a token needs no cookies"
        );

        let login = [
            ("admin.username", json!("admin")),
            ("admin.password_hash", json!(HASH)),
        ];
        let (unchanged, source) = prepare_secret_key(figment(&login));
        assert_eq!(source, SecretKeySource::Missing);
        let key: rocket::config::SecretKey = unchanged.extract_inner("secret_key").unwrap();
        assert!(key.is_zero(), "no key made up behind a login");

        let mut with_key = login.to_vec();
        with_key.push(("secret_key", json!("ab".repeat(32))));
        assert_eq!(
            prepare_secret_key(figment(&with_key)).1,
            SecretKeySource::Configured
        );
    }

    #[test]
    fn a_key_rocket_cannot_read_is_reported_by_length_never_shown() {
        use serde_json::json;
        let key = "k".repeat(64);
        let (prepared, source) = prepare_secret_key(figment(&[("secret_key", json!(key))]));
        assert_eq!(source, SecretKeySource::Invalid { chars: Some(64) });
        let reason = source.invalid_reason().unwrap();
        assert!(
            reason.contains("`secret_key`") && reason.contains("44 or 88"),
            "{reason}"
        );
        assert!(!reason.contains(&key));
        assert!(
            prepared.extract::<rocket::Config>().is_ok(),
            "Rocket builds, so the fairing can say what is wrong"
        );
        let (_, source) = prepare_secret_key(figment(&[("secret_key", json!(7))]));
        assert_eq!(source, SecretKeySource::Invalid { chars: None });
        let good = figment(&[("secret_key", json!("ab".repeat(32)))]);
        assert_eq!(prepare_secret_key(good).1, SecretKeySource::Configured);
    }

    #[test]
    fn non_mysql_url_is_rejected_by_key() {
        let err = config("postgres://x/y").validate().unwrap_err().to_string();
        assert!(err.contains("databases.main.url"), "{err}");
    }
}
