//! The page cache as this app sets it up: the users' pages and JSON it may keep,
//! the admin session that makes a request private, and the generation new
//! renders are keyed under.

use rocket::fairing::AdHoc;
use rocket_page_cache::PageCache;

use crate::users::cache_policy;
use crate::web::auth;

/// The cache, after the duplicate-Host guard (a refused request must not reach
/// it) and before the fairings that read its figures or follow its
/// `on_response`. A build that renders differently (a new version, templates or
/// stylesheet) starts on fresh keys; `cache.generation` wins over `generation`.
pub fn stage(generation: &str) -> AdHoc {
    let cache = PageCache::new(cache_policy::policies())
        .session_cookie(auth::SESSION_COOKIE, auth::session_is_live)
        .generation(generation);
    AdHoc::on_ignite(
        "Page cache stage",
        |rocket| async move { rocket.attach(cache) },
    )
}
