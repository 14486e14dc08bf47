//! Where entries live, behind one trait: [`redis`] (shared by every instance),
//! [`memory`] (this process only) and [`none`].
//!
//! Stores deal in whole keys and opaque bytes; what the bytes mean is `entry`'s
//! business, and time budgets are applied by the caller.

pub mod memory;
pub mod none;
pub mod redis;

use std::time::Duration;

use bytes::Bytes;

/// A failed cache operation. Never shown to a user: the request goes on uncached.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("redis: {0}")]
    Redis(#[from] ::redis::RedisError),
    #[error("redis pool: {0}")]
    Pool(String),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("unexpected reply: {0}")]
    Protocol(String),
}

/// A tag of a stored entry, with the generation the tag had when the render began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagStamp {
    pub tag: String,
    pub generation: u64,
}

/// What a namespace holds, counted by a bounded scan.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Usage {
    pub keys: u64,
    pub bytes: u64,
    /// False when the scan stopped at its bound before the end.
    pub complete: bool,
}

/// One cache backend. Every method may be called concurrently from many requests.
#[rocket::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Short name for logs and health (`redis`, `memory`, `none`).
    fn name(&self) -> &'static str;

    /// The stored value, or `None` when absent or expired.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError>;

    /// Stores `value` for `ttl`, replacing any value.
    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), StoreError>;

    /// Stores `value` for `ttl` and files it under each tag, but only if no tag has
    /// been purged since the stamped generation; returns whether it was stored.
    /// This is what keeps a render that read old rows from landing after a purge.
    async fn set_tagged(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
        tags: &[TagStamp],
    ) -> Result<bool, StoreError>;

    /// Current generations of these tags (0 for a tag never purged).
    async fn tag_generations(&self, tags: &[String]) -> Result<Vec<u64>, StoreError>;

    /// Removes every entry filed under these tags and bumps their generations, in
    /// one atomic step; returns how many entries went. With `soft`, entries are
    /// kept but marked stale (served within grace while one request refreshes them).
    async fn purge_tags(&self, tags: &[String], soft: bool) -> Result<u64, StoreError>;

    /// Deletes these keys; returns how many existed.
    async fn delete(&self, keys: &[String]) -> Result<u64, StoreError>;

    /// Deletes every entry, memo and lease whose key starts with `prefix` (scan and
    /// unlink, never KEYS or FLUSHDB); returns how many went. Tag generations stay,
    /// so that no render in flight across the clear can outlive a purge.
    async fn clear_prefix(&self, prefix: &str) -> Result<u64, StoreError>;

    /// Counts keys and bytes under `prefix`, visiting at most `limit` keys.
    async fn usage(&self, prefix: &str, limit: u64) -> Result<Usage, StoreError>;

    /// Takes the lease `key` for `ttl` if nobody holds it; returns whether we got it.
    async fn try_lease(&self, key: &str, token: &str, ttl: Duration) -> Result<bool, StoreError>;

    /// Frees the lease if `token` still holds it (a lease that expired and was taken
    /// by another is left alone).
    async fn release_lease(&self, key: &str, token: &str) -> Result<(), StoreError>;

    /// Answers when the backend is reachable.
    async fn ping(&self) -> Result<(), StoreError>;
}
