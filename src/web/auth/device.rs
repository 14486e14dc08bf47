//! Device cookies (OWASP's answer to lockouts by strangers): a browser that has
//! logged in as a user carries a private cookie naming that user, and is not
//! locked out by failures from elsewhere.
//!
//! The cookie is encrypted with `secret_key`, so only the app can make one; it
//! names the username it was earned for and a random id, and is sent only to the
//! login form's address. A login attempt with a valid device cookie for the
//! username it tries skips the per-username and per-address locks; its failures
//! count against that device's id only, which locks that browser alone
//! ([`LoginThrottle`](super::throttle::LoginThrottle) bounds and forgets them, and
//! counts them for the whole fleet in the shared store, as it does addresses and
//! usernames).
//! Browsers without one get the per-username lock, so strangers can still lock
//! themselves out, never the admin's browser.

use std::time::Duration;

use rocket::http::{Cookie, CookieJar};
use serde::{Deserialize, Serialize};

use super::session::{lasting, now_secs, within, LOGIN_PATH};

/// The device cookie.
pub const DEVICE_COOKIE: &str = "rc_device";
/// How long a browser stays trusted after its last successful login.
const DEVICE_TTL: Duration = Duration::from_hours(24 * 90);

/// A browser's id, from a valid device cookie.
pub type DeviceId = [u8; 16];

/// What the device cookie holds.
#[derive(Serialize, Deserialize)]
struct DeviceData {
    user: String,
    id: String,
    issued: u64,
}

/// The id of this browser when it holds a valid device cookie for `username`:
/// it decrypts, is within its lifetime and was earned by that username.
pub fn device_for(jar: &CookieJar<'_>, username: &str) -> Option<DeviceId> {
    let cookie = jar.get_private(DEVICE_COOKIE)?;
    let data: DeviceData = serde_json::from_str(cookie.value()).ok()?;
    if data.user != username || !within(data.issued, DEVICE_TTL) {
        return None;
    }
    hex::decode(&data.id).ok()?.try_into().ok()
}

/// Gives this browser a device cookie for `username`, after a successful login;
/// a browser that had one for the same username keeps its id (and what its
/// failures count against).
pub fn issue_device(jar: &CookieJar<'_>, username: &str, secure: bool) {
    let id = device_for(jar, username).unwrap_or_else(rand::random);
    let data = DeviceData {
        user: username.to_owned(),
        id: hex::encode(id),
        issued: now_secs(),
    };
    if let Ok(value) = serde_json::to_string(&data) {
        jar.add_private(lasting(
            Cookie::build((DEVICE_COOKIE, value)).path(LOGIN_PATH),
            DEVICE_TTL,
            secure,
        ));
    }
}
