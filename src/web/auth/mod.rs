//! Who may write: the admin login (a session kept in `MySQL`, its token in a
//! private cookie, CSRF tokens on every form) and the JSON API's bearer token.
//!
//! Configured by `[default.admin]` ([`AdminConfig`]); with nothing configured every
//! write is refused with a message that says how to configure it, and pages are
//! served as usual.

pub(crate) mod config;
mod device;
mod fleet_throttle;
mod gate;
mod password;
mod session;
mod throttle;
mod token;

use std::net::IpAddr;
use std::time::Duration;

use rocket::fairing::{self, Fairing, Info, Kind};
use rocket::{Build, Rocket};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::SecretKeySource;
use crate::web::error::AppError;
use config::AdminConfig;

pub use device::{device_for, issue_device, DeviceId};
use gate::VerifyGate;
pub use password::{hash_password, verify_password};
pub use session::{
    check_login_token, end_session, issue_login_token, session_is_live, start_session,
    AdminSession, SESSION_COOKIE, SESSION_MEMO_TTL,
};
use throttle::LoginThrottle;
pub(crate) use token::bearer_token;
pub use token::ApiAdmin;

/// Most ended session tokens remembered per instance.
const ENDED_SESSIONS_KEPT: u64 = 10_000;

/// The admin settings as requests need them; managed by [`AuthFairing`].
pub struct Auth {
    login: Option<Login>,
    /// SHA-256 of the API token: compared in constant time, never kept in clear.
    api_token_digest: Option<[u8; 32]>,
    session_ttl: Duration,
    throttle: LoginThrottle,
    gate: VerifyGate,
    /// SHA-256 of session tokens found to name no live session (bounded, and
    /// forgotten after a session's lifetime): such a token never becomes live, so
    /// a replayed cookie costs `MySQL` one lookup per instance.
    ended_sessions: moka::sync::Cache<Vec<u8>, ()>,
}

/// What a login attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginCheck {
    /// The admin's username and password.
    Valid,
    /// Wrong username or password (counted against the address and the username,
    /// or against the device for a browser with a device cookie).
    Wrong,
    /// Too many failures from this address or for this username (or from this
    /// device): try again after this long. The password was not checked.
    LockedOut(Duration),
    /// Too many password checks in flight: try again in a moment.
    Busy,
}

struct Login {
    username: String,
    password_hash: String,
    /// Part of every session: changing the password hash ends existing sessions.
    fingerprint: String,
}

impl Auth {
    pub fn new(config: &AdminConfig) -> Self {
        let login = config.login().map(|(username, hash)| Login {
            username: username.to_owned(),
            password_hash: hash.to_owned(),
            fingerprint: hex::encode(&Sha256::digest(hash.as_bytes())[..8]),
        });
        Self {
            login,
            api_token_digest: config.api_token.as_deref().map(digest),
            session_ttl: Duration::from_secs(config.session_ttl_secs),
            throttle: LoginThrottle::new(config.login_failures_allowed),
            gate: VerifyGate::new(config.login_concurrency()),
            ended_sessions: moka::sync::Cache::builder()
                .max_capacity(ENDED_SESSIONS_KEPT)
                .time_to_live(Duration::from_secs(config.session_ttl_secs))
                .build(),
        }
    }

    /// Whether the HTML login is configured.
    pub fn login_enabled(&self) -> bool {
        self.login.is_some()
    }

    /// Whether the JSON API accepts a bearer token.
    pub fn api_enabled(&self) -> bool {
        self.api_token_digest.is_some()
    }

    /// Checks a login attempt from `address` (with `device`, the id of a valid
    /// device cookie for `username`), within the throttle and the bound on
    /// password checks in flight. The password is checked even when the username
    /// is wrong, so the time taken does not tell which was.
    ///
    /// Failures are counted for the whole fleet in `shared` (the page cache's
    /// store), and in this process, which is what counts when `shared` is
    /// `None` or cannot answer.
    pub async fn check_login(
        &self,
        shared: Option<&rocket_page_cache::Cache>,
        address: Option<IpAddr>,
        username: &str,
        password: &str,
        device: Option<DeviceId>,
    ) -> LoginCheck {
        let Some(login) = &self.login else {
            return LoginCheck::Wrong;
        };
        let throttle = &self.throttle;
        if let Err(wait) = throttle
            .check_shared(shared, address, username, device)
            .await
        {
            return LoginCheck::LockedOut(wait);
        }
        let Some(permit) = self.gate.enter().await else {
            return LoginCheck::Busy;
        };
        let user_ok = same_secret(username, &login.username);
        let password_ok =
            password::verify_password_holding(&login.password_hash, password, permit).await;
        if user_ok && password_ok {
            throttle
                .succeeded_shared(shared, address, username, device)
                .await;
            LoginCheck::Valid
        } else {
            throttle
                .failed_shared(shared, address, username, device)
                .await;
            LoginCheck::Wrong
        }
    }
}

/// Why a request may not write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No admin credentials of the needed kind are configured.
    NotConfigured,
    /// No valid session cookie (absent, expired, forged, or from an old password).
    LoginRequired,
    /// The form's CSRF token is missing or is not the session's.
    BadCsrf,
    /// No `Authorization: Bearer` header.
    MissingToken,
    /// A bearer token that is not the configured one.
    BadToken,
    /// The session store (`MySQL`) could not be reached; the cause is logged.
    Unavailable,
}

impl From<AuthError> for AppError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::NotConfigured => Self::Forbidden(
                "Writes are disabled: no admin credentials are configured. Set admin.username \
                 and admin.password_hash (for the HTML forms) or admin.api_token (for the JSON \
                 API) in Rocket.toml or ROCKET_ADMIN; the README says how."
                    .to_owned(),
            ),
            AuthError::LoginRequired => {
                Self::Forbidden("Log in as admin first, at /admin/login.".to_owned())
            }
            AuthError::BadCsrf => Self::Forbidden(
                "This form has expired or did not come from this site: go back, reload the \
                 page and try again."
                    .to_owned(),
            ),
            AuthError::MissingToken => Self::Unauthorized(
                "Send the admin API token as `Authorization: Bearer <admin.api_token>`.".to_owned(),
            ),
            AuthError::BadToken => Self::Unauthorized("The bearer token is wrong.".to_owned()),
            AuthError::Unavailable => {
                Self::Unavailable("the session store could not be reached".to_owned())
            }
        }
    }
}

/// Compares two secrets in time that depends on neither: both are hashed first, so
/// not even their lengths leak.
pub fn same_secret(given: &str, expected: &str) -> bool {
    digest(given).ct_eq(&digest(expected)).into()
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// A fresh random token for CSRF fields: 32 bytes as hex.
pub fn random_token() -> String {
    let mut bytes = [0_u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    hex::encode(bytes)
}

/// Reads and checks `[admin]` at ignite, enforces the secret-key rule, and manages
/// [`Auth`]. A wrong value aborts the launch with one line naming the key.
pub struct AuthFairing {
    secret: SecretKeySource,
}

impl AuthFairing {
    /// `secret` is what `build()` found or did about `secret_key`.
    pub fn new(secret: SecretKeySource) -> Self {
        Self { secret }
    }
}

#[rocket::async_trait]
impl Fairing for AuthFairing {
    fn info(&self) -> Info {
        Info {
            name: "Admin authentication",
            kind: Kind::Ignite | Kind::Request,
        }
    }

    /// Before the page cache (attached later): finds out whether a session cookie
    /// names a live session, so the cache can tell junk from a session.
    async fn on_request(&self, request: &mut rocket::Request<'_>, _: &mut rocket::Data<'_>) {
        if session::needs_session_probe(request) {
            Box::pin(session::probe_session(request)).await;
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> fairing::Result {
        if let Some(reason) = self.secret.invalid_reason() {
            rocket::error!("configuration: {reason}");
            // Nothing lasting after this: the database fairing skips its migrations.
            return Err(rocket.manage(crate::startup_checks::LaunchRefused));
        }
        let figment = rocket.figment();
        let config = match AdminConfig::from_figment(figment) {
            Ok(config) => config,
            Err(e) => {
                rocket::error!("configuration: {e}");
                return Err(rocket);
            }
        };
        if config.login().is_some() {
            if let Err(e) = check_login_setup(figment, self.secret) {
                rocket::error!("configuration: {e}");
                return Err(rocket);
            }
        }
        log_setup(&config, self.secret);
        Ok(rocket.manage(Auth::new(&config)))
    }
}

/// A login needs a stable key in release (shared by every instance) and a session
/// cookie that the page cache treats as private.
fn check_login_setup(figment: &figment::Figment, secret: SecretKeySource) -> Result<(), String> {
    let debug = figment.profile() == rocket::Config::DEBUG_PROFILE;
    if secret == SecretKeySource::Missing {
        if !debug {
            return Err(format!(
                "an admin login is configured but no secret_key: set ROCKET_SECRET_KEY to the \
                 same 64 random bytes on every instance (e.g. ROCKET_SECRET_KEY=\"$(openssl rand \
                 -base64 64 | tr -d '\\n')\") so that sessions work behind a load balancer \
                 (profile `{}`)",
                figment.profile()
            ));
        }
        rocket::warn!(
            "admin login without a secret_key: sessions end at restart and are not shared \
             with other instances; set ROCKET_SECRET_KEY (required in release)"
        );
    }
    Ok(())
}

fn log_setup(config: &AdminConfig, secret: SecretKeySource) {
    let login = config.login().is_some();
    let api = config.api_token.is_some();
    match (login, api) {
        (false, false) => rocket::info!(
            "admin: no credentials configured, writes are refused (set [default.admin] or \
             ROCKET_ADMIN to enable them)"
        ),
        (true, true) => rocket::info!("admin: login and API token configured"),
        (true, false) => rocket::info!("admin: login configured, JSON API writes refused"),
        (false, true) => rocket::info!("admin: API token configured, HTML login disabled"),
    }
    if secret == SecretKeySource::Generated {
        rocket::info!("secret_key: none configured and no admin login, using a random one");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_by_value_only() {
        assert!(same_secret("token-123", "token-123"));
        assert!(!same_secret("token-123", "token-124"));
        assert!(!same_secret("token-12", "token-123"));
        assert!(!same_secret("", "x"));
    }

    #[test]
    fn random_tokens_are_long_and_distinct() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }
}
