//! Every call of the store, inside its time budget and a circuit breaker (see
//! `breaker`): a failure is counted, logged at a bounded rate and handed to the
//! caller as [`CacheUnavailable`], which it turns into "no cache", never into
//! an error page.

use std::time::Duration;

use bytes::Bytes;

use super::{Cache, CacheUnavailable};
use crate::breaker::Breaker;
use crate::coding_jobs::CodingJobs;
use crate::counters::Stats;
use crate::entry::Entry;
use crate::store::{StoreError, TagStamp};

impl Cache {
    /// Runs a store operation within the budget, feeding `breaker` and the log.
    pub(crate) async fn guarded<T>(
        &self,
        breaker: &Breaker,
        what: &'static str,
        op: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, CacheUnavailable> {
        let result = within(self.inner.config.op_timeout, op).await;
        match &result {
            Ok(_) => breaker.success(),
            Err(e) => {
                breaker.failure();
                Stats::bump(&self.inner.stats.errors);
                self.inner
                    .warnings
                    .warn(|| format!("{what} failed, serving without the cache: {e}"));
            }
        }
        result.map_err(CacheUnavailable::from)
    }

    /// The entry under `key`; an entry that does not decode counts as absent (it
    /// will be overwritten). `Err` means the store could not be asked.
    /// A fresh page found is also kept near, unless its key was invalidated
    /// while the lookup was in flight.
    pub(crate) async fn lookup(&self, key: &str) -> Result<Option<Entry>, CacheUnavailable> {
        let ticket = self.inner.near.as_ref().and_then(|near| near.ticket(key));
        let raw = self
            .guarded(
                self.inner.breakers.for_key(key),
                "lookup",
                self.inner.store.get(key),
            )
            .await?;
        let entry = raw.and_then(|raw| match Entry::decode(raw) {
            Ok(entry) => Some(entry),
            Err(e) => {
                self.inner
                    .warnings
                    .warn(|| format!("entry {key} unreadable ({e}); treated as a miss"));
                None
            }
        });
        if let (Some(near), Some(ticket), Some(entry)) = (&self.inner.near, ticket, &entry) {
            near.keep(ticket, key, entry, self.now_ms());
        }
        Ok(entry)
    }

    /// The first `max_len` bytes of the value under `key` (all of it when
    /// shorter), for a revalidation that needs only an entry's head. `Err` means
    /// the store could not be asked.
    pub(crate) async fn lookup_prefix(
        &self,
        key: &str,
        max_len: usize,
    ) -> Result<Option<Bytes>, CacheUnavailable> {
        self.guarded(
            self.inner.breakers.for_key(key),
            "lookup",
            self.inner.store.get_head(key, max_len),
        )
        .await
    }

    pub(crate) async fn try_lease(
        &self,
        key: &str,
        token: &str,
        ttl: Duration,
    ) -> Result<bool, CacheUnavailable> {
        self.guarded(
            self.inner.breakers.for_key(key),
            "lease",
            self.inner.store.try_lease(key, token, ttl),
        )
        .await
    }

    pub(crate) async fn release_lease(&self, key: &str, token: &str) {
        let _ = self
            .guarded(
                self.inner.breakers.for_key(key),
                "lease release",
                self.inner.store.release_lease(key, token),
            )
            .await;
    }

    /// The render's stamp: its tags so far, and the purge sequence read before
    /// it begins, so that a purge during the render keeps its result out of the
    /// store (see [`TagStamp`]).
    pub(crate) async fn stamp_tags(&self, tags: Vec<String>) -> Result<TagStamp, CacheUnavailable> {
        // On a cluster the page's own key may be on a master that answers while
        // the tags' are not: skip the store's many-key work when it is tripped.
        if !self.inner.breakers.whole().allows() {
            return Err(CacheUnavailable::Skipped);
        }
        let since = self
            .guarded(
                self.inner.breakers.whole(),
                "purge sequence read",
                self.inner.store.purge_sequence(),
            )
            .await?;
        Ok(TagStamp { tags, since })
    }

    /// Stores an entry for its retention time, filed under `stamp`'s tags when
    /// there is one; `Ok(false)` when a tag was purged after the stamp was taken.
    pub(crate) async fn store_entry(
        &self,
        key: &str,
        entry: &Entry,
        stamp: Option<&TagStamp>,
    ) -> Result<bool, CacheUnavailable> {
        let retention = Duration::from_millis(entry.retention_ms(self.now_ms()));
        self.put("store", key, entry.encode(), retention, stamp)
            .await
    }

    pub(crate) fn coding_jobs(&self) -> &CodingJobs {
        &self.inner.coding_jobs
    }

    /// Writes `grown` in place of `current` (the same version with more codings),
    /// only while the store still holds `current`; the near copy of this
    /// instance goes, so the next hit keeps the grown one.
    pub(crate) async fn replace_entry(
        &self,
        key: &str,
        current: &Entry,
        grown: &Entry,
    ) -> Result<bool, CacheUnavailable> {
        let replaced = self
            .guarded(
                self.inner.breakers.for_key(key),
                "coding add",
                self.inner.store.replace_if_starts_with(
                    key,
                    &current.version_prefix(),
                    grown.encode(),
                ),
            )
            .await?;
        if let (true, Some(near)) = (replaced, &self.inner.near) {
            near.invalidate(key);
        }
        Ok(replaced)
    }

    /// Stores `value` for `ttl`, filed under the stamp's tags when it has any (and
    /// then only if none of those tags was purged since: `Ok(false)`).
    pub(super) async fn put(
        &self,
        what: &'static str,
        key: &str,
        value: Bytes,
        ttl: Duration,
        stamp: Option<&TagStamp>,
    ) -> Result<bool, CacheUnavailable> {
        let store = &self.inner.store;
        match stamp {
            Some(stamp) if !stamp.tags.is_empty() => {
                self.guarded(
                    self.inner.breakers.whole(),
                    what,
                    store.set_tagged(key, value, ttl, stamp),
                )
                .await
            }
            _ => self
                .guarded(
                    self.inner.breakers.for_key(key),
                    what,
                    store.set(key, value, ttl),
                )
                .await
                .map(|()| true),
        }
    }

    /// The memo stored under `key`, if any and readable.
    pub(super) async fn memo_lookup(&self, full_key: &str) -> Option<Bytes> {
        self.guarded(
            self.inner.breakers.for_key(full_key),
            "memo lookup",
            self.inner.store.get(full_key),
        )
        .await
        .ok()
        .flatten()
    }
}

/// Runs a store operation, failing it with `Timeout` past `budget`.
pub(crate) async fn within<T>(
    budget: Duration,
    op: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(budget, op)
        .await
        .unwrap_or(Err(StoreError::Timeout(budget)))
}
