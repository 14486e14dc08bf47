//! The circuit breakers in front of the store: after repeated failures the
//! store is skipped for a moment, so that a hung Redis costs requests one time
//! budget now and then instead of one each.
//!
//! On one server there is one breaker. On a Redis Cluster a dead or silent
//! master fails only the keys of its slots, and one breaker for everything
//! would let those failures turn the cache off for the pages on the masters
//! that still answer (it flaps open for a second at a time while the failover
//! runs). So single-key operations (a page's lookup, its lease) go through a
//! breaker for their key's range of slots: masters serve contiguous ranges, so
//! the ranges of a dead master trip and the others keep serving hits.
//! Operations over many keys (tag reads and filing) keep the breaker of the
//! whole store. Purges go around the breakers: they are always tried, and their
//! errors go to the caller, which retries them.
//!
//! Breakers measure intervals in this process only, so they read the monotonic
//! clock (`Instant`).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

/// Hash slots of a Redis Cluster.
const SLOTS: u16 = 16_384;
/// Slots per range with a breaker of its own: 64 ranges, fine enough that a
/// master's share of the slots (a third, on the smallest cluster) is whole
/// ranges but for the two at its edges.
const SLOTS_PER_RANGE: u16 = 256;

/// One breaker: see the module's doc.
pub struct Breaker {
    failures: AtomicU32,
    /// Milliseconds after `origin` until which it stays open; 0 when closed.
    open_until_ms: AtomicU64,
    origin: Instant,
}

/// Consecutive failures that open the breaker.
const TRIP_AFTER: u32 = 3;
/// How long it stays open; then one request tries the store again.
const OPEN_FOR_MS: u64 = 1_000;

impl Breaker {
    pub fn new() -> Self {
        Self {
            failures: AtomicU32::new(0),
            open_until_ms: AtomicU64::new(0),
            origin: Instant::now(),
        }
    }

    /// Milliseconds since `origin`, from 1 so that 0 can mean "closed".
    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX - OPEN_FOR_MS) + 1
    }

    /// Whether the store may be tried now.
    pub fn allows(&self) -> bool {
        let until = self.open_until_ms.load(Ordering::Relaxed);
        if until == 0 {
            return true;
        }
        let now = self.now_ms();
        // Once the open window ends, let exactly one caller probe and push the
        // window on for the others until it reports back.
        now >= until
            && self
                .open_until_ms
                .compare_exchange(
                    until,
                    now + OPEN_FOR_MS,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    /// Whether it has tripped and no store call has succeeded since (open, or
    /// letting one probe through).
    pub fn is_open(&self) -> bool {
        self.open_until_ms.load(Ordering::Relaxed) != 0
    }

    pub fn success(&self) {
        self.failures.store(0, Ordering::Relaxed);
        self.open_until_ms.store(0, Ordering::Relaxed);
    }

    pub fn failure(&self) {
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if failures >= TRIP_AFTER {
            self.open_until_ms
                .store(self.now_ms() + OPEN_FOR_MS, Ordering::Relaxed);
        }
    }
}

impl Default for Breaker {
    fn default() -> Self {
        Self::new()
    }
}

/// The whole store's breaker, and on a cluster one per range of slots.
pub struct Breakers {
    whole: Breaker,
    by_slot_range: Vec<Breaker>,
}

impl Breakers {
    /// One breaker for everything (one server, or a store in this process).
    pub fn single() -> Self {
        Self {
            whole: Breaker::new(),
            by_slot_range: Vec::new(),
        }
    }

    /// A breaker for the whole store and one per range of a cluster's slots.
    pub fn per_slot_range() -> Self {
        Self {
            whole: Breaker::new(),
            by_slot_range: (0..SLOTS / SLOTS_PER_RANGE)
                .map(|_| Breaker::new())
                .collect(),
        }
    }

    /// The breaker of operations over many keys.
    pub fn whole(&self) -> &Breaker {
        &self.whole
    }

    /// The breaker of an operation on `key` alone.
    pub fn for_key(&self, key: &str) -> &Breaker {
        if self.by_slot_range.is_empty() {
            return &self.whole;
        }
        &self.by_slot_range[usize::from(slot_of(key.as_bytes()) / SLOTS_PER_RANGE)]
    }

    /// Whether any breaker is open: the store, or part of it, is being skipped.
    pub fn any_open(&self) -> bool {
        self.whole.is_open() || self.by_slot_range.iter().any(Breaker::is_open)
    }
}

/// The cluster hash slot of `key`: CRC16 (XMODEM) of its hash tag (the bytes
/// between the first `{` and the next `}`, when not empty) or of the whole key,
/// modulo the slot count.
fn slot_of(key: &[u8]) -> u16 {
    let hashed = hash_tag(key).unwrap_or(key);
    let crc = hashed.iter().fold(0u16, |crc, &byte| {
        (0..8).fold(crc ^ (u16::from(byte) << 8), |crc, _| {
            if crc & 0x8000 == 0 {
                crc << 1
            } else {
                (crc << 1) ^ 0x1021
            }
        })
    });
    crc % SLOTS
}

fn hash_tag(key: &[u8]) -> Option<&[u8]> {
    let open = key.iter().position(|&b| b == b'{')?;
    let after = &key[open + 1..];
    let close = after.iter().position(|&b| b == b'}')?;
    (close > 0).then(|| &after[..close])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaker_opens_after_repeated_failures_and_closes_on_success() {
        let breaker = Breaker::new();
        assert!(breaker.allows());
        breaker.failure();
        breaker.failure();
        assert!(breaker.allows());
        assert!(!breaker.is_open());
        breaker.failure();
        assert!(!breaker.allows());
        assert!(breaker.is_open());
        breaker.success();
        assert!(breaker.allows());
        assert!(!breaker.is_open());
    }

    #[test]
    fn slots_are_the_clusters_own() {
        for key in [
            "",
            "foo",
            "123456789",
            "ns:v1:0:localhost:/item/1",
            "ns:tgen:{a1b2}:path:/x",
            "a{}b",
            "a{b}c{d}",
            "{",
            "}{x}",
        ] {
            assert_eq!(
                redis::cluster_routing::Slot::new(slot_of(key.as_bytes())),
                Some(redis::cluster_routing::Slot::for_key(key)),
                "{key:?}"
            );
        }
        // The example of the cluster specification.
        assert_eq!(slot_of(b"123456789"), 0x31C3);
    }

    #[test]
    fn a_tripped_range_leaves_the_others_and_the_whole_store_closed() {
        let breakers = Breakers::per_slot_range();
        let (dead, alive) = ("foo", "bar");
        assert_ne!(
            slot_of(dead.as_bytes()) / SLOTS_PER_RANGE,
            slot_of(alive.as_bytes()) / SLOTS_PER_RANGE
        );
        for _ in 0..3 {
            breakers.for_key(dead).failure();
        }
        assert!(!breakers.for_key(dead).allows());
        assert!(breakers.for_key(alive).allows());
        assert!(breakers.whole().allows());
        assert!(breakers.any_open());
    }

    #[test]
    fn one_server_has_one_breaker_for_everything() {
        let breakers = Breakers::single();
        for _ in 0..3 {
            breakers.for_key("foo").failure();
        }
        assert!(!breakers.for_key("bar").allows());
        assert!(!breakers.whole().allows());
    }
}
