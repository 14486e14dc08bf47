//! Warm start: a deploy's new generation starts with an empty cache, and would
//! send every request to the database at once. Every instance counts the pages
//! it serves (a sample of them, added up in the instance and written once a
//! second) into one bounded list of hot pages in the shared store; a starting
//! instance whose generation holds none of them yet renders the hottest once,
//! through its own listener, before it reports ready.
//! Its requests go the way of any miss, so the cluster-wide render lease keeps
//! instances that start together from rendering a page more than once.
//!
//! - `start`: what a starting instance does, from liftoff to ready.
//! - `fetch`: the one plain HTTP/1.1 GET it sends itself per page.
//!
//! Key: `<namespace>:warm:hot`, a sorted set of at most twice `max_pages`
//! members (the candidates below the top keep their counts), each the part of a
//! page key after the generation (`host:/path?query`), expiring a week after the
//! last count. Shared by every generation, so a new one finds the old one's.

mod fetch;
pub(crate) mod start;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rocket::Request;

use super::handle::{Cache, CacheUnavailable};

/// The header a warm-start request carries, with the instance's token: the
/// instance answers it with [`WARMED_HEADER`] (so the warmer knows it reached
/// itself) and does not count it as a visit.
pub(crate) const WARM_HEADER: &str = "X-Page-Cache-Warm";
/// The answer's mark that the request reached the instance that sent it.
pub(crate) const WARMED_HEADER: &str = "X-Page-Cache-Warmed";
/// Pages whose sampled visits wait for the next write; samples of further
/// pages are dropped until it.
const PENDING_PAGES: usize = 256;
/// How often sampled visits are written to the shared list: a page served
/// thousands of times a second costs the store one count in that time.
const WRITE_EVERY: Duration = Duration::from_secs(1);
/// The hot list lives this long after its last count.
const LIST_TTL: Duration = Duration::from_hours(24 * 7);

/// An instance's warm-start state and counters.
pub(crate) struct WarmState {
    warming: AtomicBool,
    /// Cacheable requests seen, for sampling.
    seen: AtomicU64,
    /// Sampled visits not yet written, by hot list member.
    pending: Mutex<HashMap<String, u64>>,
    /// Whether a write of `pending` is due.
    write_due: AtomicBool,
    /// What this instance's own warm requests carry.
    token: String,
}

impl Default for WarmState {
    fn default() -> Self {
        Self {
            warming: AtomicBool::new(false),
            seen: AtomicU64::new(0),
            pending: Mutex::new(HashMap::new()),
            write_due: AtomicBool::new(false),
            token: hex::encode(rand::random::<[u8; 16]>()),
        }
    }
}

impl WarmState {
    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    pub(crate) fn set_warming(&self, warming: bool) {
        self.warming.store(warming, Ordering::SeqCst);
    }

    fn pending(&self) -> MutexGuard<'_, HashMap<String, u64>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `weight` visits of `member` to the next write; false when too
    /// many pages wait already.
    fn add_pending(&self, member: &str, weight: u64) -> bool {
        let mut pending = self.pending();
        if let Some(visits) = pending.get_mut(member) {
            *visits += weight;
        } else if pending.len() < PENDING_PAGES {
            pending.insert(member.to_owned(), weight);
        } else {
            return false;
        }
        true
    }
}

/// The page key of a request chosen to be counted, from `on_request` to
/// `on_response` (where the status says whether it was a page).
#[derive(Default)]
pub(crate) struct HotCandidate(pub Option<String>);

/// `(host, path?query)` of a hot list member, as a request for it is sent.
pub(crate) fn request_of(member: &str) -> Option<(&str, &str)> {
    let (host, rest) = member.split_once(":/")?;
    let path_and_query = &member[host.len() + 1..];
    let path_and_query = path_and_query
        .split_once('|')
        .map_or(path_and_query, |(page, _)| page);
    (!host.is_empty() && !rest.contains(' ')).then_some((host, path_and_query))
}

impl Cache {
    fn hot_list_key(&self) -> String {
        format!("{}warm:hot", self.namespace_prefix())
    }

    /// Whether this instance is warming its new generation (it is not ready
    /// yet: `/health/ready` should say so).
    pub fn warming(&self) -> bool {
        self.warm_state().warming.load(Ordering::SeqCst)
    }

    /// Whether `request` is one of this instance's own warm-start requests.
    pub(crate) fn is_warm_request(&self, request: &Request<'_>) -> bool {
        request
            .headers()
            .get_one(WARM_HEADER)
            .is_some_and(|token| token == self.warm_state().token())
    }

    /// Whether this cacheable request is one of the sample that is counted.
    pub(crate) fn sample_hot(&self) -> bool {
        let warm = &self.config().warm;
        if warm.max_pages == 0 || self.shared_store().is_err() {
            return false;
        }
        let seen = self.warm_state().seen.fetch_add(1, Ordering::Relaxed);
        seen.is_multiple_of(warm.sample_every)
    }

    /// Counts the page `key` (a full page key of this generation) at the next
    /// write of the sampled visits, unless its key is hashed (no request can be
    /// made from it) or too many pages wait already.
    pub(crate) fn note_hot(&self, key: &str) {
        let Some(member) = key.strip_prefix(self.key_base()) else {
            return;
        };
        if request_of(member).is_none() {
            return;
        }
        let state = self.warm_state();
        if !state.add_pending(member, self.config().warm.sample_every) {
            return;
        }
        if state.write_due.swap(true, Ordering::AcqRel) {
            return;
        }
        let cache = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(WRITE_EVERY).await;
            let state = cache.warm_state();
            // Before taking them: a visit noted from now on is due next time.
            state.write_due.store(false, Ordering::Release);
            let visits = std::mem::take(&mut *state.pending());
            for (member, weight) in visits {
                // A store that does not answer would cost a timeout per page:
                // the rest of this second's samples are dropped instead.
                if cache.count_hot(&member, weight).await.is_err() {
                    break;
                }
            }
        });
    }

    /// Adds `weight` visits to `page` (`host:/path?query`, as a page key reads
    /// after its generation) on the shared list of hot pages, which keeps at
    /// most twice `warm.max_pages` of them (see the module doc). Errs without a
    /// shared store, or when it does not answer within `op_timeout_ms`.
    pub async fn count_hot(&self, page: &str, weight: u64) -> Result<(), CacheUnavailable> {
        self.shared_store()?;
        let key = self.hot_list_key();
        let bound = self.config().warm.max_pages.max(1) * 2;
        let count = self.store().count_hot(&key, page, weight, bound, LIST_TTL);
        self.guarded(self.breaker_for(&key), "hot page count", count)
            .await
    }

    /// The `n` most visited pages of the shared list, most visited first.
    pub async fn hot_pages(&self, n: u64) -> Result<Vec<String>, CacheUnavailable> {
        self.shared_store()?;
        let key = self.hot_list_key();
        let read = self.store().hottest(&key, n);
        self.guarded(self.breaker_for(&key), "hot page list", read)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::request_of;

    #[test]
    fn a_member_becomes_the_request_that_made_it() {
        assert_eq!(
            request_of("localhost:/users/1?page=2"),
            Some(("localhost", "/users/1?page=2"))
        );
        assert_eq!(
            request_of("[::1]:/a/b||"),
            Some(("[::1]", "/a/b")),
            "vary values are left out"
        );
        assert_eq!(request_of("#0123abcd"), None, "a hashed key");
        assert_eq!(request_of("localhost:/a b"), None);
    }
}
