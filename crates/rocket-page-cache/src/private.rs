//! Which requests belong to one person: a private cookie counts only when it
//! stands for a session, so a stranger cannot switch the cache off by sending
//! one.
//!
//! A cookie's presence proves nothing (anyone can send `session=x`), and every
//! request that bypasses renders from the data layer. So a private cookie makes a
//! request private only when it decrypts with the app's `secret_key` (a Rocket
//! private cookie, which only the app can have made: checked in memory, no I/O),
//! and, when the app gave a [`SessionCheck`] for it, when that check says the
//! cookie names a live session. Anything else is an anonymous request.

use rocket::Request;

/// Whether `request`, whose private cookie decrypted, holds a live session.
///
/// It runs on every cacheable request that carries the cookie, before routing,
/// so it must not wait: it reads what an earlier request fairing of the app found
/// out (e.g. a session lookup kept in `request.local_cache`). Answer `true` when
/// unsure: a private request is only slower, a wrong anonymous one could be
/// given someone's page.
pub type SessionCheck = fn(&Request<'_>) -> bool;

/// The session checks the app gave per cookie name; managed by the fairing.
#[derive(Default, Clone)]
pub(crate) struct SessionChecks(pub(crate) Vec<(String, SessionCheck)>);

/// Whether one of the cookies `names` makes `request` private.
pub(crate) fn holds_session(request: &Request<'_>, names: &[String]) -> bool {
    let checks = request.rocket().state::<SessionChecks>();
    names.iter().any(|name| {
        request.cookies().get_private(name).is_some()
            && checks
                .and_then(|checks| checks.0.iter().find(|(n, _)| n == name))
                .is_none_or(|(_, check)| check(request))
    })
}
