//! The app-wide part of the configuration, read from the figment that `build()`
//! is given: the error every area's config reports, and Rocket's `secret_key`
//! policy. Each area owns its own table: `databases.main` is
//! [`crate::db::config`], `admin` is [`crate::web::auth::config`].
//!
//! Rocket.toml profiles and `ROCKET_*` environment variables reach us through that
//! figment only: there is no global configuration, so every test (and every instance
//! in a multi-instance test) can run with its own.

use figment::Figment;

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

/// `Err` naming `key` and its (inclusive) range when `value` is outside it: every
/// number in the configuration has one, so that no value turns a bound off.
pub fn check_range(
    key: &'static str,
    value: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<(), ConfigError> {
    if range.contains(&value) {
        return Ok(());
    }
    Err(ConfigError::invalid(
        key,
        format!("from {} to {}; got {value}", range.start(), range.end()),
    ))
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
    if login_requested(&figment) {
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

/// Whether `figment` asks for the HTML login (`admin.username` or
/// `admin.password_hash` set), without validating: read before ignite to decide
/// about the secret key.
fn login_requested(figment: &Figment) -> bool {
    ["admin.username", "admin.password_hash"].iter().any(|key| {
        figment.extract_inner::<String>(key).map_or_else(
            |_| figment.find_value(key).is_ok(),
            |v| !v.trim().is_empty(),
        )
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Rocket's own defaults (which hold an all-zero `secret_key`) plus `pairs`;
    /// the config tests of every area start from it.
    pub(crate) fn figment(pairs: &[(&str, serde_json::Value)]) -> Figment {
        pairs.iter().fold(
            Figment::from(rocket::Config::debug_default()),
            |figment, (key, value)| figment.merge((*key, value.clone())),
        )
    }

    const HASH: &str = "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG";

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
}
