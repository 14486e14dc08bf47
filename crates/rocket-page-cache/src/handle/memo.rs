//! Values other than pages kept in the store: memos of a computation
//! (`get_or_compute*`), filed under tags or under what the computation read.

use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;

use super::Cache;
use crate::key::bounded_tag;
use crate::near::NearRead;
use crate::reads::{ReadSet, Reads};

/// How a recorded value may be stored: for how long, up to what size (its
/// encoding), and whether at all (a switched-off feature computes each time).
pub(crate) struct RecordedStore {
    pub ttl: Duration,
    pub max_bytes: Option<usize>,
    pub use_store: bool,
}

/// A recorded value as the store holds it: the value and what computing it read.
#[derive(Clone, Serialize, serde::Deserialize)]
pub(crate) struct Recorded<T> {
    pub value: T,
    pub reads: ReadSet,
}

impl Cache {
    /// The value under `key` if cached, else `compute`'s result, cached for `ttl`
    /// under `tags` (Flask-Caching's `@cache.cached(key_prefix=...)` on a function).
    ///
    /// `compute` is only polled on a miss. Errors of `compute` are returned and not
    /// cached; cache failures fall back to `compute`. Concurrent callers on a miss
    /// each compute (values are cheap ones; pages have single flight).
    pub async fn get_or_compute<T, E>(
        &self,
        key: &str,
        ttl: Duration,
        tags: &[&str],
        compute: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, E>
    where
        T: Serialize + serde::de::DeserializeOwned,
    {
        let full_key = self.memo_key(key);
        self.memo_at(&full_key, ttl, tags, compute, |_, _| {}).await
    }

    /// Like [`get_or_compute`](Self::get_or_compute), and a value found in the
    /// store is also kept, decoded, in this instance's near cache (when it has
    /// one) under the pages' rules: Redis's invalidation of its key drops it on
    /// every instance, a purge made here drops it at once, and it lives at most
    /// `ttl` and `near_max_ttl_ms`. For small values read by most requests,
    /// which then cost neither a round trip nor a decode.
    pub async fn get_or_compute_near<T, E>(
        &self,
        key: &str,
        ttl: Duration,
        tags: &[&str],
        compute: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, E>
    where
        T: Serialize + serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
    {
        let full_key = self.memo_key(key);
        let keeper = match self.near_read::<T>(&full_key, ttl, true) {
            NearRead::Kept(kept) => return Ok(T::clone(&kept)),
            NearRead::Fetch(keeper) => keeper,
        };
        let keep_near = |found: &T, encoded_bytes: usize| {
            if let Some(keeper) = keeper {
                keeper.keep(found.clone(), encoded_bytes);
            }
        };
        self.memo_at(&full_key, ttl, tags, compute, keep_near).await
    }

    fn memo_key(&self, key: &str) -> String {
        format!("{}memo:{key}", self.inner.key_base)
    }

    /// The memo under `full_key`, handed to `found` with the size of its
    /// encoding when it came from the store, or `compute`'s, stored under `tags`.
    async fn memo_at<T, E>(
        &self,
        full_key: &str,
        ttl: Duration,
        tags: &[&str],
        compute: impl std::future::Future<Output = Result<T, E>>,
        found: impl FnOnce(&T, usize),
    ) -> Result<T, E>
    where
        T: Serialize + serde::de::DeserializeOwned,
    {
        if !self.enabled() || !self.store_allowed_for(full_key) {
            return compute.await;
        }
        if let Some(raw) = self.memo_lookup(full_key).await {
            if let Ok(value) = serde_json::from_slice(&raw) {
                found(&value, raw.len());
                return Ok(value);
            }
        }
        let tags = tags.iter().map(|&t| bounded_tag(t.to_owned())).collect();
        let stamp = self.stamp_tags(tags).await.ok();
        let value = compute.await?;
        if let (Some(stamp), Ok(raw)) = (stamp, serde_json::to_vec(&value)) {
            let _ = self
                .put("memo store", full_key, Bytes::from(raw), ttl, Some(&stamp))
                .await;
        }
        Ok(value)
    }

    /// Like [`get_or_compute`](Self::get_or_compute), with the tags taken from
    /// what `compute` read: it gets a [`Reads`] of its own to record into, the
    /// value is filed under those reads, and they are added to `reads` (the
    /// page's), on a miss as on a hit, so a page that shows the value is purged
    /// with it.
    ///
    /// A computation whose reads cannot be bounded is returned and not cached.
    pub async fn get_or_compute_recorded<T, E, F, Fut>(
        &self,
        key: &str,
        ttl: Duration,
        reads: &Reads,
        compute: F,
    ) -> Result<T, E>
    where
        T: Serialize + serde::de::DeserializeOwned,
        F: FnOnce(Reads) -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        let full_key = self.memo_key(key);
        let storable = RecordedStore {
            ttl,
            max_bytes: None,
            use_store: true,
        };
        self.recorded_at(&full_key, storable, reads, compute, |_, _| {})
            .await
            .0
    }

    /// The value recorded under `full_key` with the reads that made it, or
    /// `compute`'s, stored under its reads as `storable` allows (and only if
    /// none of them was purged since `compute` began); the reads go into
    /// `reads` either way. Also says whether the value came from the store,
    /// and hands a value found there to `found` with the size of its encoding.
    pub(crate) async fn recorded_at<T, E, F, Fut>(
        &self,
        full_key: &str,
        storable: RecordedStore,
        reads: &Reads,
        compute: F,
        found: impl FnOnce(&Recorded<T>, usize),
    ) -> (Result<T, E>, bool)
    where
        T: Serialize + serde::de::DeserializeOwned,
        F: FnOnce(Reads) -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        let own = Reads::new(self.inner.config.max_tags_per_entry);
        if !storable.use_store || !self.enabled() || !self.store_allowed_for(full_key) {
            let value = compute(own.clone()).await;
            reads.merge(&own.snapshot());
            return (value, false);
        }
        if let Some(raw) = self.memo_lookup(full_key).await {
            if let Ok(recorded) = serde_json::from_slice::<Recorded<T>>(&raw) {
                reads.merge(&recorded.reads);
                found(&recorded, raw.len());
                return (Ok(recorded.value), true);
            }
        }
        let stamp = self.stamp_tags(Vec::new()).await.ok();
        let value = compute(own.clone()).await;
        let read = own.snapshot();
        reads.merge(&read);
        let value = match value {
            Ok(value) => value,
            Err(e) => return (Err(e), false),
        };
        let tags = read
            .tags()
            .map(|tags| tags.into_iter().map(bounded_tag).collect());
        if let (Some(mut stamp), Some(tags)) = (stamp, tags) {
            stamp.tags = tags;
            let recorded = Recorded { value, reads: read };
            let raw = serde_json::to_vec(&recorded)
                .ok()
                .filter(|raw| storable.max_bytes.is_none_or(|max| raw.len() <= max));
            if let Some(raw) = raw {
                let _ = self
                    .put(
                        "memo store",
                        full_key,
                        Bytes::from(raw),
                        storable.ttl,
                        Some(&stamp),
                    )
                    .await;
            }
            return (Ok(recorded.value), false);
        }
        (Ok(value), false)
    }
}
