//! From liftoff to ready: whether this instance warms, and the warming itself.
//!
//! At liftoff (the listener is bound, requests are not answered until liftoff
//! ends, so nothing is fetched here) the instance reads the hot list and looks
//! up its hottest page in its own generation: found means an instance of this
//! build warmed (or served) it already, and there is nothing to do. Otherwise
//! it is `warming` until a task has fetched every listed page from its own
//! listener, a few at a time and paced (see [`pace`]), or `max_secs` have passed.

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
        let limit = cache.config().warm.max_time;
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

/// Time between two warm fetches starting: `max_time` spread over twice
/// `max_pages`, so that a full list is fetched within half of `max_time` and the
/// database sees at most `2 * max_pages` warm renders per `max_time` (20 a
/// second by default), however many instances start together (they ask in the
/// same order, and the render lease collapses their asks).
fn pace(max_pages: u64, max_time: Duration) -> Duration {
    max_time / u32::try_from(max_pages.max(1) * 2).unwrap_or(u32::MAX)
}

/// Fetches `pages` from `listener`, one every [`pace`] and at most
/// [`CONCURRENCY`] at a time, until done or `deadline`. An answer that did not
/// come from this instance (another program on the address) stops it at once.
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
    let warm = &cache.config().warm;
    let pace = pace(warm.max_pages, warm.max_time);
    let token = cache.warm_state().token().to_owned();
    let deadline = tokio::time::Instant::from_std(deadline);
    let mut next_start = tokio::time::Instant::now();
    let mut queue = pages.into_iter().peekable();
    let mut running = JoinSet::new();
    loop {
        let may_start = running.len() < CONCURRENCY && queue.peek().is_some();
        if !may_start && running.is_empty() {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => {
                done.stopped = Some("warm.max_secs reached");
                break;
            }
            () = tokio::time::sleep_until(next_start), if may_start => {
                next_start = next_start.max(tokio::time::Instant::now()) + pace;
                let member = queue.next().unwrap_or_default();
                let Some((host, path)) = request_of(&member) else {
                    done.failed += 1;
                    continue;
                };
                let (host, path, token) = (host.to_owned(), path.to_owned(), token.clone());
                running.spawn(async move { fetch::get(listener, &host, &path, &token).await });
            }
            Some(fetched) = running.join_next(), if !running.is_empty() => match fetched {
                Ok(Ok(Fetched { from_self: false, .. })) => {
                    done.stopped = Some("another program answers on the instance's address");
                    break;
                }
                Ok(Ok(Fetched { status, .. })) if status < 400 => done.fetched += 1,
                _ => done.failed += 1,
            },
        }
    }
    running.abort_all();
    done
}

#[cfg(test)]
mod tests {
    use super::pace;
    use std::time::Duration;

    #[test]
    fn a_full_list_is_paced_over_half_of_max_secs() {
        let secs = Duration::from_secs;
        assert_eq!(pace(100, secs(10)), Duration::from_millis(50));
        assert_eq!(pace(0, secs(10)), Duration::from_secs(5));
        assert_eq!(pace(10_000, secs(1)), Duration::from_micros(50));
    }
}
