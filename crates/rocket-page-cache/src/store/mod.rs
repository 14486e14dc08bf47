//! Where entries live, behind one trait: [`redis`] (one server shared by every
//! instance, or the master [`sentinel`]s name), [`cluster`] (a Redis Cluster
//! shared by every instance), [`memory`] (this process only) and [`none`]. The
//! two Redis backends send their single-key commands through [`commands`].
//!
//! Stores deal in whole keys and opaque bytes; what the bytes mean is `entry`'s
//! business, and time budgets are applied by the caller.

mod build;
pub mod cluster;
mod commands;
pub mod memory;
pub mod none;
pub mod redis;
pub mod sentinel;

use std::time::Duration;

use bytes::Bytes;

pub use build::build;

/// A failed cache operation. Never shown to a user: the request goes on uncached.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Redis answered with an error or the connection broke.
    #[error("redis: {0}")]
    Redis(#[from] ::redis::RedisError),
    /// No connection could be had from the pool.
    #[error("redis pool: {0}")]
    Pool(String),
    /// No answer within the operation's budget.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The sentinels named no master that answers (`cache.sentinel`).
    #[error("no master: {0}")]
    NoMaster(String),
    /// An answer of the wrong shape.
    #[error("unexpected reply: {0}")]
    Protocol(String),
}

/// How a soft purge marks a value stale in place, without the store knowing
/// what the bytes mean (`entry` builds it): a value that starts with `prefix`
/// gets the `width` bytes at `offset` overwritten with the current time in Unix
/// milliseconds, as zero-padded decimal digits; any other value is removed.
///
/// `stamp` is that time already written out, for stores that patch in this
/// process; a store that patches elsewhere (Redis, in a script) writes its own
/// clock's time with the same width, so that every instance agrees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StalePatch {
    pub prefix: &'static [u8],
    pub offset: usize,
    pub width: usize,
    pub stamp: Vec<u8>,
}

impl StalePatch {
    /// Whether `value` is one this patch rewrites (the others are removed).
    pub fn applies_to(&self, value: &[u8]) -> bool {
        value.starts_with(self.prefix)
    }

    /// `value` with `stamp` written at `offset`; a value too short to hold it is
    /// returned as it is.
    pub fn apply(&self, value: &Bytes) -> Bytes {
        let end = self.offset + self.width;
        if value.len() < end || self.stamp.len() != self.width {
            return value.clone();
        }
        let mut patched = value.to_vec();
        patched[self.offset..end].copy_from_slice(&self.stamp);
        Bytes::from(patched)
    }
}

/// What a render is filed under: its tags, and the store's purge sequence as it
/// was read before the render began. Every purge takes the next number of the
/// sequence and marks each tag it purges with it; a tag marked above `since` was
/// purged after the render began, so the render may hold data older than the
/// purge and must not be stored. One number read before the render covers tags
/// that are only known once it ends (the rows it read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagStamp {
    pub tags: Vec<String>,
    pub since: u64,
}

/// What a namespace holds, counted by a bounded scan.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Usage {
    /// Keys seen.
    pub keys: u64,
    /// Their memory, as the store reports it.
    pub bytes: u64,
    /// False when the scan stopped at its bound before the end.
    pub complete: bool,
}

/// How one Redis server bounds its memory, as its `INFO memory` says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MemoryLimit {
    /// `host:port` of the server (a master, on a cluster).
    pub node: String,
    /// `maxmemory` in bytes; 0 means no limit.
    pub max_bytes: u64,
    /// `maxmemory-policy`: what the server does when full (`allkeys-lru`,
    /// `noeviction`, ...).
    pub policy: String,
}

/// One cache backend. Every method may be called concurrently from many requests.
#[rocket::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Short name for logs and health (`redis`, `redis-cluster`, `memory`, `none`).
    fn name(&self) -> &'static str;

    /// The stored value, or `None` when absent or expired.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError>;

    /// The first `max_len` bytes of the stored value (all of it when shorter), or
    /// `None` when absent or expired: what a revalidation reads instead of the
    /// whole value. Stores that hold values in this process slice them; a remote
    /// store should send only the prefix.
    async fn get_head(&self, key: &str, max_len: usize) -> Result<Option<Bytes>, StoreError> {
        Ok(self
            .get(key)
            .await?
            .map(|value| value.slice(..value.len().min(max_len))))
    }

    /// Stores `value` for `ttl`, replacing any value.
    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), StoreError>;

    /// Replaces the value under `key` by `value`, keeping its lifetime and its
    /// filing, only while the stored value still starts with `expected`; returns
    /// whether it did. What adds a coding to a stored page uses it: the page's
    /// version is in its first bytes, so a newer render, a purge or a soft
    /// purge's stamp in the meantime leaves the store as it is.
    async fn replace_if_starts_with(
        &self,
        key: &str,
        expected: &[u8],
        value: Bytes,
    ) -> Result<bool, StoreError>;

    /// Stores `value` for `ttl` and files it under each of the stamp's tags, but
    /// only if no tag has been purged since `stamp.since`; returns whether it was
    /// stored. This is what keeps a render that read old rows from landing after
    /// a purge (see `cluster` for how a store whose keys live apart keeps the
    /// promise).
    async fn set_tagged(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
        stamp: &TagStamp,
    ) -> Result<bool, StoreError>;

    /// The purge sequence now: the number of the latest purge (0 before any).
    async fn purge_sequence(&self) -> Result<u64, StoreError>;

    /// Removes every entry filed under these tags and marks each tag with the
    /// next number of the purge sequence; returns how many entries went. One
    /// atomic step on one server; on a cluster, mark first and remove after,
    /// which together with
    /// [`Self::set_tagged`]'s order keeps renders from before the purge out. With a `stale` patch (a
    /// soft purge), values it applies to are kept but patched (marked stale, so
    /// served within grace while one request refreshes them) and the rest removed.
    async fn purge_tags(
        &self,
        tags: &[String],
        stale: Option<&StalePatch>,
    ) -> Result<u64, StoreError>;

    /// Deletes these keys; returns how many existed.
    async fn delete(&self, keys: &[String]) -> Result<u64, StoreError>;

    /// Deletes every entry, memo and render lease whose key starts with `prefix`
    /// (scan and unlink, never KEYS or FLUSHDB); returns how many went. Purge
    /// marks and the purge sequence stay, so that no render in flight across the
    /// clear can outlive a purge; so do singletons (`app:`), which are not pages.
    async fn clear_prefix(&self, prefix: &str) -> Result<u64, StoreError>;

    /// Counts keys and bytes under `prefix`, visiting at most `limit` keys.
    async fn usage(&self, prefix: &str, limit: u64) -> Result<Usage, StoreError>;

    /// Takes the lease `key` for `ttl` if nobody holds it; returns whether we got it.
    async fn try_lease(&self, key: &str, token: &str, ttl: Duration) -> Result<bool, StoreError>;

    /// Frees the lease if `token` still holds it (a lease that expired and was taken
    /// by another is left alone).
    async fn release_lease(&self, key: &str, token: &str) -> Result<(), StoreError>;

    /// Takes the lease `key` for `ttl` if nobody holds it, or extends it if
    /// `token` does; returns whether `token` holds it now.
    async fn hold_lease(&self, key: &str, token: &str, ttl: Duration) -> Result<bool, StoreError>;

    /// The token that holds the lease `key`, if anyone does.
    async fn lease_holder(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// Stores `value` under `key` for `ttl`, but only while `token` holds the
    /// lease `lease_key` (the two keys must share a cluster slot); returns
    /// whether it was stored. A holder that lost its lease cannot overwrite what
    /// the next holder wrote.
    async fn set_as_holder(
        &self,
        lease_key: &str,
        token: &str,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError>;

    /// Answers when the backend is reachable.
    async fn ping(&self) -> Result<(), StoreError>;

    /// How each server behind the store bounds its memory (every master of a
    /// cluster); empty for a store in this process, which has its own bound.
    async fn memory_limits(&self) -> Result<Vec<MemoryLimit>, StoreError> {
        Ok(Vec::new())
    }

    /// Members of tag sets whose entry is gone (expired or evicted), at most
    /// `limit` of them: the index sweep removes those it finds gone twice, a
    /// sweep apart (see `index_sweep`). Empty for a store that prunes its own.
    async fn dead_index_members(&self, limit: usize) -> Result<Vec<IndexMember>, StoreError> {
        let _ = limit;
        Ok(Vec::new())
    }

    /// Removes each of `members` from its set if its entry is still gone;
    /// returns how many went.
    async fn remove_index_members(&self, members: &[IndexMember]) -> Result<u64, StoreError> {
        let _ = members;
        Ok(0)
    }

    /// Deletes the purge marks older than a render may be (`MARK_LIFETIME_MS`
    /// in `commands`): they can no longer refuse anything. Returns how many went.
    async fn drop_old_marks(&self) -> Result<u64, StoreError> {
        Ok(0)
    }

    /// Adds `deltas` to the counter hash `counts` (which then lives `ttl`), and
    /// scores `member` with `now` in the sorted set `alive`, dropping members
    /// scored below `forget_below` (the set then lives `ttl_alive`): all of it or
    /// nothing. The keys must share a cluster slot. A store in this process has
    /// no fleet to count: it says so.
    async fn add_counts(&self, batch: &CountBatch<'_>) -> Result<(), StoreError> {
        let _ = batch;
        Err(not_shared(self.name()))
    }

    /// The counter hashes `counts` (empty for those that do not exist) and how
    /// many members of `alive` are scored `alive_since` or later. The keys must
    /// share a cluster slot.
    async fn read_counts(
        &self,
        counts: &[String],
        alive: &str,
        alive_since: u64,
    ) -> Result<(Vec<Vec<(String, u64)>>, u64), StoreError> {
        let _ = (counts, alive, alive_since);
        Err(not_shared(self.name()))
    }

    /// Adds `weight` to `member` of the bounded top list `key` (a sorted set of
    /// at most `bound` members that then lives `ttl`). A new member of a full
    /// list takes the place of the lowest one and starts from its score plus
    /// `weight` (the Space-Saving rule: a member that is truly frequent cannot be
    /// kept out, whatever came before it). One key: valid on a cluster.
    async fn count_hot(
        &self,
        key: &str,
        member: &str,
        weight: u64,
        bound: u64,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let _ = (key, member, weight, bound, ttl);
        Err(not_shared(self.name()))
    }

    /// The `n` members of the top list `key` with the highest scores, highest
    /// first (empty when there is no list).
    async fn hottest(&self, key: &str, n: u64) -> Result<Vec<String>, StoreError> {
        let _ = (key, n);
        Err(not_shared(self.name()))
    }

    /// Counts one event for each member, in its tally (see [`TallyMember`]),
    /// atomically; returns each member's count since it was last quiet for
    /// `forget`. A tally keeps at most `bound` members (the least recently
    /// counted go first) and its keys live `forget` past the last event. The
    /// keys of all `members` must share a cluster slot.
    async fn tally_add(
        &self,
        members: &[TallyMember<'_>],
        bound: u64,
        forget: Duration,
    ) -> Result<Vec<u64>, StoreError> {
        let _ = (members, bound, forget);
        Err(not_shared(self.name()))
    }

    /// Each member's count and how long ago its last event was, by the store's
    /// clock; a member never counted, or quiet for `forget`, reads as
    /// [`Tallied::default`]. Same slot rule as [`Self::tally_add`].
    async fn tally_read(
        &self,
        members: &[TallyMember<'_>],
        forget: Duration,
    ) -> Result<Vec<Tallied>, StoreError> {
        let _ = (members, forget);
        Err(not_shared(self.name()))
    }

    /// Forgets these members' counts. Same slot rule as [`Self::tally_add`].
    async fn tally_forget(&self, members: &[TallyMember<'_>]) -> Result<(), StoreError> {
        let _ = members;
        Err(not_shared(self.name()))
    }
}

/// What a store in this process answers to what only a shared store can do.
fn not_shared(name: &str) -> StoreError {
    StoreError::Protocol(format!("the {name} backend is not shared by the instances"))
}

/// One member of a tally: `counts` (a hash of counts by member) and `last` (a
/// sorted set of members by the time of their last event) are the tally's two
/// keys.
#[derive(Debug, Clone, Copy)]
pub struct TallyMember<'a> {
    pub counts: &'a str,
    pub last: &'a str,
    pub member: &'a str,
}

/// A member's count in a tally, and how long ago its last event was.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tallied {
    pub count: u64,
    pub since_last: Duration,
}

/// A member of a tag set: the set's key and the entry key filed in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IndexMember {
    pub set: String,
    pub key: String,
}

/// One instance's news for [`Store::add_counts`].
#[derive(Debug, Clone)]
pub struct CountBatch<'a> {
    pub counts: &'a str,
    pub ttl: Duration,
    pub deltas: &'a [(&'a str, u64)],
    pub alive: &'a str,
    pub member: &'a str,
    pub now: u64,
    pub forget_below: u64,
    pub ttl_alive: Duration,
}
