//! The shared backend: one Redis for every instance, at `cache.url` or the
//! master that Redis Sentinel names (`cache.sentinel`, see `sentinel`).
//!
//! Hot-path commands (GET, SET, scripts) go over one multiplexed connection that
//! reconnects by itself, so a cache hit costs no pool checkout. Long walks over the
//! keyspace (SCAN for clearing and usage) take a connection of their own (from a
//! deadpool-redis pool, or dialled to the master of the moment) so they never
//! queue in front of page lookups. Both sources give a [`Conn`], which the
//! commands below are sent over alike.

use std::time::Duration;

use bytes::Bytes;
use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use redis::{Cmd, Pipeline, RedisFuture, Script, Value};

use super::commands::{self, millis, prefix_pattern};
use super::sentinel::{MasterConnection, MasterSource};
use super::{
    CountBatch, IndexMember, MemoryLimit, StalePatch, Store, StoreError, TagStamp, Tallied,
    TallyMember, Usage,
};
use crate::build_error::BuildError;
use crate::config::SentinelConfig;

/// Stores an entry and files it under its tags, unless a tag was purged after
/// the render began (its purge mark is above the render's `since`) or the render
/// began too long ago for the marks to tell. A tag set has no lifetime, so that
/// under a `volatile-*` policy Redis evicts pages and never the index that finds
/// them; filing into a set drops up to two of its members whose entry is gone,
/// which keeps each set near the size of what it still files (the index sweep
/// does the rest).
/// KEYS: entry, then (mark, set) per tag. ARGV: ttl ms, value, since.
fn set_tagged_script() -> Script {
    Script::new(&format!(
        "local since = tonumber(ARGV[3])\n{}{}",
        commands::render_too_old_lua(),
        SET_TAGGED_BODY
    ))
}

const SET_TAGGED_BODY: &str = r"
for i = 2, #KEYS, 2 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > since then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', tonumber(ARGV[1]))
for i = 3, #KEYS, 2 do
  local set = KEYS[i]
  for _, other in ipairs(redis.call('SRANDMEMBER', set, 2)) do
    if redis.call('EXISTS', other) == 0 then redis.call('SREM', set, other) end
  end
  redis.call('SADD', set, KEYS[1])
  if redis.call('PTTL', set) >= 0 then redis.call('PERSIST', set) end
end
return 1
";

/// Purges tags atomically: takes the next purge number and marks each tag with
/// it, then unlinks every member (hard) or applies the stale patch to it (soft):
/// members that start with the patch's prefix get Redis's current time, in ms as
/// zero-padded digits of the patch's width, written at its offset; the others are
/// unlinked (a value the patch is not for would be corrupted by it). Redis's clock
/// is used so that every instance's soft purges agree.
/// Marks are written with `pcall` and a patch that Redis refuses becomes an
/// unlink: a Redis out of memory under `noeviction` refuses writes, and a purge
/// must still remove its pages then.
/// KEYS: the purge sequence, then (mark, set) per tag. ARGV: soft flag, patch
/// offset, patch width, patch prefix.
fn purge_tags_script() -> Script {
    Script::new(&format!(
        "local sequence = KEYS[1]\n{}{}{}",
        commands::NEXT_PURGE_NUMBER_LUA,
        commands::WRITE_MARK_LUA,
        PURGE_TAGS_BODY
    ))
}

const PURGE_TAGS_BODY: &str = r"
local mark = string.format('%.0f', n)
local soft = ARGV[1] == '1'
local offset = tonumber(ARGV[2])
local width = tonumber(ARGV[3])
local magic = ARGV[4]
local stamp
if soft then
  local clock = redis.call('TIME')
  local now_ms = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
  stamp = string.format('%0' .. width .. 'd', now_ms)
end
local touched = 0
for i = 2, #KEYS, 2 do
  write_mark(KEYS[i], mark)
  local set = KEYS[i + 1]
  for _, key in ipairs(redis.call('SMEMBERS', set)) do
    if soft then
      if redis.call('GETRANGE', key, 0, #magic - 1) == magic
          and type(redis.pcall('SETRANGE', key, offset, stamp)) == 'number' then
        touched = touched + 1
      else
        touched = touched + redis.call('UNLINK', key)
      end
    else
      touched = touched + redis.call('UNLINK', key)
    end
  end
  if not soft then redis.call('DEL', set) end
end
return touched
";

/// Removes an entry's key from a tag set if the entry is gone: atomic, so an
/// entry stored again meanwhile stays filed. KEYS: set, entry.
const REMOVE_IF_GONE: &str = r"
if redis.call('EXISTS', KEYS[2]) == 0 then return redis.call('SREM', KEYS[1], KEYS[2]) end
return 0
";

/// Where a [`RedisStore`]'s connections come from.
enum Source {
    /// `cache.url`: one server, always the same.
    Url {
        hot: ConnectionManager,
        walks: deadpool_redis::Pool,
        /// `host:port` of the server, for what is logged about it.
        node: String,
    },
    /// `cache.sentinel`: the master of the moment.
    Sentinel(MasterSource),
}

/// A connection of either source; the commands are generic over it.
enum Conn {
    Manager(ConnectionManager),
    Pooled(deadpool_redis::Connection),
    Master(MasterConnection),
    Dedicated(MultiplexedConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Manager(conn) => conn.req_packed_command(cmd),
            Self::Pooled(conn) => conn.req_packed_command(cmd),
            Self::Master(conn) => conn.req_packed_command(cmd),
            Self::Dedicated(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Manager(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Pooled(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Master(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Dedicated(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Manager(conn) => conn.get_db(),
            Self::Pooled(conn) => conn.get_db(),
            Self::Master(conn) => conn.get_db(),
            Self::Dedicated(conn) => conn.get_db(),
        }
    }
}

/// The `redis` backend.
pub struct RedisStore {
    source: Source,
    tag_prefix: String,
    set_tagged: Script,
    purge_tags: Script,
    purge_sequence: Script,
    release_lease: Script,
    replace: Script,
    holder_scripts: commands::HolderScripts,
    count_scripts: commands::CountScripts,
    tally_scripts: commands::TallyScripts,
    sweep_scripts: commands::SweepScripts,
    remove_if_gone: Script,
}

impl RedisStore {
    /// Builds the connections lazily: nothing is dialled here, so a Redis that is
    /// down at start does not stop the app; the first commands connect.
    /// `tag_prefix` starts the names of tag sets and purge marks.
    /// A URL the Redis client cannot use is a [`BuildError`] naming `cache.url`.
    pub fn new(url: &str, op_timeout: Duration, tag_prefix: String) -> Result<Self, BuildError> {
        let client = redis::Client::open(url).map_err(BuildError::redis("cache.url"))?;
        let node = url::Url::parse(url).map_or_else(
            |_| "redis".to_owned(),
            |u| {
                let host = u.host_str().unwrap_or("localhost");
                format!("{host}:{}", u.port().unwrap_or(6379))
            },
        );
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(op_timeout.max(Duration::from_millis(200))))
            .set_response_timeout(Some(op_timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let hot = ConnectionManager::new_lazy_with_config(client, manager_config)
            .map_err(BuildError::redis("cache.url"))?;
        let mut pool_config = deadpool_redis::Config::from_url(url);
        pool_config.pool = Some(deadpool_redis::PoolConfig {
            max_size: 4,
            timeouts: deadpool_redis::Timeouts {
                wait: Some(Duration::from_secs(2)),
                create: Some(Duration::from_secs(2)),
                recycle: Some(Duration::from_secs(2)),
            },
            ..deadpool_redis::PoolConfig::default()
        });
        let walks = pool_config
            .create_pool(Some(deadpool_redis::Runtime::Tokio1))
            .map_err(|source| BuildError::Pool {
                key: "cache.url".to_owned(),
                source,
            })?;
        Ok(Self::with_source(
            Source::Url { hot, walks, node },
            tag_prefix,
        ))
    }

    /// The store on the master that `sentinel` names, reached with `url`'s
    /// user, password, database and TLS. Dials nothing here either.
    pub fn via_sentinel(
        sentinel: &SentinelConfig,
        url: &str,
        op_timeout: Duration,
        tag_prefix: String,
    ) -> Result<Self, BuildError> {
        let source = MasterSource::new(sentinel, url, op_timeout)?;
        Ok(Self::with_source(Source::Sentinel(source), tag_prefix))
    }

    fn with_source(source: Source, tag_prefix: String) -> Self {
        Self {
            source,
            tag_prefix,
            set_tagged: set_tagged_script(),
            purge_tags: purge_tags_script(),
            purge_sequence: commands::purge_sequence_script(),
            release_lease: commands::release_lease_script(),
            replace: commands::replace_script(),
            holder_scripts: commands::HolderScripts::default(),
            count_scripts: commands::CountScripts::default(),
            tally_scripts: commands::TallyScripts::default(),
            sweep_scripts: commands::SweepScripts::default(),
            remove_if_gone: Script::new(REMOVE_IF_GONE),
        }
    }

    /// The connection for hot-path commands.
    async fn hot(&self) -> Result<Conn, StoreError> {
        match &self.source {
            Source::Url { hot, .. } => Ok(Conn::Manager(hot.clone())),
            Source::Sentinel(master) => Ok(Conn::Master(master.connection().await?)),
        }
    }

    fn mark_key(&self, tag: &str) -> String {
        format!("{}tgen:{tag}", self.tag_prefix)
    }

    /// The purge sequence; kept by a namespace clear, as the marks are.
    fn sequence_key(&self) -> String {
        commands::sequence_key(&self.tag_prefix)
    }

    fn set_key(&self, tag: &str) -> String {
        format!("{}tag:{tag}", self.tag_prefix)
    }

    /// A connection for a long walk, and the `host:port` it reaches.
    async fn walk_conn(&self) -> Result<(Conn, String), StoreError> {
        match &self.source {
            Source::Url { walks, node, .. } => {
                let conn = walks
                    .get()
                    .await
                    .map_err(|e| StoreError::Pool(e.to_string()))?;
                Ok((Conn::Pooled(conn), node.clone()))
            }
            Source::Sentinel(master) => {
                let (conn, node) = master.dedicated().await?;
                Ok((Conn::Dedicated(conn), node))
            }
        }
    }

    /// Whether `key` exists, on a hot connection of its own (checks run at once).
    async fn exists(&self, key: String) -> Result<bool, StoreError> {
        let n: u64 = redis::cmd("EXISTS")
            .arg(key)
            .query_async(&mut self.hot().await?)
            .await?;
        Ok(n > 0)
    }

    /// Every key starting with `prefix` (a SCAN walk): the tag sets or the marks.
    async fn keys_under(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let pattern = prefix_pattern(prefix);
        let (mut conn, _) = self.walk_conn().await?;
        let (mut cursor, mut found) = (0, Vec::new());
        loop {
            let (next, keys) = Self::scan_step(&mut conn, cursor, &pattern).await?;
            found.extend(keys);
            if next == 0 {
                return Ok(found);
            }
            cursor = next;
        }
    }

    /// One SCAN step over keys matching `pattern`: the next cursor and a batch.
    async fn scan_step(
        conn: &mut Conn,
        cursor: u64,
        pattern: &str,
    ) -> Result<(u64, Vec<String>), StoreError> {
        Ok(commands::scan_command(cursor, pattern)
            .query_async(conn)
            .await?)
    }
}

#[rocket::async_trait]
impl Store for RedisStore {
    fn name(&self) -> &'static str {
        match self.source {
            Source::Url { .. } => "redis",
            Source::Sentinel(_) => "redis-sentinel",
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        commands::get(&mut self.hot().await?, key).await
    }

    async fn get_head(&self, key: &str, max_len: usize) -> Result<Option<Bytes>, StoreError> {
        commands::get_head(&mut self.hot().await?, key, max_len).await
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), StoreError> {
        commands::set(&mut self.hot().await?, key, &value, ttl).await
    }

    async fn replace_if_starts_with(
        &self,
        key: &str,
        expected: &[u8],
        value: Bytes,
    ) -> Result<bool, StoreError> {
        commands::replace_if_starts_with(
            &mut self.hot().await?,
            &self.replace,
            key,
            expected,
            &value,
        )
        .await
    }

    async fn set_tagged(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
        stamp: &TagStamp,
    ) -> Result<bool, StoreError> {
        let mut conn = self.hot().await?;
        let mut call = self.set_tagged.key(key);
        call.arg(millis(ttl)).arg(value.as_ref()).arg(stamp.since);
        for tag in &stamp.tags {
            call.key(self.mark_key(tag)).key(self.set_key(tag));
        }
        let stored: i64 = call.invoke_async(&mut conn).await?;
        Ok(stored == 1)
    }

    async fn purge_sequence(&self) -> Result<u64, StoreError> {
        commands::purge_sequence(
            &mut self.hot().await?,
            &self.purge_sequence,
            &self.sequence_key(),
        )
        .await
    }

    async fn purge_tags(
        &self,
        tags: &[String],
        stale: Option<&StalePatch>,
    ) -> Result<u64, StoreError> {
        if tags.is_empty() {
            return Ok(0);
        }
        let mut conn = self.hot().await?;
        let mut call = self.purge_tags.prepare_invoke();
        call.key(self.sequence_key());
        for tag in tags {
            call.key(self.mark_key(tag)).key(self.set_key(tag));
        }
        match stale {
            Some(patch) => call
                .arg("1")
                .arg(patch.offset)
                .arg(patch.width)
                .arg(patch.prefix),
            None => call.arg("0").arg(0).arg(0).arg(""),
        };
        Ok(call.invoke_async(&mut conn).await?)
    }

    async fn delete(&self, keys: &[String]) -> Result<u64, StoreError> {
        commands::unlink(&mut self.hot().await?, keys).await
    }

    /// Keeps what the trait says stays (purge marks, the sequence, singletons).
    async fn clear_prefix(&self, prefix: &str) -> Result<u64, StoreError> {
        let pattern = prefix_pattern(prefix);
        let marks = self.mark_key("");
        let sequence = self.sequence_key();
        let singletons = format!("{}app:", self.tag_prefix);
        let (mut conn, _) = self.walk_conn().await?;
        let (mut cursor, mut removed) = (0, 0);
        loop {
            let (next, mut keys) = Self::scan_step(&mut conn, cursor, &pattern).await?;
            keys.retain(|key| {
                !key.starts_with(&marks) && *key != sequence && !key.starts_with(&singletons)
            });
            if !keys.is_empty() {
                let n: u64 = redis::cmd("UNLINK")
                    .arg(&keys)
                    .query_async(&mut conn)
                    .await?;
                removed += n;
            }
            if next == 0 {
                return Ok(removed);
            }
            cursor = next;
        }
    }

    async fn usage(&self, prefix: &str, limit: u64) -> Result<Usage, StoreError> {
        let pattern = prefix_pattern(prefix);
        let (mut conn, _) = self.walk_conn().await?;
        let mut usage = Usage::default();
        let mut cursor = 0;
        loop {
            let (next, keys) = Self::scan_step(&mut conn, cursor, &pattern).await?;
            if !keys.is_empty() {
                let mut pipe = redis::pipe();
                for key in &keys {
                    pipe.cmd("MEMORY").arg("USAGE").arg(key);
                }
                let sizes: Vec<Option<u64>> = pipe.query_async(&mut conn).await?;
                usage.keys += sizes.iter().flatten().count() as u64;
                usage.bytes += sizes.into_iter().flatten().sum::<u64>();
            }
            if next == 0 {
                usage.complete = true;
                return Ok(usage);
            }
            if usage.keys >= limit {
                return Ok(usage);
            }
            cursor = next;
        }
    }

    async fn try_lease(&self, key: &str, token: &str, ttl: Duration) -> Result<bool, StoreError> {
        commands::try_lease(&mut self.hot().await?, key, token, ttl).await
    }

    async fn release_lease(&self, key: &str, token: &str) -> Result<(), StoreError> {
        commands::release_lease(&mut self.hot().await?, &self.release_lease, key, token).await
    }

    async fn add_counts(&self, batch: &CountBatch<'_>) -> Result<(), StoreError> {
        commands::add_counts(&mut self.hot().await?, &self.count_scripts, batch).await
    }

    async fn read_counts(
        &self,
        counts: &[String],
        alive: &str,
        alive_since: u64,
    ) -> Result<(Vec<Vec<(String, u64)>>, u64), StoreError> {
        let scripts = &self.count_scripts;
        commands::read_counts(&mut self.hot().await?, scripts, counts, alive, alive_since).await
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
            &mut self.hot().await?,
            scripts,
            (key, member),
            weight,
            bound,
            ttl,
        )
        .await
    }

    async fn hottest(&self, key: &str, n: u64) -> Result<Vec<String>, StoreError> {
        commands::hottest(&mut self.hot().await?, key, n).await
    }

    async fn tally_add(
        &self,
        members: &[TallyMember<'_>],
        bound: u64,
        forget: Duration,
    ) -> Result<Vec<u64>, StoreError> {
        commands::tally_add(
            &mut self.hot().await?,
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
        commands::tally_read(&mut self.hot().await?, &self.tally_scripts, members, forget).await
    }

    async fn tally_forget(&self, members: &[TallyMember<'_>]) -> Result<(), StoreError> {
        commands::tally_forget(&mut self.hot().await?, &self.tally_scripts, members).await
    }

    async fn hold_lease(&self, key: &str, token: &str, ttl: Duration) -> Result<bool, StoreError> {
        commands::hold_lease(
            &mut self.hot().await?,
            &self.holder_scripts,
            key,
            token,
            ttl,
        )
        .await
    }

    async fn lease_holder(&self, key: &str) -> Result<Option<String>, StoreError> {
        commands::lease_holder(&mut self.hot().await?, key).await
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
            &mut self.hot().await?,
            scripts,
            (lease_key, token),
            key,
            value,
            ttl,
        )
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        commands::ping(&mut self.hot().await?).await
    }

    async fn dead_index_members(&self, limit: usize) -> Result<Vec<IndexMember>, StoreError> {
        let mut dead = Vec::new();
        for set in self.keys_under(&self.set_key("")).await? {
            if dead.len() >= limit {
                break;
            }
            let mut conn = self.hot().await?;
            commands::dead_members(&mut conn, &set, &mut dead, limit, |key| self.exists(key))
                .await?;
        }
        Ok(dead)
    }

    async fn remove_index_members(&self, members: &[IndexMember]) -> Result<u64, StoreError> {
        commands::sum_in_batches(members, |member| {
            let mut call = self.remove_if_gone.key(&member.set);
            call.key(&member.key);
            async move { Ok(call.invoke_async(&mut self.hot().await?).await?) }
        })
        .await
    }

    async fn drop_old_marks(&self) -> Result<u64, StoreError> {
        let marks = self.keys_under(&self.mark_key("")).await?;
        commands::sum_in_batches(&marks, |mark| async move {
            let mut conn = self.hot().await?;
            commands::drop_old_mark(&mut conn, &self.sweep_scripts, mark).await
        })
        .await
    }

    async fn memory_limits(&self) -> Result<Vec<MemoryLimit>, StoreError> {
        let (mut conn, node) = self.walk_conn().await?;
        Ok(vec![commands::memory_limit(&mut conn, node).await?])
    }
}
