//! The admin session: a row in `MySQL` (`admin_session`, the source of truth) found
//! by the SHA-256 of a random token that the browser holds in a private cookie
//! (encrypted with `secret_key`, so a forged cookie is refused before any query).
//! The CSRF token of the session's forms is stored with it, so it is new at every
//! login and dies at logout.
//!
//! A row found is kept as a memo in the page cache's store, and decoded in each
//! instance's near cache (Django's `cached_db` sessions, made coherent): an
//! admin's request then costs no `MySQL` round trip. Logging out deletes the row
//! and purges the memo, which Redis's invalidations take out of every instance's
//! near cache at once, so the session ends everywhere as soon as the logout
//! answers. A row deleted from outside the app (a SQL console, or the oldest
//! sessions ended by [`sessions::MAX_LIVE_SESSIONS`]) is refused at most
//! [`SESSION_MEMO_TTL`] later; expiry and the password's fingerprint are checked
//! on every request, on the kept row too. Without a cache store, every request
//! reads the row.
//!
//! The login form has no session yet; its CSRF token lives in a short-lived private
//! cookie of its own, scoped to `/admin/login`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rocket::http::{Cookie, CookieJar, Method, SameSite, Status};
use rocket::request::{FromRequest, Outcome, Request};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use rocket_page_cache::{Cache, Change};

use super::{random_token, same_secret, Auth, AuthError};
use crate::db::sessions::{self, SessionRow};
use crate::db::Db;

/// The session cookie. The page cache bypasses every request whose cookie names a
/// live session ([`session_is_live`]), so an admin never gets, nor leaves, a
/// shared page; a junk or ended one is an anonymous request.
pub const SESSION_COOKIE: &str = "rc_session";
/// The login form's CSRF cookie.
const LOGIN_COOKIE: &str = "rc_login";
pub(super) const LOGIN_PATH: &str = "/admin/login";
/// How long a login form may stay open before it must be reloaded.
const LOGIN_FORM_TTL: Duration = Duration::from_mins(30);
/// Clock difference between instances that is tolerated on `issued`.
const CLOCK_SKEW_SECS: u64 = 60;
/// Longest a session row is kept by the cache after it was read: how late a row
/// deleted outside the app (not by a logout) is noticed.
pub const SESSION_MEMO_TTL: Duration = Duration::from_secs(10);

/// What the login cookie holds.
#[derive(Serialize, Deserialize)]
struct LoginData {
    csrf: String,
    issued: u64,
}

/// A logged-in admin. As a request guard it fails with 403 ([`AuthError`]) when
/// there is no valid session (503 when `MySQL` cannot tell); take it as `Option<AdminSession>` on pages anyone
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

pub(super) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Unix seconds, as the session table stores them.
fn unix_now() -> i64 {
    i64::try_from(now_secs()).unwrap_or(i64::MAX)
}

/// Whether something issued at `issued` is still within `ttl`.
pub(super) fn within(issued: u64, ttl: Duration) -> bool {
    let now = now_secs();
    issued <= now + CLOCK_SKEW_SECS && now < issued.saturating_add(ttl.as_secs())
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for AdminSession {
    type Error = AuthError;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let session = request
            .local_cache_async(read_session(request))
            .await
            .as_ref()
            .map_err(|e| (guard_status(*e), *e));
        match session {
            Ok(session) => Outcome::Success(session.clone()),
            Err(failure) => Outcome::Error(failure),
        }
    }
}

/// What the session probe found for a GET or HEAD, for the page cache's
/// [`session_is_live`].
struct SessionProbe(bool);

/// Looks up the session of a GET or HEAD that carries the session cookie, before
/// the page cache decides on it: a cookie that does not decrypt is found out in
/// memory, one that names no live session costs at most one lookup (then
/// [`Auth::ended_sessions`] knows it). The result is kept for the request's
/// [`AdminSession`] guard, so a route that asks again costs nothing more.
pub async fn probe_session(request: &Request<'_>) {
    if !needs_session_probe(request) {
        return;
    }
    let found = request.local_cache_async(read_session(request)).await;
    // Unsure (the store did not answer): private, so only slower.
    let live = matches!(found, Ok(_) | Err(AuthError::Unavailable));
    request.local_cache(|| SessionProbe(live));
}

/// Whether [`probe_session`] has anything to do: a GET or HEAD that carries the
/// session cookie. Checked before its future is made, so that the requests that
/// carry none (nearly all) do not pay for it.
pub fn needs_session_probe(request: &Request<'_>) -> bool {
    matches!(request.method(), Method::Get | Method::Head)
        && request.cookies().get(SESSION_COOKIE).is_some()
}

/// The page cache's [`SessionCheck`](rocket_page_cache::routes::SessionCheck) for
/// [`SESSION_COOKIE`]: what [`probe_session`] found; private when it did not run.
pub fn session_is_live(request: &Request<'_>) -> bool {
    request.local_cache(|| SessionProbe(true)).0
}

fn guard_status(error: AuthError) -> Status {
    match error {
        AuthError::Unavailable => Status::ServiceUnavailable,
        _ => Status::Forbidden,
    }
}

async fn read_session(request: &Request<'_>) -> Result<AdminSession, AuthError> {
    let login = request
        .rocket()
        .state::<Auth>()
        .and_then(|auth| auth.login.as_ref());
    let Some(login) = login else {
        return Err(AuthError::NotConfigured);
    };
    let cookie = request
        .cookies()
        .get_private(SESSION_COOKIE)
        .ok_or(AuthError::LoginRequired)?;
    let hash = token_hash(cookie.value());
    let ended = request
        .rocket()
        .state::<Auth>()
        .map(|auth| &auth.ended_sessions);
    if ended.is_some_and(|ended| ended.contains_key(&hash)) {
        return Err(AuthError::LoginRequired);
    }
    let db = request
        .rocket()
        .state::<Db>()
        .ok_or(AuthError::Unavailable)?;
    let now = unix_now();
    let row = live_session(db, request.rocket().state::<Cache>(), &hash)
        .await?
        .filter(|row| {
            row.expires_at > now
                && row.username == login.username
                && row.fingerprint == login.fingerprint
        });
    let Some(row) = row else {
        // A token that names no live session never will again: remember it, so
        // a replayed cookie costs one lookup, not one per request.
        if let Some(ended) = ended {
            ended.insert(hash, ());
        }
        return Err(AuthError::LoginRequired);
    };
    Ok(AdminSession {
        username: row.username,
        csrf: row.csrf,
    })
}

/// The live session row with this token hash, kept by `cache` when there is one
/// (see the module's doc). No row is not kept: [`Auth::ended_sessions`]
/// remembers those.
async fn live_session(
    db: &Db,
    cache: Option<&Cache>,
    hash: &[u8],
) -> Result<Option<SessionRow>, AuthError> {
    // `Err(None)`: no live row.
    let lookup = async {
        let mut conn = db.conn().await.map_err(|e| Some(unavailable(e)))?;
        sessions::find_live(&mut conn, hash, unix_now())
            .await
            .map_err(|e| Some(unavailable(e)))?
            .ok_or(None)
    };
    let found = match cache {
        Some(cache) => {
            let tags = session_change(hash).tags();
            let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
            let key = format!("admin-session:{}", hex::encode(hash));
            cache
                .get_or_compute_near(&key, SESSION_MEMO_TTL, &tags, lookup)
                .await
        }
        None => lookup.await,
    };
    match found {
        Ok(row) => Ok(Some(row)),
        Err(None) => Ok(None),
        Err(Some(failure)) => Err(failure),
    }
}

/// The change a logout makes: the session's row, which its memo is filed under.
fn session_change(hash: &[u8]) -> Change {
    Change::Row {
        table: "admin_session".to_owned(),
        key: hex::encode(hash),
    }
}

/// Logs why the session store failed; the request gets a 503.
fn unavailable(cause: impl std::fmt::Display) -> AuthError {
    crate::ops::request_warnings::warn(
        crate::ops::request_warnings::WarningKind::SessionStore,
        || format!("admin session store: {cause}"),
    );
    AuthError::Unavailable
}

/// What is stored of a session token: its SHA-256, so that the table's contents
/// cannot be replayed as cookies.
fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Logs `username` in: a new session row (new token, new CSRF token) and the
/// cookie that holds its token, both ending after `admin.session_ttl_secs`; the
/// cookie is `Secure` when the login came over TLS (`secure`).
pub async fn start_session(
    jar: &CookieJar<'_>,
    auth: &Auth,
    db: &Db,
    username: &str,
    secure: bool,
) -> Result<(), AuthError> {
    let Some(login) = &auth.login else {
        return Err(AuthError::NotConfigured);
    };
    let token = random_token();
    let ttl = i64::try_from(auth.session_ttl.as_secs()).unwrap_or(i64::MAX);
    let now = unix_now();
    let row = SessionRow {
        token_hash: token_hash(&token),
        username: username.to_owned(),
        fingerprint: login.fingerprint.clone(),
        csrf: random_token(),
        created_at: now,
        expires_at: now.saturating_add(ttl),
    };
    let mut conn = db.conn().await.map_err(unavailable)?;
    sessions::insert(&mut conn, row)
        .await
        .map_err(unavailable)?;
    jar.add_private(lasting(
        Cookie::build((SESSION_COOKIE, token)).path("/"),
        auth.session_ttl,
        secure,
    ));
    jar.remove_private(Cookie::build(LOGIN_COOKIE).path(LOGIN_PATH));
    Ok(())
}

/// Logs out: the session row is deleted, its memo purged (so the session ends on
/// every instance at once) and the cookie removed.
pub async fn end_session(
    jar: &CookieJar<'_>,
    db: &Db,
    cache: Option<&Cache>,
) -> Result<(), AuthError> {
    if let Some(cookie) = jar.get_private(SESSION_COOKIE) {
        let hash = token_hash(cookie.value());
        let mut conn = db.conn().await.map_err(unavailable)?;
        sessions::delete(&mut conn, &hash)
            .await
            .map_err(unavailable)?;
        if let Some(cache) = cache {
            // Hard: nothing of the session may be served after the logout. A
            // purge that fails leaves the memo to its short life.
            if let Err(e) = cache.purge_changes(&[session_change(&hash)], false).await {
                unavailable(format!("the ended session's memo was not purged: {e}"));
            }
        }
    }
    jar.remove_private(Cookie::build(SESSION_COOKIE).path("/"));
    Ok(())
}

/// An HTTP-only, same-site cookie whose `Max-Age` and `Expires` agree on `ttl`
/// (a private cookie without `Expires` would get Rocket's default of a week);
/// `secure` (the request came over TLS) keeps browsers from ever sending it over
/// plain HTTP.
pub(super) fn lasting(
    cookie: impl Into<Cookie<'static>>,
    ttl: Duration,
    secure: bool,
) -> Cookie<'static> {
    let ttl = rocket::time::Duration::seconds(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
    let mut cookie = cookie.into();
    cookie.set_http_only(true);
    if secure {
        cookie.set_secure(true);
    }
    cookie.set_same_site(SameSite::Strict);
    cookie.set_max_age(ttl);
    cookie.set_expires(rocket::time::OffsetDateTime::now_utc().saturating_add(ttl));
    cookie
}

/// A CSRF token for a login form, remembered in the login cookie (`Secure` over
/// TLS).
pub fn issue_login_token(jar: &CookieJar<'_>, secure: bool) -> String {
    let data = LoginData {
        csrf: random_token(),
        issued: now_secs(),
    };
    if let Ok(value) = serde_json::to_string(&data) {
        jar.add_private(lasting(
            Cookie::build((LOGIN_COOKIE, value)).path(LOGIN_PATH),
            LOGIN_FORM_TTL,
            secure,
        ));
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
