//! The near cache: a per-instance L1 in front of the shared store, bounded by
//! bytes, that never serves a page the shared store no longer holds for longer
//! than an invalidation takes to arrive.
//!
//! Coherence comes from [`link`]: Redis tells this instance of every change to a
//! key under the deploy's key base (server-assisted client-side caching,
//! `CLIENT TRACKING ... BCAST`), and the link drops those keys here. The rules:
//! - Only while the link is known to work is anything served or kept: when it
//!   drops, errors or misses a heartbeat, everything is flushed and the L1 stays
//!   off until tracking is on again.
//! - A value fetched while an invalidation of its key arrived is never kept (the
//!   fetch takes a [`Ticket`] first; an invalidation moves the ticket's stripe on).
//! - Every entry's life is capped at its freshness in the store and at
//!   `near_max_ttl_ms`, a backstop should an invalidation ever be lost unseen.
//!
//! Besides pages it keeps fragments, decoded, under their store keys and by the
//! same rules, so a repeated fragment costs neither a round trip nor a decode.

pub mod link;

use std::any::Any;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use moka::sync::Cache as Moka;
use moka::Expiry;

use super::entry::{Entry, Freshness, Kind};

/// Invalidation counters, one per stripe of the key space. More stripes only
/// make a needless refused insert (two keys sharing a stripe) rarer.
const STRIPES: usize = 1024;

/// Bytes counted for an entry beyond its key, body and headers (the map's own
/// bookkeeping), so that many tiny pages cannot exceed the bound unseen.
const ENTRY_OVERHEAD: usize = 256;

/// A page or a decoded value kept near, with how long it may stay.
#[derive(Clone)]
struct Kept {
    held: Held,
    lifetime: Duration,
}

/// What is kept under a key.
#[derive(Clone)]
enum Held {
    Page(Arc<Entry>),
    /// A value decoded from the store (a fragment), with the size of its
    /// encoding, which is what it is weighed by.
    Value {
        value: Arc<dyn Any + Send + Sync>,
        encoded_bytes: usize,
    },
}

/// Ends each entry's life at the lifetime it was inserted with.
struct KeptLifetime;

impl Expiry<String, Kept> for KeptLifetime {
    fn expire_after_create(&self, _: &String, kept: &Kept, _: Instant) -> Option<Duration> {
        Some(kept.lifetime)
    }

    fn expire_after_update(
        &self,
        _: &String,
        kept: &Kept,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(kept.lifetime)
    }
}

/// Taken before a fetch from the store; an insert with it is refused if the
/// key was invalidated, or everything flushed, since.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    stripe: usize,
    stripe_seen: u64,
    epoch_seen: u64,
}

/// What the near cache has of a decoded value: the value, or a keeper for the
/// one about to be read from the store (none while the link is down).
pub enum NearRead<'a, T> {
    Kept(Arc<T>),
    Fetch(Option<Keeper<'a>>),
}

/// Keeps a value read from the store, unless its key was invalidated since the
/// keeper was made (it holds the read's [`Ticket`]).
pub struct Keeper<'a> {
    near: &'a NearCache,
    ticket: Ticket,
    key: &'a str,
    fresh_for: Duration,
}

impl Keeper<'_> {
    /// Keeps `value`, decoded from the `encoded_bytes` the store gave, for at
    /// most the keeper's `fresh_for` (and `max_ttl`).
    pub fn keep<T: Any + Send + Sync>(self, value: T, encoded_bytes: usize) {
        let Self {
            near,
            ticket,
            key,
            fresh_for,
        } = self;
        near.keep_value(ticket, key, Arc::new(value), encoded_bytes, fresh_for);
    }
}

/// The L1 of one instance. Shared by every request; every method is lock-free
/// apart from the map's own striped locks.
pub struct NearCache {
    entries: Moka<String, Kept>,
    /// Moved on for every invalidated key of the stripe.
    stripes: Box<[AtomicU64]>,
    /// Moved on by every flush.
    epoch: AtomicU64,
    /// Whether the invalidation link is up and tracking: nothing is served or
    /// kept otherwise.
    link_up: AtomicBool,
    hasher: std::collections::hash_map::RandomState,
    max_ttl: Duration,
}

impl NearCache {
    /// An L1 of at most `max_bytes`, keeping no entry longer than `max_ttl`. It
    /// starts switched off, until the link reports tracking on.
    pub fn new(max_bytes: u64, max_ttl: Duration) -> Self {
        let entries = Moka::builder()
            .max_capacity(max_bytes)
            .weigher(|key: &String, kept: &Kept| match &kept.held {
                Held::Page(entry) => weight(key, entry),
                Held::Value { encoded_bytes, .. } => {
                    u32::try_from(key.len() + encoded_bytes + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
                }
            })
            .expire_after(KeptLifetime)
            .build();
        Self {
            entries,
            stripes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            epoch: AtomicU64::new(0),
            link_up: AtomicBool::new(false),
            hasher: std::collections::hash_map::RandomState::new(),
            max_ttl,
        }
    }

    /// The page kept under `key`, if the link is up and it is kept.
    pub fn get(&self, key: &str) -> Option<Arc<Entry>> {
        if !self.link_up.load(Ordering::Acquire) {
            return None;
        }
        match self.entries.get(key)?.held {
            Held::Page(entry) => Some(entry),
            Held::Value { .. } => None,
        }
    }

    /// The value kept under `key`, if the link is up and it is kept as a `T`.
    pub fn get_value<T: Any + Send + Sync>(&self, key: &str) -> Option<Arc<T>> {
        if !self.link_up.load(Ordering::Acquire) {
            return None;
        }
        match self.entries.get(key)?.held {
            Held::Value { value, .. } => value.downcast().ok(),
            Held::Page(_) => None,
        }
    }

    /// A ticket for a fetch of `key` about to start; `None` while the link is
    /// down (nothing fetched then may be kept).
    pub fn ticket(&self, key: &str) -> Option<Ticket> {
        if !self.link_up.load(Ordering::Acquire) {
            return None;
        }
        let stripe = self.stripe_of(key);
        Some(Ticket {
            stripe,
            stripe_seen: self.stripes[stripe].load(Ordering::SeqCst),
            epoch_seen: self.epoch.load(Ordering::SeqCst),
        })
    }

    /// Keeps a fetched page if it is a fresh page and nothing invalidated its key
    /// since `ticket` was taken. Its life ends at its freshness (by `now_ms`, the
    /// engine's clock) or `max_ttl`, whichever is first.
    pub fn keep(&self, ticket: Ticket, key: &str, entry: &Entry, now_ms: u64) {
        if entry.kind != Kind::Page || entry.freshness(now_ms) != Freshness::Fresh {
            return;
        }
        let fresh_for = Duration::from_millis(entry.fresh_until_ms.saturating_sub(now_ms));
        let lifetime = fresh_for.min(self.max_ttl);
        if lifetime.is_zero() || !self.still_valid(ticket) {
            return;
        }
        self.insert_checked(ticket, key, Held::Page(Arc::new(entry.clone())), lifetime);
    }

    /// The value kept under `key` as a `T`, or a keeper, taken before the store
    /// is read, for what it gives; kept at most `fresh_for`.
    pub fn read_value<'a, T: Any + Send + Sync>(
        &'a self,
        key: &'a str,
        fresh_for: Duration,
    ) -> NearRead<'a, T> {
        if let Some(kept) = self.get_value(key) {
            return NearRead::Kept(kept);
        }
        NearRead::Fetch(self.ticket(key).map(|ticket| Keeper {
            near: self,
            ticket,
            key,
            fresh_for,
        }))
    }

    /// Keeps `value`, decoded from `encoded_bytes` fetched from the store, for
    /// at most `fresh_for` (and `max_ttl`), if nothing invalidated its key since
    /// `ticket` was taken.
    pub fn keep_value<T: Any + Send + Sync>(
        &self,
        ticket: Ticket,
        key: &str,
        value: Arc<T>,
        encoded_bytes: usize,
        fresh_for: Duration,
    ) {
        let lifetime = fresh_for.min(self.max_ttl);
        if lifetime.is_zero() || !self.still_valid(ticket) {
            return;
        }
        let held = Held::Value {
            value,
            encoded_bytes,
        };
        self.insert_checked(ticket, key, held, lifetime);
    }

    fn insert_checked(&self, ticket: Ticket, key: &str, held: Held, lifetime: Duration) {
        self.entries.insert(key.to_owned(), Kept { held, lifetime });
        // An invalidation that raced with the insert above may have removed
        // nothing yet moved the stripe on: check again, and undo.
        if !self.still_valid(ticket) {
            self.entries.invalidate(key);
        }
    }

    /// Drops `key` and refuses any fetch of it in flight.
    pub fn invalidate(&self, key: &str) {
        self.stripes[self.stripe_of(key)].fetch_add(1, Ordering::SeqCst);
        self.entries.invalidate(key);
    }

    /// Drops everything and refuses every fetch in flight.
    pub fn flush(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.entries.invalidate_all();
    }

    /// The link lost tracking: flush and stop serving until [`Self::link_restored`].
    pub fn link_lost(&self) {
        self.link_up.store(false, Ordering::Release);
        self.flush();
    }

    /// Tracking is on again on a fresh link: start from empty.
    pub fn link_restored(&self) {
        self.flush();
        self.link_up.store(true, Ordering::Release);
    }

    /// Whether pages are served from here now.
    pub fn is_serving(&self) -> bool {
        self.link_up.load(Ordering::Acquire)
    }

    /// Bytes held, as weighed. Settles the map's pending bookkeeping first, so it
    /// costs a little: for stats, not for the request path.
    pub fn weighted_bytes(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.weighted_size()
    }

    fn still_valid(&self, ticket: Ticket) -> bool {
        self.link_up.load(Ordering::Acquire)
            && self.epoch.load(Ordering::SeqCst) == ticket.epoch_seen
            && self.stripes[ticket.stripe].load(Ordering::SeqCst) == ticket.stripe_seen
    }

    fn stripe_of(&self, key: &str) -> usize {
        // The modulus keeps the value below STRIPES, which fits any usize.
        usize::try_from(self.hasher.hash_one(key) % STRIPES as u64).unwrap_or(0)
    }
}

/// What an entry costs the bound: key, bodies in every coding, headers and a
/// fixed overhead.
fn weight(key: &str, entry: &Entry) -> u32 {
    let headers: usize = entry
        .headers
        .iter()
        .map(|(name, value)| name.len() + value.len())
        .sum();
    let compressed = [&entry.compressed.br, &entry.compressed.gzip]
        .into_iter()
        .flatten()
        .map(Bytes::len)
        .sum::<usize>();
    let bodies = entry.body.len() + compressed;
    let bytes = key.len() + entry.etag.len() + headers + bodies + ENTRY_OVERHEAD;
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000_000;

    fn page(fresh_for_ms: u64, body: &'static [u8]) -> Entry {
        Entry {
            kind: Kind::Page,
            status: 200,
            stored_at_ms: NOW,
            fresh_until_ms: NOW + fresh_for_ms,
            grace_secs: 60,
            stale_if_error_secs: 0,
            browser_ttl_secs: 0,
            render_ms: 1,
            etag: "\"e\"".into(),
            headers: Vec::new(),
            body: Bytes::from_static(body),
            compressed: crate::entry::Compressed::default(),
        }
    }

    fn near_up() -> NearCache {
        let near = NearCache::new(1 << 20, Duration::from_mins(1));
        near.link_restored();
        near
    }

    #[test]
    fn keeps_and_serves_a_fresh_page_while_the_link_is_up() {
        let near = near_up();
        let ticket = near.ticket("k").unwrap();
        near.keep(ticket, "k", &page(10_000, b"body"), NOW);
        assert_eq!(near.get("k").unwrap().body, Bytes::from_static(b"body"));
    }

    #[test]
    fn an_invalidation_during_the_fetch_keeps_the_fetched_value_out() {
        let near = near_up();
        let ticket = near.ticket("k").unwrap();
        near.invalidate("k");
        near.keep(ticket, "k", &page(10_000, b"old"), NOW);
        assert!(near.get("k").is_none());
        // A fetch that starts after the invalidation is kept.
        let ticket = near.ticket("k").unwrap();
        near.keep(ticket, "k", &page(10_000, b"new"), NOW);
        assert!(near.get("k").is_some());
    }

    #[test]
    fn a_value_is_kept_by_the_same_rules_and_only_read_as_its_own_type() {
        let near = near_up();
        let ticket = near.ticket("v").unwrap();
        near.invalidate("v");
        near.keep_value(
            ticket,
            "v",
            Arc::new("old".to_owned()),
            3,
            Duration::from_mins(1),
        );
        assert!(
            near.get_value::<String>("v").is_none(),
            "invalidated meanwhile"
        );

        let ticket = near.ticket("v").unwrap();
        near.keep_value(
            ticket,
            "v",
            Arc::new("new".to_owned()),
            3,
            Duration::from_mins(1),
        );
        assert_eq!(
            near.get_value::<String>("v").as_deref().map(String::as_str),
            Some("new")
        );
        assert!(near.get_value::<u64>("v").is_none(), "another type");
        assert!(near.get("v").is_none(), "not a page");

        near.link_lost();
        assert!(
            near.get_value::<String>("v").is_none(),
            "nothing while the link is down"
        );
    }

    #[test]
    fn a_flush_during_the_fetch_keeps_the_fetched_value_out() {
        let near = near_up();
        let ticket = near.ticket("k").unwrap();
        near.flush();
        near.keep(ticket, "k", &page(10_000, b"old"), NOW);
        assert!(near.get("k").is_none());
    }

    #[test]
    fn nothing_is_served_or_kept_while_the_link_is_down() {
        let near = near_up();
        let ticket = near.ticket("k").unwrap();
        near.keep(ticket, "k", &page(10_000, b"body"), NOW);
        near.link_lost();
        assert!(near.get("k").is_none());
        assert!(near.ticket("k").is_none());
        near.link_restored();
        assert!(near.get("k").is_none(), "a restored link starts empty");
    }

    #[test]
    fn stale_pages_and_markers_are_not_kept() {
        let near = near_up();
        let mut stale = page(0, b"stale");
        stale.fresh_until_ms = NOW - 1;
        near.keep(near.ticket("a").unwrap(), "a", &stale, NOW);
        let marker = Entry::hit_for_miss(NOW, Duration::from_secs(10));
        near.keep(near.ticket("b").unwrap(), "b", &marker, NOW);
        assert!(near.get("a").is_none());
        assert!(near.get("b").is_none());
    }

    #[test]
    fn an_entry_lives_no_longer_than_its_freshness_or_the_backstop() {
        let near = NearCache::new(1 << 20, Duration::from_millis(40));
        near.link_restored();
        near.keep(
            near.ticket("capped").unwrap(),
            "capped",
            &page(60_000, b"x"),
            NOW,
        );
        near.keep(near.ticket("short").unwrap(), "short", &page(20, b"x"), NOW);
        assert!(near.get("capped").is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(near.get("short").is_none(), "past its freshness");
        assert!(near.get("capped").is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(near.get("capped").is_none(), "past near_max_ttl");
    }

    #[test]
    fn the_byte_bound_holds() {
        static BODY: [u8; 10_000] = [b'x'; 10_000];
        let near = NearCache::new(100_000, Duration::from_mins(1));
        near.link_restored();
        for i in 0..100 {
            let key = format!("k{i}");
            near.keep(near.ticket(&key).unwrap(), &key, &page(60_000, &BODY), NOW);
        }
        near.entries.run_pending_tasks();
        assert!(
            near.weighted_bytes() <= 100_000,
            "{}",
            near.weighted_bytes()
        );
        assert!(near.entries.entry_count() < 100);
    }
}
