//! The admin session: a Rocket private cookie (encrypted and authenticated with
//! `secret_key`), so no session store is needed and every instance that shares the
//! key accepts it. The CSRF token of the session's forms lives inside it.
//!
//! The login form has no session yet; its CSRF token lives in a short-lived private
//! cookie of its own, scoped to `/admin/login`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rocket::http::{Cookie, CookieJar, SameSite, Status};
use rocket::request::{FromRequest, Outcome, Request};
use serde::{Deserialize, Serialize};

use super::{random_token, same_secret, Auth, AuthError};

/// The session cookie. The page cache bypasses every request that carries it
/// (`cache.private_cookies`), so an admin never gets, nor leaves, a shared page.
pub const SESSION_COOKIE: &str = "rc_session";
/// The login form's CSRF cookie.
const LOGIN_COOKIE: &str = "rc_login";
const LOGIN_PATH: &str = "/admin/login";
/// How long a login form may stay open before it must be reloaded.
const LOGIN_FORM_TTL: Duration = Duration::from_mins(30);
/// Clock difference between instances that is tolerated on `issued`.
const CLOCK_SKEW_SECS: u64 = 60;

/// What the session cookie holds.
#[derive(Serialize, Deserialize)]
struct SessionData {
    user: String,
    csrf: String,
    /// Unix seconds at login.
    issued: u64,
    /// The password hash's fingerprint at login.
    key: String,
}

/// What the login cookie holds.
#[derive(Serialize, Deserialize)]
struct LoginData {
    csrf: String,
    issued: u64,
}

/// A logged-in admin. As a request guard it fails with 403 ([`AuthError`]) when
/// there is no valid session; take it as `Option<AdminSession>` on pages anyone
/// may see, or as `Result<AdminSession, AuthError>` to answer the failure yourself.
#[derive(Debug, Clone)]
pub struct AdminSession {
    pub username: String,
    csrf: String,
}

impl AdminSession {
    /// The token every form of this session must send back as `csrf`.
    pub fn csrf_token(&self) -> &str {
        &self.csrf
    }

    /// Whether a submitted form carries this session's token.
    pub fn check_csrf(&self, submitted: Option<&str>) -> Result<(), AuthError> {
        match submitted {
            Some(token) if same_secret(token, &self.csrf) => Ok(()),
            _ => Err(AuthError::BadCsrf),
        }
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether something issued at `issued` is still within `ttl`.
fn within(issued: u64, ttl: Duration) -> bool {
    let now = now_secs();
    issued <= now + CLOCK_SKEW_SECS && now < issued.saturating_add(ttl.as_secs())
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for AdminSession {
    type Error = AuthError;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let session = request
            .local_cache(|| read_session(request))
            .as_ref()
            .map_err(|e| (Status::Forbidden, *e));
        match session {
            Ok(session) => Outcome::Success(session.clone()),
            Err(failure) => Outcome::Error(failure),
        }
    }
}

fn read_session(request: &Request<'_>) -> Result<AdminSession, AuthError> {
    let login = request
        .rocket()
        .state::<Auth>()
        .and_then(|auth| auth.login.as_ref().map(|login| (auth, login)));
    let Some((auth, login)) = login else {
        return Err(AuthError::NotConfigured);
    };
    let cookie = request
        .cookies()
        .get_private(SESSION_COOKIE)
        .ok_or(AuthError::LoginRequired)?;
    let data: SessionData =
        serde_json::from_str(cookie.value()).map_err(|_| AuthError::LoginRequired)?;
    let valid = data.user == login.username
        && data.key == login.fingerprint
        && within(data.issued, auth.session_ttl);
    if !valid {
        return Err(AuthError::LoginRequired);
    }
    Ok(AdminSession {
        username: data.user,
        csrf: data.csrf,
    })
}

/// Logs `username` in: a new session (new CSRF token) in the private cookie.
pub fn start_session(jar: &CookieJar<'_>, auth: &Auth, username: &str) {
    let Some(login) = &auth.login else { return };
    let data = SessionData {
        user: username.to_owned(),
        csrf: random_token(),
        issued: now_secs(),
        key: login.fingerprint.clone(),
    };
    let Ok(value) = serde_json::to_string(&data) else {
        return;
    };
    let max_age = rocket::time::Duration::seconds(
        i64::try_from(auth.session_ttl.as_secs()).unwrap_or(i64::MAX),
    );
    let cookie = Cookie::build((SESSION_COOKIE, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(max_age);
    jar.add_private(cookie);
    jar.remove_private(Cookie::build(LOGIN_COOKIE).path(LOGIN_PATH));
}

/// Logs out: the session cookie is removed.
pub fn end_session(jar: &CookieJar<'_>) {
    jar.remove_private(Cookie::build(SESSION_COOKIE).path("/"));
}

/// A CSRF token for a login form, remembered in the login cookie.
pub fn issue_login_token(jar: &CookieJar<'_>) -> String {
    let data = LoginData {
        csrf: random_token(),
        issued: now_secs(),
    };
    if let Ok(value) = serde_json::to_string(&data) {
        let max_age = rocket::time::Duration::seconds(
            i64::try_from(LOGIN_FORM_TTL.as_secs()).unwrap_or(i64::MAX),
        );
        jar.add_private(
            Cookie::build((LOGIN_COOKIE, value))
                .path(LOGIN_PATH)
                .http_only(true)
                .same_site(SameSite::Strict)
                .max_age(max_age),
        );
    }
    data.csrf
}

/// Whether a submitted login form carries the token its page was given.
pub fn check_login_token(jar: &CookieJar<'_>, submitted: Option<&str>) -> Result<(), AuthError> {
    let data: Option<LoginData> = jar
        .get_private(LOGIN_COOKIE)
        .and_then(|cookie| serde_json::from_str(cookie.value()).ok());
    match (data, submitted) {
        (Some(data), Some(token))
            if within(data.issued, LOGIN_FORM_TTL) && same_secret(token, &data.csrf) =>
        {
            Ok(())
        }
        _ => Err(AuthError::BadCsrf),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_are_checked_both_ways() {
        let now = now_secs();
        let hour = Duration::from_hours(1);
        assert!(within(now, hour));
        assert!(within(now - 3599, hour));
        assert!(!within(now - 3600, hour));
        assert!(within(now + 30, hour), "a peer's clock a little ahead");
        assert!(!within(now + 3600, hour), "issued in the future");
    }

    #[test]
    fn csrf_tokens_must_match_exactly() {
        let session = AdminSession {
            username: "admin".into(),
            csrf: "abc".into(),
        };
        assert!(session.check_csrf(Some("abc")).is_ok());
        assert_eq!(session.check_csrf(Some("abd")), Err(AuthError::BadCsrf));
        assert_eq!(session.check_csrf(Some("")), Err(AuthError::BadCsrf));
        assert_eq!(session.check_csrf(None), Err(AuthError::BadCsrf));
    }
}
