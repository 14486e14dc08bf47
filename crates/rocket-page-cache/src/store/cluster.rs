//! The shared backend on a Redis Cluster: entries spread over every master, one
//! cluster connection (the `redis` crate's async cluster client, which follows
//! slots as they move and finds the promoted replica after a failover).
//!
//! What makes it cluster-valid:
//! - Page, memo and lease keys are whole keys without a hash tag: each hashes
//!   on its own, so the pages of a site spread over every slot. Every command
//!   on them names one key (GET, SET, SET NX, the one-key lease release script).
//! - A tag's purge mark and its set of keys share the hash tag
//!   `{<digest of the tag>}`, so the scripts that read one and write the other
//!   run in one slot, atomically. The digest, not the tag, is the hash tag: a tag
//!   may hold braces of its own, and the digest is hex.
//! - Tagged stores and purges span slots (an entry and its tags live apart), so
//!   they are no longer one script; they stay race-free by ordering:
//!   - a store files the key into each tag's set, in one script per tag that
//!     refuses when the tag was purged after the render began (its mark is above
//!     the render's `since`); then it SETs the entry; then it reads the marks
//!     again and unlinks the entry it wrote if any is above `since`.
//!   - a purge takes its number from the purge sequence (one key, on its own
//!     master), then, in one script per tag, marks the tag with it and takes the
//!     set's members (emptying the set when hard); then it unlinks (hard) or
//!     patches (soft, a one-key script per member) each member.
//!
//!   A purge's script runs either before a store files itself (the filing is
//!   refused), or after: then the purge holds the key, and either the entry is
//!   already set (the purge removes it) or it is set later (the store's second
//!   read sees the new mark and removes it). For the length of one
//!   round trip an old page may be readable after a purge returned, while the
//!   store that wrote it has yet to take it back; on one server the script
//!   leaves no such moment.
//! - Namespace clear and usage walk every master with SCAN, each node's cursor
//!   on its own (never KEYS or FLUSHALL).
//!
//! Nothing is dialled when the store is built: the cluster connection is made by
//! the first command and made again after a failure, so a cluster that is down at
//! start only means pages are served uncached until it is up.

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::try_join_all;
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{Script, Value};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use super::commands::{self, prefix_pattern};
use super::{
    CountBatch, IndexMember, MemoryLimit, StalePatch, Store, StoreError, TagStamp, Tallied,
    TallyMember, Usage,
};
use crate::build_error::BuildError;

/// Files a key into a tag's set, unless the tag was purged after the render
/// began (its mark is above the render's `since`) or the render began too long
/// ago for the marks to tell. The set has no lifetime (see the `redis`
/// backend's `set_tagged_script` for why); the index sweep prunes it.
/// KEYS: mark, set (one slot). ARGV: since, entry key.
fn file_under_tag_script() -> Script {
    Script::new(&format!(
        "local since = tonumber(ARGV[1])\n{}{}",
        commands::render_too_old_lua(),
        FILE_UNDER_TAG_BODY
    ))
}

const FILE_UNDER_TAG_BODY: &str = r"
if tonumber(redis.call('GET', KEYS[1]) or '0') > since then return 0 end
redis.call('SADD', KEYS[2], ARGV[2])
if redis.call('PTTL', KEYS[2]) >= 0 then redis.call('PERSIST', KEYS[2]) end
return 1
";

/// Takes the next purge number, on the sequence's own master. KEYS: the sequence.
fn next_purge_number_script() -> Script {
    Script::new(&format!(
        "local sequence = KEYS[1]\n{}return n\n",
        commands::NEXT_PURGE_NUMBER_LUA
    ))
}

/// Marks a tag with a purge's number (never lowering a later purge's mark; the
/// mark has no lifetime and is written through `pcall`, see `WRITE_MARK_LUA`)
/// and hands back its members; a hard purge empties the set (its members are
/// about to go), a soft one keeps it so that a later hard purge still finds the
/// pages it marked stale.
/// KEYS: mark, set (one slot). ARGV: soft flag, purge number.
fn purge_tag_script() -> Script {
    Script::new(&format!("{}{}", commands::WRITE_MARK_LUA, PURGE_TAG_BODY))
}

const PURGE_TAG_BODY: &str = r"
write_mark(KEYS[1], ARGV[2])
local members = redis.call('SMEMBERS', KEYS[2])
if ARGV[1] ~= '1' then redis.call('DEL', KEYS[2]) end
return members
";

/// Marks one value stale in place (see `StalePatch`): a value starting with the
/// patch's prefix gets this node's time in ms, zero-padded to the patch's width,
/// at its offset; any other value is unlinked (the patch is not for it), and so
/// is one Redis refuses to patch (out of memory).
/// KEYS: the value. ARGV: offset, width, prefix.
const PATCH_STALE: &str = r"
local magic = ARGV[3]
if redis.call('GETRANGE', KEYS[1], 0, #magic - 1) == magic then
  local clock = redis.call('TIME')
  local now_ms = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
  local stamp = string.format('%0' .. ARGV[2] .. 'd', now_ms)
  if type(redis.pcall('SETRANGE', KEYS[1], tonumber(ARGV[1]), stamp)) == 'number' then
    return 1
  end
end
return redis.call('UNLINK', KEYS[1])
";

/// The longest a store may take from filing its key to setting it before it
/// takes the entry back: the index sweep relies on it (see
/// `remove_index_members`), and sweeps are further apart than this.
pub const FILING_SPAN_LIMIT: Duration = Duration::from_secs(5);

/// Soft-purge patches in flight at once: each is a round trip to the member's
/// master, and a tag may hold many pages.
const PATCH_CONCURRENCY: usize = 32;

/// The `redis` backend on a Redis Cluster (`cache.cluster_nodes`).
pub struct ClusterStore {
    client: ClusterClient,
    /// The connection, once one has been made; `None` again after it could not be.
    conn: Mutex<Option<ClusterConnection>>,
    tag_prefix: String,
    file_under_tag: Script,
    next_purge_number: Script,
    purge_sequence: Script,
    purge_tag: Script,
    patch_stale: Script,
    release_lease: Script,
    replace: Script,
    holder_scripts: commands::HolderScripts,
    count_scripts: commands::CountScripts,
    tally_scripts: commands::TallyScripts,
    sweep_scripts: commands::SweepScripts,
}

impl ClusterStore {
    /// Checks the seed nodes' URLs; dials nothing. `tag_prefix` starts the names
    /// of tag sets and purge marks, as for one server.
    /// A seed URL the Redis client cannot use is a [`BuildError`] naming
    /// `cache.cluster_nodes`.
    pub fn new(
        nodes: &[String],
        op_timeout: Duration,
        tag_prefix: String,
    ) -> Result<Self, BuildError> {
        let client = ClusterClient::builder(nodes.iter().map(String::as_str))
            .connection_timeout(op_timeout.max(Duration::from_millis(200)))
            .response_timeout(op_timeout)
            // Requests are cut at the operation's budget by the caller; retries
            // within it follow MOVED answers and failovers.
            .retries(2)
            .min_retry_wait(10)
            .max_retry_wait(200)
            .build()
            .map_err(BuildError::redis("cache.cluster_nodes"))?;
        Ok(Self {
            client,
            conn: Mutex::new(None),
            tag_prefix,
            file_under_tag: file_under_tag_script(),
            next_purge_number: next_purge_number_script(),
            purge_sequence: commands::purge_sequence_script(),
            purge_tag: purge_tag_script(),
            patch_stale: Script::new(PATCH_STALE),
            release_lease: commands::release_lease_script(),
            replace: commands::replace_script(),
            holder_scripts: commands::HolderScripts::default(),
            count_scripts: commands::CountScripts::default(),
            tally_scripts: commands::TallyScripts::default(),
            sweep_scripts: commands::SweepScripts::default(),
        })
    }

    /// The cluster connection (a cheap clone of the shared, multiplexed one),
    /// made now if there is none. Callers bound this with their budget; a dial
    /// cut short leaves no connection behind and the next call dials again.
    async fn conn(&self) -> Result<ClusterConnection, StoreError> {
        let mut slot = self.conn.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let conn = self.client.get_async_connection().await?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    /// `{prefix}tgen:{<digest>}:<tag>`: the tag's counter. It shares its hash
    /// tag with [`Self::set_key`].
    fn mark_key(&self, tag: &str) -> String {
        format!("{}tgen:{{{}}}:{tag}", self.tag_prefix, tag_digest(tag))
    }

    /// `{prefix}tag:{<digest>}:<tag>`: the keys filed under the tag.
    fn set_key(&self, tag: &str) -> String {
        format!("{}tag:{{{}}}:{tag}", self.tag_prefix, tag_digest(tag))
    }

    /// Every master's address, from `CLUSTER SLOTS` (each range's first node).
    async fn masters(
        &self,
        conn: &mut ClusterConnection,
    ) -> Result<Vec<(String, u16)>, StoreError> {
        let reply = conn
            .route_command(
                redis::cmd("CLUSTER").arg("SLOTS").clone(),
                RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
            )
            .await?;
        masters_of(&reply)
    }

    /// One SCAN step on one master.
    async fn scan_step(
        conn: &mut ClusterConnection,
        (host, port): &(String, u16),
        cursor: u64,
        pattern: &str,
    ) -> Result<(u64, Vec<String>), StoreError> {
        let reply = conn
            .route_command(
                commands::scan_command(cursor, pattern),
                RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                    host: host.clone(),
                    port: *port,
                }),
            )
            .await?;
        Ok(redis::from_redis_value(reply).map_err(redis::RedisError::from)?)
    }

    /// Every key starting with `prefix`, on every master (SCAN walks).
    async fn keys_under(
        &self,
        conn: &mut ClusterConnection,
        prefix: &str,
    ) -> Result<Vec<String>, StoreError> {
        let pattern = prefix_pattern(prefix);
        let mut found = Vec::new();
        for master in self.masters(conn).await? {
            let mut cursor = 0;
            loop {
                let (next, keys) = Self::scan_step(conn, &master, cursor, &pattern).await?;
                found.extend(keys);
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(found)
    }

    /// Applies the stale patch to each of `keys`, a bounded number at once;
    /// returns how many were patched or removed.
    async fn patch_members(
        &self,
        conn: &ClusterConnection,
        keys: Vec<String>,
        patch: &StalePatch,
    ) -> Result<u64, StoreError> {
        let mut touched = 0;
        for chunk in keys.chunks(PATCH_CONCURRENCY) {
            let mut running = tokio::task::JoinSet::new();
            for key in chunk {
                let (mut conn, script, key) = (conn.clone(), self.patch_stale.clone(), key.clone());
                let (offset, width, prefix) = (patch.offset, patch.width, patch.prefix);
                running.spawn(async move {
                    script
                        .key(key)
                        .arg(offset)
                        .arg(width)
                        .arg(prefix)
                        .invoke_async::<u64>(&mut conn)
                        .await
                });
            }
            while let Some(done) = running.join_next().await {
                touched += done.map_err(|e| StoreError::Protocol(e.to_string()))??;
            }
        }
        Ok(touched)
    }
}

#[rocket::async_trait]
impl Store for ClusterStore {
    fn name(&self) -> &'static str {
        "redis-cluster"
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        commands::get(&mut self.conn().await?, key).await
    }

    async fn get_head(&self, key: &str, max_len: usize) -> Result<Option<Bytes>, StoreError> {
        commands::get_head(&mut self.conn().await?, key, max_len).await
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), StoreError> {
        commands::set(&mut self.conn().await?, key, &value, ttl).await
    }

    async fn replace_if_starts_with(
        &self,
        key: &str,
        expected: &[u8],
        value: Bytes,
    ) -> Result<bool, StoreError> {
        commands::replace_if_starts_with(
            &mut self.conn().await?,
            &self.replace,
            key,
            expected,
            &value,
        )
        .await
    }

    /// File, set, check again (see the module's doc for why this order). The
    /// tags are filed concurrently: each is a round trip to its own master.
    async fn set_tagged(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
        stamp: &TagStamp,
    ) -> Result<bool, StoreError> {
        let conn = self.conn().await?;
        let filing_began = std::time::Instant::now();
        let filings = stamp.tags.iter().map(|tag| {
            let mut conn = conn.clone();
            let mut call = self.file_under_tag.key(self.mark_key(tag));
            call.key(self.set_key(tag)).arg(stamp.since).arg(key);
            async move { call.invoke_async::<i64>(&mut conn).await }
        });
        let filed = try_join_all(filings).await?;
        if filed.iter().any(|&f| f != 1) {
            return Ok(false);
        }
        let mut conn = conn;
        commands::set(&mut conn, key, &value, ttl).await?;
        let keys: Vec<String> = stamp.tags.iter().map(|t| self.mark_key(t)).collect();
        let marks = commands::marks(&mut conn, &keys).await?;
        let unmoved = marks.iter().all(|&mark| mark <= stamp.since)
            && filing_began.elapsed() < FILING_SPAN_LIMIT;
        if !unmoved {
            commands::unlink(&mut conn, &[key.to_owned()]).await?;
        }
        Ok(unmoved)
    }

    async fn purge_sequence(&self) -> Result<u64, StoreError> {
        let key = commands::sequence_key(&self.tag_prefix);
        commands::purge_sequence(&mut self.conn().await?, &self.purge_sequence, &key).await
    }

    /// Takes the purge's number first, then marks and empties each tag (each on
    /// its own master, concurrently), then removes or patches the members.
    async fn purge_tags(
        &self,
        tags: &[String],
        stale: Option<&StalePatch>,
    ) -> Result<u64, StoreError> {
        if tags.is_empty() {
            return Ok(0);
        }
        let mut conn = self.conn().await?;
        let number: u64 = self
            .next_purge_number
            .key(commands::sequence_key(&self.tag_prefix))
            .invoke_async(&mut conn)
            .await?;
        let takes = tags.iter().map(|tag| {
            let mut conn = conn.clone();
            let mut call = self.purge_tag.key(self.mark_key(tag));
            call.key(self.set_key(tag))
                .arg(if stale.is_some() { "1" } else { "0" })
                .arg(number);
            async move { call.invoke_async::<Vec<String>>(&mut conn).await }
        });
        let members: BTreeSet<String> = try_join_all(takes).await?.into_iter().flatten().collect();
        let members: Vec<String> = members.into_iter().collect();
        match stale {
            Some(patch) => self.patch_members(&conn, members, patch).await,
            None => commands::unlink(&mut conn, &members).await,
        }
    }

    async fn delete(&self, keys: &[String]) -> Result<u64, StoreError> {
        commands::unlink(&mut self.conn().await?, keys).await
    }

    /// Every master, one SCAN walk each; keeps what the trait says stays.
    async fn clear_prefix(&self, prefix: &str) -> Result<u64, StoreError> {
        let pattern = prefix_pattern(prefix);
        let marks = format!("{}tgen:", self.tag_prefix);
        let sequence = commands::sequence_key(&self.tag_prefix);
        let singletons = format!("{}app:", self.tag_prefix);
        let mut conn = self.conn().await?;
        let mut removed = 0;
        for master in self.masters(&mut conn).await? {
            let mut cursor = 0;
            loop {
                let (next, mut keys) =
                    Self::scan_step(&mut conn, &master, cursor, &pattern).await?;
                keys.retain(|key| {
                    !key.starts_with(&marks) && *key != sequence && !key.starts_with(&singletons)
                });
                removed += commands::unlink(&mut conn, &keys).await?;
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(removed)
    }

    /// Every master in turn until `limit` keys have been seen.
    async fn usage(&self, prefix: &str, limit: u64) -> Result<Usage, StoreError> {
        let pattern = prefix_pattern(prefix);
        let mut conn = self.conn().await?;
        let mut usage = Usage::default();
        for master in self.masters(&mut conn).await? {
            let mut cursor = 0;
            loop {
                if usage.keys >= limit {
                    return Ok(usage);
                }
                let (next, keys) = Self::scan_step(&mut conn, &master, cursor, &pattern).await?;
                if !keys.is_empty() {
                    let mut pipe = redis::pipe();
                    for key in &keys {
                        pipe.cmd("MEMORY").arg("USAGE").arg(key);
                    }
                    let route = SingleNodeRoutingInfo::ByAddress {
                        host: master.0.clone(),
                        port: master.1,
                    };
                    let sizes = conn.route_pipeline(pipe, 0, keys.len(), route).await?;
                    for size in sizes {
                        if let Ok(Some(bytes)) = redis::from_redis_value::<Option<u64>>(size) {
                            usage.keys += 1;
                            usage.bytes += bytes;
                        }
                    }
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        usage.complete = true;
        Ok(usage)
    }

    async fn try_lease(&self, key: &str, token: &str, ttl: Duration) -> Result<bool, StoreError> {
        commands::try_lease(&mut self.conn().await?, key, token, ttl).await
    }

    async fn release_lease(&self, key: &str, token: &str) -> Result<(), StoreError> {
        commands::release_lease(&mut self.conn().await?, &self.release_lease, key, token).await
    }

    async fn add_counts(&self, batch: &CountBatch<'_>) -> Result<(), StoreError> {
        commands::add_counts(&mut self.conn().await?, &self.count_scripts, batch).await
    }

    async fn read_counts(
        &self,
        counts: &[String],
        alive: &str,
        alive_since: u64,
    ) -> Result<(Vec<Vec<(String, u64)>>, u64), StoreError> {
        let scripts = &self.count_scripts;
        commands::read_counts(&mut self.conn().await?, scripts, counts, alive, alive_since).await
    }

    async fn count_hot(
        &self,
        key: &str,
        member: &str,
        weight: u64,
        bound: u64,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let scripts = &self.tally_scripts;
        commands::count_hot(
            &mut self.conn().await?,
            scripts,
            (key, member),
            weight,
            bound,
            ttl,
        )
        .await
    }

    async fn hottest(&self, key: &str, n: u64) -> Result<Vec<String>, StoreError> {
        commands::hottest(&mut self.conn().await?, key, n).await
    }

    async fn tally_add(
        &self,
        members: &[TallyMember<'_>],
        bound: u64,
        forget: Duration,
    ) -> Result<Vec<u64>, StoreError> {
        commands::tally_add(
            &mut self.conn().await?,
            &self.tally_scripts,
            members,
            bound,
            forget,
        )
        .await
    }

    async fn tally_read(
        &self,
        members: &[TallyMember<'_>],
        forget: Duration,
    ) -> Result<Vec<Tallied>, StoreError> {
        commands::tally_read(
            &mut self.conn().await?,
            &self.tally_scripts,
            members,
            forget,
        )
        .await
    }

    async fn tally_forget(&self, members: &[TallyMember<'_>]) -> Result<(), StoreError> {
        commands::tally_forget(&mut self.conn().await?, &self.tally_scripts, members).await
    }

    async fn hold_lease(&self, key: &str, token: &str, ttl: Duration) -> Result<bool, StoreError> {
        commands::hold_lease(
            &mut self.conn().await?,
            &self.holder_scripts,
            key,
            token,
            ttl,
        )
        .await
    }

    async fn lease_holder(&self, key: &str) -> Result<Option<String>, StoreError> {
        commands::lease_holder(&mut self.conn().await?, key).await
    }

    async fn set_as_holder(
        &self,
        lease_key: &str,
        token: &str,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let scripts = &self.holder_scripts;
        commands::set_as_holder(
            &mut self.conn().await?,
            scripts,
            (lease_key, token),
            key,
            value,
            ttl,
        )
        .await
    }

    async fn dead_index_members(&self, limit: usize) -> Result<Vec<IndexMember>, StoreError> {
        let mut conn = self.conn().await?;
        let mut dead = Vec::new();
        let sets = self
            .keys_under(&mut conn, &format!("{}tag:", self.tag_prefix))
            .await?;
        let exists = |key: String| {
            let mut conn = conn.clone();
            async move {
                let n: u64 = redis::cmd("EXISTS").arg(key).query_async(&mut conn).await?;
                Ok(n > 0)
            }
        };
        for set in sets {
            if dead.len() >= limit {
                break;
            }
            let mut walk = conn.clone();
            commands::dead_members(&mut walk, &set, &mut dead, limit, &exists).await?;
        }
        Ok(dead)
    }

    /// Not atomic here (the entry and the set live on different masters): the
    /// sweep only removes what it found gone a sweep ago, longer than
    /// [`FILING_SPAN_LIMIT`], the most a store may take from filing to setting.
    async fn remove_index_members(&self, members: &[IndexMember]) -> Result<u64, StoreError> {
        let conn = self.conn().await?;
        commands::sum_in_batches(members, |member| {
            let mut conn = conn.clone();
            async move {
                let exists: u64 = redis::cmd("EXISTS")
                    .arg(&member.key)
                    .query_async(&mut conn)
                    .await?;
                if exists != 0 {
                    return Ok(0);
                }
                Ok(redis::cmd("SREM")
                    .arg(&member.set)
                    .arg(&member.key)
                    .query_async(&mut conn)
                    .await?)
            }
        })
        .await
    }

    async fn drop_old_marks(&self) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let marks = self
            .keys_under(&mut conn, &format!("{}tgen:", self.tag_prefix))
            .await?;
        commands::sum_in_batches(&marks, |mark| {
            let mut conn = conn.clone();
            async move { commands::drop_old_mark(&mut conn, &self.sweep_scripts, mark).await }
        })
        .await
    }

    /// PING on a random node: the cluster connection answers.
    async fn ping(&self) -> Result<(), StoreError> {
        commands::ping(&mut self.conn().await?).await
    }

    /// Every master's own limit: each holds its share of the keys and fills up
    /// on its own.
    async fn memory_limits(&self) -> Result<Vec<MemoryLimit>, StoreError> {
        let mut conn = self.conn().await?;
        let mut limits = Vec::new();
        for (host, port) in self.masters(&mut conn).await? {
            let info = conn
                .route_command(
                    redis::cmd("INFO").arg("memory").clone(),
                    RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                        host: host.clone(),
                        port,
                    }),
                )
                .await?;
            let info: String = redis::from_redis_value(info).map_err(redis::RedisError::from)?;
            limits.push(commands::memory_limit_of(&info, format!("{host}:{port}"))?);
        }
        Ok(limits)
    }
}

/// Sixteen hex digits of the tag's SHA-256: the hash tag of its keys.
fn tag_digest(tag: &str) -> String {
    hex::encode(&Sha256::digest(tag.as_bytes())[..8])
}

/// The distinct masters named by a `CLUSTER SLOTS` reply: each range is
/// `[start, end, [host, port, id, ...], replicas...]`.
pub(crate) fn masters_of(reply: &Value) -> Result<Vec<(String, u16)>, StoreError> {
    let bad = || StoreError::Protocol("CLUSTER SLOTS: unexpected shape".to_owned());
    let Value::Array(ranges) = reply else {
        return Err(bad());
    };
    let mut masters = BTreeSet::new();
    for range in ranges {
        let Value::Array(parts) = range else {
            return Err(bad());
        };
        let Some(Value::Array(node)) = parts.get(2) else {
            return Err(bad());
        };
        let (Some(host), Some(port)) = (node.first(), node.get(1)) else {
            return Err(bad());
        };
        let host: String = redis::from_redis_value_ref(host).map_err(|_| bad())?;
        let port: u16 = redis::from_redis_value_ref(port).map_err(|_| bad())?;
        masters.insert((host, port));
    }
    Ok(masters.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tags_counter_and_set_share_one_hash_tag_whatever_the_tag_holds() {
        let store = ClusterStore::new(
            &["redis://127.0.0.1:1/".to_owned()],
            Duration::from_millis(50),
            "ns:".to_owned(),
        )
        .expect("store");
        for tag in ["user:1", "a}b{c", "{}", "path:/users/%7B"] {
            let (mark, set) = (store.mark_key(tag), store.set_key(tag));
            assert_eq!(
                redis::cluster_routing::Slot::for_key(&mark),
                redis::cluster_routing::Slot::for_key(&set),
                "{mark} and {set}"
            );
            assert!(mark.starts_with("ns:tgen:{"));
        }
    }

    #[test]
    fn masters_are_read_from_cluster_slots() {
        let node = |port| {
            Value::Array(vec![
                Value::BulkString(b"127.0.0.1".to_vec()),
                Value::Int(port),
                Value::BulkString(b"id".to_vec()),
            ])
        };
        let reply = Value::Array(vec![
            Value::Array(vec![
                Value::Int(0),
                Value::Int(5460),
                node(7000),
                node(7003),
            ]),
            Value::Array(vec![Value::Int(5461), Value::Int(10922), node(7001)]),
            Value::Array(vec![Value::Int(10923), Value::Int(16383), node(7000)]),
        ]);
        assert_eq!(
            masters_of(&reply).expect("parsed"),
            vec![
                ("127.0.0.1".to_owned(), 7000),
                ("127.0.0.1".to_owned(), 7001)
            ]
        );
    }
}
