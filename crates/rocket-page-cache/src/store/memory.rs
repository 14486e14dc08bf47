//! The `memory` backend: this process only, bounded by bytes (Flask-Caching's
//! `SimpleCache`, done with moka). Right for one instance or for development; with
//! several instances each keeps its own copy and purges reach only its own.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use moka::sync::Cache;
use moka::Expiry;

use super::{StalePatch, Store, StoreError, TagStamp, Usage};

#[derive(Clone)]
struct Stored {
    value: Bytes,
    expires_at: Instant,
}

/// Each value lives until its own `expires_at`.
struct ByDeadline;

impl Expiry<String, Stored> for ByDeadline {
    fn expire_after_create(&self, _: &String, value: &Stored, now: Instant) -> Option<Duration> {
        Some(value.expires_at.saturating_duration_since(now))
    }

    fn expire_after_update(
        &self,
        _: &String,
        value: &Stored,
        now: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.expires_at.saturating_duration_since(now))
    }
}

/// Tags past this many are pruned: marks older than [`MARK_KEPT`] and sets
/// whose entries are all gone are dropped. The next pruning waits until the
/// index has doubled, so pruning costs O(1) per store on average.
const TAGS_BEFORE_PRUNING: usize = 10_000;
/// How long a purge mark is kept at least: far longer than a render lasts.
const MARK_KEPT: Duration = Duration::from_mins(10);

#[derive(Default)]
struct Tag {
    /// The number of the latest purge of this tag, and when it was made.
    mark: Option<(u64, Instant)>,
    keys: HashSet<String>,
}

/// Tags and the purge sequence.
#[derive(Default)]
struct TagIndex {
    sequence: u64,
    tags: HashMap<String, Tag>,
    /// The size at which the next pruning runs.
    prune_at: usize,
}

impl TagIndex {
    fn mark(&self, tag: &str) -> u64 {
        self.tags
            .get(tag)
            .and_then(|t| t.mark)
            .map_or(0, |(n, _)| n)
    }

    /// Bounds the index: what neither a render in flight nor a stored entry
    /// needs any more goes.
    fn prune(&mut self, entries: &Cache<String, Stored>) {
        if self.tags.len() <= self.prune_at.max(TAGS_BEFORE_PRUNING) {
            return;
        }
        let now = Instant::now();
        self.tags.retain(|_, tag| {
            tag.keys.retain(|key| entries.contains_key(key));
            if tag
                .mark
                .is_some_and(|(_, at)| now.duration_since(at) > MARK_KEPT)
            {
                tag.mark = None;
            }
            tag.mark.is_some() || !tag.keys.is_empty()
        });
        self.prune_at = self.tags.len() * 2;
    }
}

/// The `memory` backend.
pub struct MemoryStore {
    entries: Cache<String, Stored>,
    /// Tags and leases change together with entries under this lock, which is
    /// what makes tagged stores and purges atomic with respect to each other.
    tags: Mutex<TagIndex>,
    leases: Mutex<HashMap<String, (String, Instant)>>,
}

impl MemoryStore {
    pub fn new(max_bytes: u64) -> Self {
        let entries = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|key: &String, stored: &Stored| {
                u32::try_from(key.len() + stored.value.len()).unwrap_or(u32::MAX)
            })
            .expire_after(ByDeadline)
            .build();
        Self {
            entries,
            tags: Mutex::new(TagIndex::default()),
            leases: Mutex::new(HashMap::new()),
        }
    }

    fn insert(&self, key: &str, value: Bytes, ttl: Duration) {
        let stored = Stored {
            value,
            expires_at: Instant::now() + ttl,
        };
        self.entries.insert(key.to_owned(), stored);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep serving.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[rocket::async_trait]
impl Store for MemoryStore {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        Ok(self.entries.get(key).map(|stored| stored.value))
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), StoreError> {
        self.insert(key, value, ttl);
        Ok(())
    }

    async fn replace_if_starts_with(
        &self,
        key: &str,
        expected: &[u8],
        value: Bytes,
    ) -> Result<bool, StoreError> {
        // Under the tags' lock, as purges change entries.
        let _index = lock(&self.tags);
        let Some(stored) = self.entries.get(key) else {
            return Ok(false);
        };
        if expected.is_empty() || !stored.value.starts_with(expected) {
            return Ok(false);
        }
        self.entries.insert(
            key.to_owned(),
            Stored {
                value,
                expires_at: stored.expires_at,
            },
        );
        Ok(true)
    }

    async fn set_tagged(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
        stamp: &TagStamp,
    ) -> Result<bool, StoreError> {
        {
            let mut index = lock(&self.tags);
            if stamp.tags.iter().any(|tag| index.mark(tag) > stamp.since) {
                return Ok(false);
            }
            index.prune(&self.entries);
            for tag in &stamp.tags {
                index
                    .tags
                    .entry(tag.clone())
                    .or_default()
                    .keys
                    .insert(key.to_owned());
            }
            // Inserted under the lock so that a purge cannot slip between the check
            // and the insert.
            self.insert(key, value, ttl);
        }
        Ok(true)
    }

    async fn purge_sequence(&self) -> Result<u64, StoreError> {
        Ok(lock(&self.tags).sequence)
    }

    async fn purge_tags(
        &self,
        tags: &[String],
        stale: Option<&StalePatch>,
    ) -> Result<u64, StoreError> {
        let mut touched = 0;
        let mut index = lock(&self.tags);
        index.sequence += 1;
        let mark = Some((index.sequence, Instant::now()));
        for tag in tags {
            let entry = index.tags.entry(tag.clone()).or_default();
            entry.mark = mark;
            let keys: Vec<String> = if stale.is_some() {
                entry.keys.iter().cloned().collect()
            } else {
                entry.keys.drain().collect()
            };
            for key in keys {
                let Some(stored) = self.entries.get(&key) else {
                    continue;
                };
                touched += 1;
                // Only values the patch is for are kept; memo values go outright.
                if let Some(patch) = stale.filter(|p| p.applies_to(&stored.value)) {
                    let patched = Stored {
                        value: patch.apply(&stored.value),
                        expires_at: stored.expires_at,
                    };
                    self.entries.insert(key, patched);
                } else {
                    self.entries.invalidate(&key);
                }
            }
        }
        index.prune(&self.entries);
        Ok(touched)
    }

    async fn delete(&self, keys: &[String]) -> Result<u64, StoreError> {
        let mut removed = 0;
        for key in keys {
            if self.entries.remove(key).is_some() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    async fn clear_prefix(&self, prefix: &str) -> Result<u64, StoreError> {
        let doomed: Vec<String> = self
            .entries
            .iter()
            .filter(|(key, _)| key.starts_with(prefix))
            .map(|(key, _)| (*key).clone())
            .collect();
        self.delete(&doomed).await
    }

    async fn usage(&self, prefix: &str, limit: u64) -> Result<Usage, StoreError> {
        let mut usage = Usage {
            complete: true,
            ..Usage::default()
        };
        for (key, stored) in &self.entries {
            if !key.starts_with(prefix) {
                continue;
            }
            if usage.keys >= limit {
                usage.complete = false;
                break;
            }
            usage.keys += 1;
            usage.bytes += (key.len() + stored.value.len()) as u64;
        }
        Ok(usage)
    }

    async fn try_lease(&self, key: &str, token: &str, ttl: Duration) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut leases = lock(&self.leases);
        leases.retain(|_, (_, until)| *until > now);
        if leases.contains_key(key) {
            return Ok(false);
        }
        leases.insert(key.to_owned(), (token.to_owned(), now + ttl));
        Ok(true)
    }

    async fn release_lease(&self, key: &str, token: &str) -> Result<(), StoreError> {
        let mut leases = lock(&self.leases);
        if leases.get(key).is_some_and(|(holder, _)| holder == token) {
            leases.remove(key);
        }
        Ok(())
    }

    async fn hold_lease(&self, key: &str, token: &str, ttl: Duration) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut leases = lock(&self.leases);
        leases.retain(|_, (_, until)| *until > now);
        match leases.get_mut(key) {
            Some((holder, until)) if holder == token => *until = now + ttl,
            Some(_) => return Ok(false),
            None => {
                leases.insert(key.to_owned(), (token.to_owned(), now + ttl));
            }
        }
        Ok(true)
    }

    async fn lease_holder(&self, key: &str) -> Result<Option<String>, StoreError> {
        let now = Instant::now();
        Ok(lock(&self.leases)
            .get(key)
            .filter(|(_, until)| *until > now)
            .map(|(holder, _)| holder.clone()))
    }

    async fn set_as_holder(
        &self,
        lease_key: &str,
        token: &str,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let leases = lock(&self.leases);
        let now = Instant::now();
        let held = leases
            .get(lease_key)
            .is_some_and(|(holder, until)| holder == token && *until > now);
        if held {
            // Under the leases' lock, so the lease cannot change hands meanwhile.
            self.insert(key, Bytes::copy_from_slice(value.as_bytes()), ttl);
        }
        Ok(held)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch() -> StalePatch {
        StalePatch {
            prefix: b"E",
            offset: 1,
            width: 3,
            stamp: b"999".to_vec(),
        }
    }

    fn stamps(store: &MemoryStore, tag: &str) -> TagStamp {
        TagStamp {
            tags: vec![tag.to_owned()],
            since: lock(&store.tags).sequence,
        }
    }

    #[rocket::async_test]
    async fn a_soft_purge_patches_what_the_patch_is_for_and_removes_the_rest() {
        let store = MemoryStore::new(1 << 20);
        let ttl = Duration::from_mins(1);
        let tagged = stamps(&store, "t");
        for (key, value) in [("entry", "E000rest"), ("memo", "{\"v\":1}")] {
            let stored = store
                .set_tagged(key, Bytes::from(value), ttl, &tagged)
                .await
                .unwrap();
            assert!(stored);
        }

        let touched = store.purge_tags(&["t".to_owned()], Some(&patch())).await;

        assert_eq!(touched.unwrap(), 2);
        let entry = store.get("entry").await.unwrap();
        assert_eq!(entry.as_deref(), Some(&b"E999rest"[..]));
        assert_eq!(store.get("memo").await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_value_is_replaced_only_while_it_starts_as_expected() {
        let store = MemoryStore::new(1 << 20);
        let ttl = Duration::from_mins(1);
        store.set("k", Bytes::from("v1-body"), ttl).await.unwrap();
        let replace = |expected: &'static str| {
            store.replace_if_starts_with("k", expected.as_bytes(), Bytes::from("v1-body+br"))
        };
        assert!(!replace("v2").await.unwrap(), "another version");
        assert!(
            !replace("").await.unwrap(),
            "nothing expected matches nothing"
        );
        assert!(replace("v1").await.unwrap());
        let value = store.get("k").await.unwrap();
        assert_eq!(value.as_deref(), Some(&b"v1-body+br"[..]));
        let gone = store.replace_if_starts_with("gone", b"v1", Bytes::from("x"));
        assert!(!gone.await.unwrap(), "an absent key is not created");
        assert_eq!(store.get("gone").await.unwrap(), None);
    }
}
