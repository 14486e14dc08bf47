//! From liftoff to ready: whether this instance warms, and the warming itself.
//!
//! At liftoff (the listener is bound, requests are not answered until liftoff
//! ends, so nothing is fetched here) the instance reads the hot list and looks
//! up its hottest page in its own generation: found means an instance of this
//! build warmed (or served) it already, and there is nothing to do. Otherwise
//! it is `warming` until a task has fetched every listed page from its own
//! listener, a few at a time, or `max_secs` have passed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use rocket::{Orbit, Rocket};
use tokio::task::JoinSet;

use super::fetch::{self, Fetched};
use super::request_of;
use crate::handle::Cache;

/// Pages fetched at once: a start's renders stay a small, steady load.
const CONCURRENCY: usize = 4;

/// Where this instance answers, as it can reach itself: `None` over TLS (the
/// warm fetch speaks plain HTTP only).
pub(crate) fn own_listener(rocket: &Rocket<Orbit>) -> Option<SocketAddr> {
    let config = rocket.config();
    if config.tls_enabled() {
        return None;
    }
    let ip = match config.address {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    Some(SocketAddr::new(ip, config.port))
}

/// Decides at liftoff; when there is warming to do, the instance is `warming`
/// from now on and a task does it.
pub(crate) async fn begin(cache: &Cache, listener: Option<SocketAddr>) {
    let max_pages = cache.config().warm.max_pages;
    if max_pages == 0 || cache.shared_store().is_err() {
        return;
    }
    let pages = match cache.hot_pages(max_pages).await {
        Ok(pages) if !pages.is_empty() => pages,
        _ => return,
    };
    let hottest = format!("{}{}", cache.key_base(), pages[0]);
    if let Ok(Some(_)) = cache.lookup_prefix(&hottest, 1).await {
        return;
    }
    let Some(listener) = listener else {
        rocket::info!("page cache: warm start skipped: the instance listens over TLS");
        return;
    };
    cache.warm_state().set_warming(true);
    let cache = cache.clone();
    tokio::spawn(async move {
        let started = Instant::now();
        let limit = Duration::from_secs(cache.config().warm.max_secs);
        let done = warm(&cache, listener, pages, started + limit).await;
        cache.warm_state().set_warming(false);
        rocket::info!(
            "page cache: warm start: {} of {} hot pages fetched ({} failed) in {} ms{}",
            done.fetched,
            done.listed,
            done.failed,
            started.elapsed().as_millis(),
            match done.stopped {
                Some(why) => format!("; stopped: {why}"),
                None => String::new(),
            }
        );
    });
}

/// What a warm start did.
struct Warmed {
    listed: usize,
    fetched: usize,
    failed: usize,
    stopped: Option<&'static str>,
}

/// Fetches `pages` from `listener`, [`CONCURRENCY`] at a time, until done or
/// `deadline`. An answer that did not come from this instance (another
/// program on the address) stops it at once.
async fn warm(
    cache: &Cache,
    listener: SocketAddr,
    pages: Vec<String>,
    deadline: Instant,
) -> Warmed {
    let mut done = Warmed {
        listed: pages.len(),
        fetched: 0,
        failed: 0,
        stopped: None,
    };
    let token = cache.warm_state().token().to_owned();
    let mut queue = pages.into_iter();
    let mut running = JoinSet::new();
    loop {
        while running.len() < CONCURRENCY {
            let Some(page) = queue.next() else { break };
            let Some((host, path)) = request_of(&page).map(|(h, p)| (h.to_owned(), p.to_owned()))
            else {
                done.failed += 1;
                continue;
            };
            let token = token.clone();
            running.spawn(async move { fetch::get(listener, &host, &path, &token).await });
        }
        let next = tokio::time::timeout_at(deadline.into(), running.join_next()).await;
        match next {
            Err(_) => {
                done.stopped = Some("warm.max_secs reached");
                break;
            }
            Ok(None) => break,
            Ok(Some(Ok(Ok(Fetched {
                from_self: false, ..
            })))) => {
                done.stopped = Some("another program answers on the instance's address");
                break;
            }
            Ok(Some(Ok(Ok(Fetched { status, .. })))) if status < 400 => done.fetched += 1,
            Ok(Some(_)) => done.failed += 1,
        }
    }
    running.abort_all();
    done
}
