//! The commands the single-server and the cluster backends send alike: single-key
//! reads, writes and leases, and the helpers both need. Generic over the
//! connection, so each backend brings its own (a `ConnectionManager`, a cluster
//! connection) and the commands are written once.

use std::time::Duration;

use bytes::Bytes;
use redis::aio::ConnectionLike;
use redis::Script;

use super::StoreError;

/// Keys visited per SCAN step.
pub const SCAN_COUNT: u64 = 500;

/// How long a purge mark matters: a render that began longer ago than this is
/// never stored (see [`RENDER_TOO_OLD_LUA`]), so a mark older than this refuses
/// nothing and the index sweep may drop it. Renders last seconds.
pub const MARK_LIFETIME_MS: u64 = 600_000;

/// Lua that returns 0 from the script when the render that read `since` (a
/// purge sequence number, which never runs behind Redis's clock in µs) began
/// more than [`MARK_LIFETIME_MS`] ago: its tags' marks may have been swept, so
/// nothing could tell whether a purge came after it. Expects `since`.
pub fn render_too_old_lua() -> String {
    format!(
        r"
local clock_now = redis.call('TIME')
local now_us = tonumber(clock_now[1]) * 1000000 + tonumber(clock_now[2])
if since < now_us - {} then return 0 end
",
        MARK_LIFETIME_MS * 1000
    )
}

/// Lua that writes a purge mark `mark` (digits) into the key `mark_key` with no
/// lifetime: under a `volatile-*` policy Redis then never evicts it, and the
/// index sweep removes it once it is older than [`MARK_LIFETIME_MS`]. Through
/// `pcall`: a Redis out of memory under `noeviction` refuses the write, and the
/// purge must still remove its pages (a store is refused just the same then).
pub const WRITE_MARK_LUA: &str = r"
local function write_mark(mark_key, mark)
  if tonumber(redis.call('GET', mark_key) or '0') < tonumber(mark) then
    redis.pcall('SET', mark_key, mark)
  end
end
";

/// The purge sequence's current number. Were the key ever lost (evicted,
/// deleted by hand), Redis's clock in microseconds stands in for it: every later
/// purge numbers itself above that clock, so it still refuses renders that read
/// this number before it. KEYS: the sequence.
const PURGE_SEQUENCE: &str = r"
local current = redis.call('GET', KEYS[1])
if current then return tonumber(current) end
local clock = redis.call('TIME')
return tonumber(clock[1]) * 1000000 + tonumber(clock[2])
";

/// Lua that takes the next purge number into `n`: above the sequence and above
/// Redis's clock in microseconds (so a sequence that was lost, see
/// [`PURGE_SEQUENCE`], still moves past every number handed out since), and
/// saves it (through `pcall`: a Redis out of memory refuses the write, and the
/// clock still numbers the next purge above this one). Expects the sequence's
/// key in `sequence`.
pub const NEXT_PURGE_NUMBER_LUA: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2]) + 1
local n = math.max(tonumber(redis.call('GET', sequence) or '0') + 1, now)
redis.pcall('SET', sequence, string.format('%.0f', n))
";

/// `{prefix}purge-seq`: the purge sequence of a namespace.
pub fn sequence_key(tag_prefix: &str) -> String {
    format!("{tag_prefix}purge-seq")
}

/// The script that reads the purge sequence, built once per store.
pub fn purge_sequence_script() -> Script {
    Script::new(PURGE_SEQUENCE)
}

pub async fn purge_sequence<C: ConnectionLike + Send>(
    conn: &mut C,
    script: &Script,
    key: &str,
) -> Result<u64, StoreError> {
    Ok(script.key(key).invoke_async(conn).await?)
}

/// Deletes a purge mark older than [`MARK_LIFETIME_MS`] by Redis's clock (the
/// mark is a purge number, µs-based). One key: valid on a cluster.
fn drop_old_mark_script() -> Script {
    Script::new(&format!(
        r"
local mark = tonumber(redis.call('GET', KEYS[1]) or 'x')
local clock = redis.call('TIME')
local now_us = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
if mark and mark < now_us - {} then return redis.call('DEL', KEYS[1]) end
return 0
",
        MARK_LIFETIME_MS * 1000
    ))
}

/// The index sweep's scripts and key names, built once per store.
pub struct SweepScripts {
    drop_old_mark: Script,
}

impl Default for SweepScripts {
    fn default() -> Self {
        Self {
            drop_old_mark: drop_old_mark_script(),
        }
    }
}

/// Entries looked up at once by a sweep.
pub const SWEEP_BATCH: usize = 200;

/// Adds to `dead` the members of `set` whose entry does not exist, until `dead`
/// holds `limit`. `exists` checks one key (each store sends it where the key
/// lives: a cluster client to the key's master), a batch at once.
pub async fn dead_members<C, F, Fut>(
    conn: &mut C,
    set: &str,
    dead: &mut Vec<super::IndexMember>,
    limit: usize,
    exists: F,
) -> Result<(), StoreError>
where
    C: ConnectionLike + Send,
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<bool, StoreError>>,
{
    let mut cursor = 0u64;
    loop {
        let (next, members): (u64, Vec<String>) = redis::cmd("SSCAN")
            .arg(set)
            .arg(cursor)
            .arg("COUNT")
            .arg(SCAN_COUNT)
            .query_async(conn)
            .await?;
        for batch in members.chunks(SWEEP_BATCH) {
            let checks = batch.iter().map(|member| exists(member.clone()));
            let found = futures_util::future::try_join_all(checks).await?;
            for (member, exists) in batch.iter().zip(found) {
                if !exists && dead.len() < limit {
                    dead.push(super::IndexMember {
                        set: set.to_owned(),
                        key: member.clone(),
                    });
                }
            }
        }
        if next == 0 || dead.len() >= limit {
            return Ok(());
        }
        cursor = next;
    }
}

/// Runs `each` on every item, [`SWEEP_BATCH`] of them at once, and adds up what
/// they return: how the index sweep removes members and drops marks.
pub async fn sum_in_batches<'a, T, F, Fut>(items: &'a [T], each: F) -> Result<u64, StoreError>
where
    F: Fn(&'a T) -> Fut,
    Fut: std::future::Future<Output = Result<u64, StoreError>>,
{
    let mut total = 0;
    for batch in items.chunks(SWEEP_BATCH) {
        let done = futures_util::future::try_join_all(batch.iter().map(&each)).await?;
        total += done.into_iter().sum::<u64>();
    }
    Ok(total)
}

/// Deletes `mark` if it is older than a render may be; 1 if it went.
pub async fn drop_old_mark<C: ConnectionLike + Send>(
    conn: &mut C,
    scripts: &SweepScripts,
    mark: &str,
) -> Result<u64, StoreError> {
    Ok(scripts.drop_old_mark.key(mark).invoke_async(conn).await?)
}

/// Frees a lease only for the token that holds it. One key: valid on a cluster.
const RELEASE_LEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// Takes a lease if free, extends it if held by the same token. One key.
const HOLD_LEASE: &str = r"
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
  return 1
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
  return 1
end
return 0
";

/// Writes a value only while a lease is held by the token. KEYS: lease, value
/// (one slot). ARGV: token, value, ttl ms.
const SET_AS_HOLDER: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', tonumber(ARGV[3]))
return 1
";

/// The scripts of leases held by name, built once per store.
pub struct HolderScripts {
    hold: Script,
    set_as_holder: Script,
}

impl Default for HolderScripts {
    fn default() -> Self {
        Self {
            hold: Script::new(HOLD_LEASE),
            set_as_holder: Script::new(SET_AS_HOLDER),
        }
    }
}

pub async fn hold_lease<C: ConnectionLike + Send>(
    conn: &mut C,
    scripts: &HolderScripts,
    key: &str,
    token: &str,
    ttl: Duration,
) -> Result<bool, StoreError> {
    let held: i64 = scripts
        .hold
        .key(key)
        .arg(token)
        .arg(millis(ttl))
        .invoke_async(conn)
        .await?;
    Ok(held == 1)
}

pub async fn lease_holder<C: ConnectionLike + Send>(
    conn: &mut C,
    key: &str,
) -> Result<Option<String>, StoreError> {
    Ok(redis::cmd("GET").arg(key).query_async(conn).await?)
}

pub async fn set_as_holder<C: ConnectionLike + Send>(
    conn: &mut C,
    scripts: &HolderScripts,
    (lease_key, token): (&str, &str),
    key: &str,
    value: &str,
    ttl: Duration,
) -> Result<bool, StoreError> {
    let stored: i64 = scripts
        .set_as_holder
        .key(lease_key)
        .key(key)
        .arg(token)
        .arg(value)
        .arg(millis(ttl))
        .invoke_async(conn)
        .await?;
    Ok(stored == 1)
}

/// Adds counts and marks an instance alive, atomically. KEYS: counts, alive
/// (one slot). ARGV: counts ttl ms, member, now, forget below, alive ttl ms,
/// then (field, delta) pairs.
const ADD_COUNTS: &str = r"
local pairs = #ARGV - 5
for i = 6, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
if pairs > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return 1
";

/// Reads counter hashes and counts live instances. KEYS: the hashes, then the
/// alive set (one slot). ARGV: alive since.
const READ_COUNTS: &str = r"
local out = {}
for i = 1, #KEYS - 1 do
  out[i] = redis.call('HGETALL', KEYS[i])
end
out[#KEYS] = redis.call('ZCOUNT', KEYS[#KEYS], ARGV[1], '+inf')
return out
";

/// The fleet counters' scripts, built once per store.
pub struct CountScripts {
    add: Script,
    read: Script,
}

impl Default for CountScripts {
    fn default() -> Self {
        Self {
            add: Script::new(ADD_COUNTS),
            read: Script::new(READ_COUNTS),
        }
    }
}

pub async fn add_counts<C: ConnectionLike + Send>(
    conn: &mut C,
    scripts: &CountScripts,
    batch: &super::CountBatch<'_>,
) -> Result<(), StoreError> {
    let mut call = scripts.add.key(batch.counts);
    call.key(batch.alive)
        .arg(millis(batch.ttl))
        .arg(batch.member)
        .arg(batch.now)
        .arg(batch.forget_below)
        .arg(millis(batch.ttl_alive));
    for (field, delta) in batch.deltas {
        call.arg(*field).arg(*delta);
    }
    let _: i64 = call.invoke_async(conn).await?;
    Ok(())
}

pub async fn read_counts<C: ConnectionLike + Send>(
    conn: &mut C,
    scripts: &CountScripts,
    counts: &[String],
    alive: &str,
    alive_since: u64,
) -> Result<(Vec<Vec<(String, u64)>>, u64), StoreError> {
    let mut call = scripts.read.prepare_invoke();
    for key in counts {
        call.key(key);
    }
    call.key(alive).arg(alive_since);
    let mut replies: Vec<redis::Value> = call.invoke_async(conn).await?;
    let alive_count: u64 = match replies.pop() {
        Some(reply) => redis::from_redis_value(reply).map_err(redis::RedisError::from)?,
        None => 0,
    };
    let hashes = replies
        .into_iter()
        .map(|reply| {
            let flat: Vec<(String, u64)> =
                redis::from_redis_value(reply).map_err(redis::RedisError::from)?;
            Ok(flat)
        })
        .collect::<Result<_, StoreError>>()?;
    Ok((hashes, alive_count))
}

/// Adds to a member of a bounded top list (Space-Saving: a newcomer to a full
/// list replaces the lowest member and inherits its score). KEYS: the list.
/// ARGV: member, weight, bound, ttl ms.
const COUNT_HOT: &str = r"
local weight = tonumber(ARGV[2])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZINCRBY', KEYS[1], weight, ARGV[1])
else
  local base = 0
  local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[3]) + 1
  if over > 0 then
    local gone = redis.call('ZPOPMIN', KEYS[1], over)
    base = tonumber(gone[#gone])
  end
  redis.call('ZADD', KEYS[1], base + weight, ARGV[1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
";

/// Counts one event per member in its tally. Members quiet for `forget` are
/// dropped a bounded batch at a time, and past `bound` the least recently
/// counted go. KEYS: (counts, last) per member. ARGV: bound, forget ms, then the
/// members. Returns each member's count.
const TALLY_ADD: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local bound = tonumber(ARGV[1])
local forget = tonumber(ARGV[2])
local out = {}
for i = 1, #KEYS, 2 do
  local counts, last, member = KEYS[i], KEYS[i + 1], ARGV[2 + (i + 1) / 2]
  local quiet = redis.call('ZRANGEBYSCORE', last, '-inf', '(' .. (now - forget), 'LIMIT', 0, 64)
  if #quiet > 0 then
    redis.call('ZREM', last, unpack(quiet))
    redis.call('HDEL', counts, unpack(quiet))
  end
  local seen = redis.call('ZSCORE', last, member)
  if seen and tonumber(seen) < now - forget then redis.call('HDEL', counts, member) end
  out[#out + 1] = redis.call('HINCRBY', counts, member, 1)
  redis.call('ZADD', last, now, member)
  local over = redis.call('ZCARD', last) - bound
  if over > 0 then
    local gone = redis.call('ZPOPMIN', last, over)
    for j = 1, #gone, 2 do redis.call('HDEL', counts, gone[j]) end
  end
  redis.call('PEXPIRE', counts, forget)
  redis.call('PEXPIRE', last, forget)
end
return out
";

/// Each member's count and ms since its last event (0, 0 when never counted or
/// quiet for `forget`). KEYS: (counts, last) per member. ARGV: forget ms, then
/// the members.
const TALLY_READ: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local forget = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS, 2 do
  local member = ARGV[1 + (i + 1) / 2]
  local seen = redis.call('ZSCORE', KEYS[i + 1], member)
  local count = redis.call('HGET', KEYS[i], member)
  if seen and count and tonumber(seen) >= now - forget then
    out[#out + 1] = tonumber(count)
    out[#out + 1] = math.max(0, now - tonumber(seen))
  else
    out[#out + 1] = 0
    out[#out + 1] = 0
  end
end
return out
";

/// Forgets members. KEYS: (counts, last) per member. ARGV: the members.
const TALLY_FORGET: &str = r"
for i = 1, #KEYS, 2 do
  local member = ARGV[(i + 1) / 2]
  redis.call('HDEL', KEYS[i], member)
  redis.call('ZREM', KEYS[i + 1], member)
end
return 1
";

/// The scripts of top lists and tallies, built once per store.
pub struct TallyScripts {
    count_hot: Script,
    add: Script,
    read: Script,
    forget: Script,
}

impl Default for TallyScripts {
    fn default() -> Self {
        Self {
            count_hot: Script::new(COUNT_HOT),
            add: Script::new(TALLY_ADD),
            read: Script::new(TALLY_READ),
            forget: Script::new(TALLY_FORGET),
        }
    }
}

pub async fn count_hot<C: ConnectionLike + Send>(
    conn: &mut C,
    scripts: &TallyScripts,
    (key, member): (&str, &str),
    weight: u64,
    bound: u64,
    ttl: Duration,
) -> Result<(), StoreError> {
    let _: i64 = scripts
        .count_hot
        .key(key)
        .arg(member)
        .arg(weight)
        .arg(bound.max(1))
        .arg(millis(ttl))
        .invoke_async(conn)
        .await?;
    Ok(())
}

pub async fn hottest<C: ConnectionLike + Send>(
    conn: &mut C,
    key: &str,
    n: u64,
) -> Result<Vec<String>, StoreError> {
    if n == 0 {
        return Ok(Vec::new());
    }
    Ok(redis::cmd("ZRANGE")
        .arg(key)
        .arg(0)
        .arg(n - 1)
        .arg("REV")
        .query_async(conn)
        .await?)
}

/// A script call with the (counts, last) keys of each member, then `args`,
/// then the members.
fn tally_call<'s>(
    script: &'s Script,
    members: &[super::TallyMember<'_>],
    args: &[u64],
) -> redis::ScriptInvocation<'s> {
    let mut call = script.prepare_invoke();
    for m in members {
        call.key(m.counts).key(m.last);
    }
    for arg in args {
        call.arg(*arg);
    }
    for m in members {
        call.arg(m.member);
    }
    call
}

pub async fn tally_add<C: ConnectionLike + Send>(
    conn: &mut C,
    scripts: &TallyScripts,
    members: &[super::TallyMember<'_>],
    bound: u64,
    forget: Duration,
) -> Result<Vec<u64>, StoreError> {
    if members.is_empty() {
        return Ok(Vec::new());
    }
    let call = tally_call(&scripts.add, members, &[bound.max(1), millis(forget)]);
    Ok(call.invoke_async(conn).await?)
}

pub async fn tally_read<C: ConnectionLike + Send>(
    conn: &mut C,
    scripts: &TallyScripts,
    members: &[super::TallyMember<'_>],
    forget: Duration,
) -> Result<Vec<super::Tallied>, StoreError> {
    if members.is_empty() {
        return Ok(Vec::new());
    }
    let call = tally_call(&scripts.read, members, &[millis(forget)]);
    let flat: Vec<u64> = call.invoke_async(conn).await?;
    Ok(flat
        .chunks(2)
        .map(|pair| super::Tallied {
            count: pair[0],
            since_last: Duration::from_millis(pair.get(1).copied().unwrap_or_default()),
        })
        .collect())
}

pub async fn tally_forget<C: ConnectionLike + Send>(
    conn: &mut C,
    scripts: &TallyScripts,
    members: &[super::TallyMember<'_>],
) -> Result<(), StoreError> {
    if members.is_empty() {
        return Ok(());
    }
    let _: i64 = tally_call(&scripts.forget, members, &[])
        .invoke_async(conn)
        .await?;
    Ok(())
}

/// The release script, built once per store.
/// Replaces a value, keeping its lifetime, while it still starts with the
/// expected bytes. KEYS: the value. ARGV: expected prefix, new value.
const REPLACE_IF_STARTS_WITH: &str = r"
local prefix = ARGV[1]
if #prefix == 0 then return 0 end
if redis.call('GETRANGE', KEYS[1], 0, #prefix - 1) ~= prefix then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
";

pub fn replace_script() -> Script {
    Script::new(REPLACE_IF_STARTS_WITH)
}

/// One key: valid on a cluster. A missing key reads as an empty prefix, which
/// matches no expected one.
pub async fn replace_if_starts_with<C: ConnectionLike + Send>(
    conn: &mut C,
    script: &Script,
    key: &str,
    expected: &[u8],
    value: &[u8],
) -> Result<bool, StoreError> {
    let replaced: i64 = script
        .key(key)
        .arg(expected)
        .arg(value)
        .invoke_async(conn)
        .await?;
    Ok(replaced == 1)
}

pub fn release_lease_script() -> Script {
    Script::new(RELEASE_LEASE)
}

pub async fn get<C: ConnectionLike + Send>(
    conn: &mut C,
    key: &str,
) -> Result<Option<Bytes>, StoreError> {
    let value: Option<Vec<u8>> = redis::cmd("GET").arg(key).query_async(conn).await?;
    Ok(value.map(Bytes::from))
}

/// GETRANGE: only the prefix crosses the connection (at least one byte is
/// asked for). A missing key reads as an empty string, which no stored value is.
pub async fn get_head<C: ConnectionLike + Send>(
    conn: &mut C,
    key: &str,
    max_len: usize,
) -> Result<Option<Bytes>, StoreError> {
    let prefix: Vec<u8> = redis::cmd("GETRANGE")
        .arg(key)
        .arg(0)
        .arg(max_len.saturating_sub(1))
        .query_async(conn)
        .await?;
    Ok((!prefix.is_empty()).then(|| Bytes::from(prefix)))
}

pub async fn set<C: ConnectionLike + Send>(
    conn: &mut C,
    key: &str,
    value: &[u8],
    ttl: Duration,
) -> Result<(), StoreError> {
    let () = redis::cmd("SET")
        .arg(key)
        .arg(value)
        .arg("PX")
        .arg(millis(ttl))
        .query_async(conn)
        .await?;
    Ok(())
}

/// The values of these purge marks (0 for a tag never purged), in order;
/// a cluster client splits the MGET by slot and puts the answers back in order.
pub async fn marks<C: ConnectionLike + Send>(
    conn: &mut C,
    keys: &[String],
) -> Result<Vec<u64>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let values: Vec<Option<u64>> = redis::cmd("MGET").arg(keys).query_async(conn).await?;
    Ok(values.into_iter().map(Option::unwrap_or_default).collect())
}

/// UNLINK of any number of keys (a cluster client splits it by slot).
pub async fn unlink<C: ConnectionLike + Send>(
    conn: &mut C,
    keys: &[String],
) -> Result<u64, StoreError> {
    if keys.is_empty() {
        return Ok(0);
    }
    Ok(redis::cmd("UNLINK").arg(keys).query_async(conn).await?)
}

pub async fn try_lease<C: ConnectionLike + Send>(
    conn: &mut C,
    key: &str,
    token: &str,
    ttl: Duration,
) -> Result<bool, StoreError> {
    let reply: Option<String> = redis::cmd("SET")
        .arg(key)
        .arg(token)
        .arg("NX")
        .arg("PX")
        .arg(millis(ttl))
        .query_async(conn)
        .await?;
    Ok(reply.is_some())
}

pub async fn release_lease<C: ConnectionLike + Send>(
    conn: &mut C,
    script: &Script,
    key: &str,
    token: &str,
) -> Result<(), StoreError> {
    let _: i64 = script.key(key).arg(token).invoke_async(conn).await?;
    Ok(())
}

pub async fn ping<C: ConnectionLike + Send>(conn: &mut C) -> Result<(), StoreError> {
    let reply: String = redis::cmd("PING").query_async(conn).await?;
    if reply == "PONG" {
        Ok(())
    } else {
        Err(StoreError::Protocol(format!("PING answered {reply:?}")))
    }
}

/// The SCAN command of one step over keys matching `pattern`.
pub fn scan_command(cursor: u64, pattern: &str) -> redis::Cmd {
    let mut cmd = redis::cmd("SCAN");
    cmd.arg(cursor)
        .arg("MATCH")
        .arg(pattern)
        .arg("COUNT")
        .arg(SCAN_COUNT);
    cmd
}

/// A whole number of milliseconds, at least 1 (`PX 0` is an error).
pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// SCAN's pattern for every key starting with `prefix`, its glob characters
/// escaped so that the prefix matches only itself.
pub fn prefix_pattern(prefix: &str) -> String {
    let mut escaped = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push('*');
    escaped
}

/// `INFO memory` on the connection's server, read as a [`MemoryLimit`] for
/// `node`. INFO, not `CONFIG GET`: managed Redis services often disable CONFIG.
pub async fn memory_limit<C: ConnectionLike + Send>(
    conn: &mut C,
    node: String,
) -> Result<super::MemoryLimit, StoreError> {
    let info: String = redis::cmd("INFO").arg("memory").query_async(conn).await?;
    memory_limit_of(&info, node)
}

/// The `maxmemory` and `maxmemory_policy` fields of an `INFO memory` reply.
pub fn memory_limit_of(info: &str, node: String) -> Result<super::MemoryLimit, StoreError> {
    let field = |name: &str| {
        info.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    let max_bytes = field("maxmemory")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::Protocol("INFO memory without maxmemory".to_owned()))?;
    let policy = field("maxmemory_policy")
        .ok_or_else(|| StoreError::Protocol("INFO memory without maxmemory_policy".to_owned()))?
        .to_owned();
    Ok(super::MemoryLimit {
        node,
        max_bytes,
        policy,
    })
}

#[cfg(test)]
mod tests {
    use super::{memory_limit_of, prefix_pattern};

    #[test]
    fn maxmemory_and_its_policy_are_read_from_info_memory() {
        let info = "# Memory\r\nused_memory:1024\r\nmaxmemory:67108864\r\n\
                    maxmemory_human:64.00M\r\nmaxmemory_policy:allkeys-lru\r\n";
        let limit = memory_limit_of(info, "r:6379".to_owned()).unwrap();
        assert_eq!(
            (limit.max_bytes, limit.policy.as_str()),
            (67_108_864, "allkeys-lru")
        );
        assert!(memory_limit_of("# Memory\r\n", "r:6379".to_owned()).is_err());
    }

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(prefix_pattern("ns:v1:a*b?[c]"), r"ns:v1:a\*b\?\[c\]*");
    }
}
