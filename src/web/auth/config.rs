//! `[default.admin]`: the typed configuration of the admin area (login, API token,
//! sessions, login throttle), with the checks of the argon2 hash it is given.

use figment::Figment;
use serde::Deserialize;

use crate::config::{check_range, ConfigError};

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
        check_range(
            "admin.session_ttl_secs",
            self.session_ttl_secs,
            60..=30 * 86_400,
        )?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::figment;

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
}
