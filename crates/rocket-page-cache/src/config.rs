//! `[default.cache]`: every setting of the page cache, with its default.

use std::ops::RangeInclusive;
use std::time::Duration;

use serde::Deserialize;

/// A `[cache]` value that [`CacheConfig::validate`] refuses. Each variant names
/// the key (`cache.url`, `cache.rules[2].grace`, ...) as the operator writes it,
/// and the message says what the key takes.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A number outside the range that keeps it meaningful and bounded.
    #[error(
        "{key}: {}from {} to {}; got {value}",
        if *.zero_is_off { "0 (off) or " } else { "" },
        .range.start(),
        .range.end()
    )]
    OutOfRange {
        key: String,
        value: u64,
        range: RangeInclusive<u64>,
        /// Whether 0, outside `range`, is taken too and turns the feature off.
        zero_is_off: bool,
    },
    /// A URL that is not the kind the key takes; its password is masked in
    /// `shown`. The source is the URL parser's error when it did not parse.
    #[error("{key}: must be {expected}, got {shown:?}")]
    Url {
        key: String,
        expected: &'static str,
        shown: String,
        #[source]
        source: Option<url::ParseError>,
    },
    /// Any other value the key does not take; `reason` says what it takes.
    #[error("{key}: {reason}")]
    Invalid { key: String, reason: String },
}

impl ConfigError {
    /// The key refused, as written in `[cache]`: `cache.url`, `cache.rules[0].ttl`.
    pub fn key(&self) -> &str {
        match self {
            Self::OutOfRange { key, .. } | Self::Url { key, .. } | Self::Invalid { key, .. } => key,
        }
    }

    fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// `raw` refused for `key`, which takes `expected`.
    fn url(key: impl Into<String>, expected: &'static str, raw: &str) -> Self {
        Self::Url {
            key: key.into(),
            expected,
            shown: redact_url(raw),
            source: url::Url::parse(raw).err(),
        }
    }
}

/// Where entries live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// One Redis shared by every instance (the default).
    Redis,
    /// This process only, bounded by bytes: Flask-Caching's `SimpleCache`.
    Memory,
    /// No caching; every request renders.
    None,
}

/// A per-path override, `[[default.cache.rules]]`.
///
/// `path` is a route pattern (`/users/<id>`, `/api/*` for any rest); the first rule
/// that matches a request wins over what the route declared in code.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// The route pattern the rule applies to.
    pub path: String,
    /// Shared lifetime (whole seconds in the config); 0 turns caching off for the path.
    #[serde(default, deserialize_with = "duration_in::some_secs")]
    pub ttl: Option<Duration>,
    /// `max-age` sent to browsers (whole seconds).
    #[serde(default, deserialize_with = "duration_in::some_secs")]
    pub browser_ttl: Option<Duration>,
    /// How long past its lifetime a page is still served while one request
    /// refreshes it (whole seconds).
    #[serde(default, deserialize_with = "duration_in::some_secs")]
    pub grace: Option<Duration>,
    /// How long past its lifetime a page answers for a failed render (whole seconds).
    #[serde(default, deserialize_with = "duration_in::some_secs")]
    pub stale_if_error: Option<Duration>,
    /// Query parameters that are part of the key (others are ignored).
    pub query: Option<Vec<String>>,
    /// Extra tags for pages of this path; `<name>` takes the path parameter.
    pub tags: Option<Vec<String>>,
}

/// `[default.cache.sentinel]`: where the sentinels are and which master of
/// theirs holds the cache.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SentinelConfig {
    /// The name the sentinels monitor the master under (`sentinel monitor NAME ...`).
    pub master: String,
    /// The sentinels, `redis://[:password@]host:port/` (`rediss://` for TLS), each
    /// with its own password if it has one; asked in this order.
    pub nodes: Vec<String>,
}

/// The cache's settings. Durations are whole seconds unless the name says `_ms`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Where pages are kept: one Redis shared by every instance, this process, or nowhere.
    pub backend: BackendKind,
    /// Redis URL (`redis://[:password@]host:port/db`).
    pub url: String,
    /// Seed nodes of a Redis Cluster (`redis://[:password@]host:port/`, `rediss://`
    /// for TLS). When non-empty the `redis` backend talks to the cluster through
    /// these and `url` is not used; the client learns the other nodes itself.
    pub cluster_nodes: Vec<String>,
    /// A master watched by Redis Sentinel: the `redis` backend asks these
    /// sentinels which server is the master and follows it when it fails over.
    /// The master is reached with the user, password, database and TLS of
    /// `url` (whose host and port are then not used).
    pub sentinel: Option<SentinelConfig>,
    /// Prefix of every key this app writes; two apps on one Redis must differ here.
    pub namespace: String,
    /// Part of every key; change it at deploy to start from a clean cache without
    /// touching anything else in Redis. Empty means the deploy id the app gave
    /// [`PageCache::generation`](crate::PageCache::generation), else the engine's version.
    pub generation: String,
    /// Shared lifetime of a page when neither the route nor a rule says otherwise
    /// (Flask-Caching's `CACHE_DEFAULT_TIMEOUT`).
    #[serde(deserialize_with = "duration_in::secs")]
    pub default_ttl: Duration,
    /// `max-age` sent to browsers, apart from the shared lifetime. 0 (the default)
    /// sends `no-cache`: browsers revalidate every visit with the `ETag` (a cheap 304)
    /// and never show a page older than the shared copy.
    #[serde(deserialize_with = "duration_in::secs")]
    pub browser_ttl: Duration,
    /// Shared lifetime of a 404 page; it gets no grace and no stale-if-error.
    #[serde(deserialize_with = "duration_in::secs")]
    pub not_found_ttl: Duration,
    /// Most 404 pages and hit-for-miss markers one instance stores per
    /// `not_found_ttl` window; past it they are served uncached. Their keys come
    /// from paths anyone can invent, so this is what bounds them.
    pub max_negative_entries: u64,
    /// Most rows an entry is filed under one by one (see `reads`); a render that
    /// read more is filed under its tables instead, and any change to those
    /// tables purges it.
    pub max_tags_per_entry: usize,
    /// Budget of one cache operation; past it the request goes on without the cache.
    #[serde(rename = "op_timeout_ms", deserialize_with = "duration_in::millis")]
    pub op_timeout: Duration,
    /// Responses with a larger body are not stored.
    pub max_body_bytes: usize,
    /// Bound of the `memory` backend.
    pub memory_max_bytes: u64,
    /// Bound of each instance's near cache (an in-process copy of hot pages in
    /// front of Redis, kept coherent by Redis's invalidations); 0 turns it off.
    /// Only with the `redis` backend (one server or a cluster).
    pub near_max_bytes: u64,
    /// Longest a page stays in the near cache, whatever its freshness: a
    /// backstop should an invalidation ever be lost without the link noticing.
    #[serde(rename = "near_max_ttl_ms", deserialize_with = "duration_in::millis")]
    pub near_max_ttl: Duration,
    /// How often the near cache's invalidation link is proven with a PING; a
    /// link that does not answer within this flushes the near cache.
    #[serde(rename = "near_heartbeat_ms", deserialize_with = "duration_in::millis")]
    pub near_heartbeat: Duration,
    /// Hosts whose pages may be cached (any port); others are served uncached.
    pub allowed_hosts: Vec<String>,
    /// Cookies whose presence makes a request private (bypasses the shared cache).
    pub private_cookies: Vec<String>,
    /// Per-path overrides.
    pub rules: Vec<RuleConfig>,
    /// How long past the lifetime a stale page is served while one request in
    /// the cluster refreshes it.
    #[serde(deserialize_with = "duration_in::secs")]
    pub grace: Duration,
    /// How long past the lifetime a stale page is served when rendering fails.
    #[serde(deserialize_with = "duration_in::secs")]
    pub stale_if_error: Duration,
    /// Longest a request waits for another instance's render of the same key.
    #[serde(rename = "lock_timeout_ms", deserialize_with = "duration_in::millis")]
    pub lock_timeout: Duration,
    /// Lifetime of the render lease; a holder that dies frees the key after this.
    #[serde(rename = "lease_ms", deserialize_with = "duration_in::millis")]
    pub lease: Duration,
    /// How long an uncacheable answer is remembered so that others skip the
    /// lease wait.
    #[serde(deserialize_with = "duration_in::secs")]
    pub hit_for_miss_ttl: Duration,
    /// Seconds between two sweeps of the tag index (one instance of the
    /// deployment sweeps): tag sets lose the keys of entries that expired or were
    /// evicted, and purge marks older than a render may be go. An entry found
    /// gone is removed from its set at the next sweep, so keep this above a few
    /// seconds.
    #[serde(rename = "index_sweep_secs", deserialize_with = "duration_in::secs")]
    pub index_sweep_every: Duration,
    /// Probabilistic early refresh (`XFetch`) strength; 0 turns it off, 1 is the usual.
    pub early_refresh_beta: f64,
    /// Least seconds between two warnings of the same kind of cache failure.
    #[serde(rename = "warn_interval_secs", deserialize_with = "duration_in::secs")]
    pub warn_interval: Duration,
    /// How the app's writes purge their tags: `false` (hard, the default) removes
    /// the pages so the next request renders the new data; `true` (soft) marks them
    /// stale, so they are served within grace while one request refreshes them.
    pub soft_purge_on_write: bool,
    /// Serve text pages compressed: a render is stored also in the coding
    /// (br or gzip) its requester prefers, a coding a later hit prefers is
    /// compressed once and added to the stored page, and hits are served in
    /// the best coding the request accepts (`Vary: Accept-Encoding`). A page
    /// that only clients accepting no coding ask for is never compressed.
    pub precompress: bool,
    /// Keep the fragments apps ask for (`Cache::fragment`) in the store; `false`
    /// renders each one every time, as if there were no cache.
    pub fragments: bool,
    /// Warm start: the list of the most requested pages, and what a starting
    /// instance renders from it before it reports ready.
    pub warm: WarmConfig,
}

/// `[default.cache.warm]`: the hot pages every instance counts, and how a
/// starting instance of a new generation renders them before it is ready.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct WarmConfig {
    /// Most pages on the shared list of hot pages, and most a starting instance
    /// renders; 0 turns warm start (and the counting) off.
    pub max_pages: u64,
    /// Longest a starting instance warms before it reports ready whatever is left.
    #[serde(rename = "max_secs", deserialize_with = "duration_in::secs")]
    pub max_time: Duration,
    /// One cacheable request in this many is counted (with that weight): the
    /// counting costs the store one small write per this many requests.
    pub sample_every: u64,
}

impl Default for WarmConfig {
    fn default() -> Self {
        Self {
            max_pages: 100,
            max_time: Duration::from_secs(10),
            sample_every: 10,
        }
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            backend: BackendKind::Redis,
            url: "redis://127.0.0.1:6379/".to_owned(),
            cluster_nodes: Vec::new(),
            sentinel: None,
            namespace: "rocket-cache".to_owned(),
            generation: String::new(),
            default_ttl: Duration::from_mins(5),
            browser_ttl: Duration::ZERO,
            not_found_ttl: Duration::from_secs(30),
            max_negative_entries: 500,
            max_tags_per_entry: 256,
            op_timeout: Duration::from_millis(50),
            max_body_bytes: 1024 * 1024,
            memory_max_bytes: 64 * 1024 * 1024,
            near_max_bytes: 64 * 1024 * 1024,
            near_max_ttl: Duration::from_secs(10),
            near_heartbeat: Duration::from_millis(500),
            allowed_hosts: vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
            private_cookies: Vec::new(),
            rules: Vec::new(),
            grace: Duration::from_mins(1),
            stale_if_error: Duration::from_hours(24),
            lock_timeout: Duration::from_secs(2),
            lease: Duration::from_secs(5),
            hit_for_miss_ttl: Duration::from_secs(10),
            index_sweep_every: Duration::from_mins(1),
            early_refresh_beta: 0.0,
            warn_interval: Duration::from_secs(10),
            soft_purge_on_write: false,
            precompress: true,
            fragments: true,
            warm: WarmConfig::default(),
        }
    }
}

impl CacheConfig {
    /// Checks values that serde alone accepts but that make no sense; the error
    /// names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let namespace_ok = !self.namespace.is_empty()
            && self.namespace.len() <= 64
            && self
                .namespace
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !namespace_ok {
            return Err(ConfigError::invalid(
                "cache.namespace",
                format!(
                    "1 to 64 of letters, digits, `-`, `_`, `.`; got {:?}",
                    self.namespace
                ),
            ));
        }
        // Braces are Redis Cluster's hash-tag marks: keep them out of the part of
        // every key this setting spells, so that the engine alone chooses tags.
        if !self
            .generation
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b":{}".contains(&b))
        {
            return Err(ConfigError::invalid(
                "cache.generation",
                "printable characters without `:`, `{`, `}`",
            ));
        }
        self.validate_cluster_nodes()?;
        self.validate_sentinel()?;
        if self.backend == BackendKind::Redis && !self.is_cluster() {
            match url::Url::parse(&self.url) {
                Ok(url) if matches!(url.scheme(), "redis" | "rediss") => {}
                _ => return Err(ConfigError::url("cache.url", "a redis:// URL", &self.url)),
            }
        }
        self.validate_ranges()?;
        if !(0.0..=10.0).contains(&self.early_refresh_beta) {
            return Err(ConfigError::invalid(
                "cache.early_refresh_beta",
                "from 0 (off) to 10",
            ));
        }
        for (i, rule) in self.rules.iter().enumerate() {
            if !rule.path.starts_with('/') {
                return Err(ConfigError::invalid(
                    format!("cache.rules[{i}].path"),
                    "must start with `/`",
                ));
            }
            for (key, value, range) in [
                ("ttl", rule.ttl, bounds::TTL),
                ("browser_ttl", rule.browser_ttl, bounds::TTL),
                ("grace", rule.grace, bounds::GRACE),
                (
                    "stale_if_error",
                    rule.stale_if_error,
                    bounds::STALE_IF_ERROR,
                ),
            ] {
                if let Some(value) = value {
                    bounds::check(&format!("cache.rules[{i}].{key}"), secs_of(value), range)?;
                }
            }
        }
        Ok(())
    }

    /// Every number within the range that keeps it meaningful and bounded: a
    /// lifetime that never ends, a memory bound that bounds nothing, or a
    /// budget of zero is refused, naming the key and its range.
    fn validate_ranges(&self) -> Result<(), ConfigError> {
        let byte_count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        if self.near_max_bytes != 0 && !bounds::NEAR_BYTES.contains(&self.near_max_bytes) {
            return Err(ConfigError::OutOfRange {
                key: "cache.near_max_bytes".to_owned(),
                value: self.near_max_bytes,
                range: bounds::NEAR_BYTES,
                zero_is_off: true,
            });
        }
        for (key, value, range) in [
            ("cache.default_ttl", secs_of(self.default_ttl), bounds::TTL),
            ("cache.browser_ttl", secs_of(self.browser_ttl), bounds::TTL),
            (
                "cache.not_found_ttl",
                secs_of(self.not_found_ttl),
                bounds::NOT_FOUND_TTL,
            ),
            (
                "cache.max_negative_entries",
                self.max_negative_entries,
                bounds::NEGATIVE_ENTRIES,
            ),
            (
                "cache.op_timeout_ms",
                millis_of(self.op_timeout),
                bounds::OP_TIMEOUT_MS,
            ),
            (
                "cache.max_body_bytes",
                byte_count(self.max_body_bytes),
                bounds::BODY_BYTES,
            ),
            (
                "cache.memory_max_bytes",
                self.memory_max_bytes,
                bounds::MEMORY_BYTES,
            ),
            (
                "cache.near_max_ttl_ms",
                millis_of(self.near_max_ttl),
                bounds::NEAR_TTL_MS,
            ),
            (
                "cache.near_heartbeat_ms",
                millis_of(self.near_heartbeat),
                bounds::HEARTBEAT_MS,
            ),
            ("cache.grace", secs_of(self.grace), bounds::GRACE),
            (
                "cache.stale_if_error",
                secs_of(self.stale_if_error),
                bounds::STALE_IF_ERROR,
            ),
            (
                "cache.lock_timeout_ms",
                millis_of(self.lock_timeout),
                bounds::LOCK_TIMEOUT_MS,
            ),
            ("cache.lease_ms", millis_of(self.lease), bounds::LEASE_MS),
            (
                "cache.hit_for_miss_ttl",
                secs_of(self.hit_for_miss_ttl),
                bounds::HIT_FOR_MISS_TTL,
            ),
            (
                "cache.index_sweep_secs",
                secs_of(self.index_sweep_every),
                bounds::INDEX_SWEEP_SECS,
            ),
            (
                "cache.warn_interval_secs",
                secs_of(self.warn_interval),
                bounds::WARN_INTERVAL,
            ),
            (
                "cache.max_tags_per_entry",
                u64::try_from(self.max_tags_per_entry).unwrap_or(u64::MAX),
                bounds::TAGS_PER_ENTRY,
            ),
            (
                "cache.warm.max_pages",
                self.warm.max_pages,
                bounds::WARM_PAGES,
            ),
            (
                "cache.warm.max_secs",
                secs_of(self.warm.max_time),
                bounds::WARM_SECS,
            ),
            (
                "cache.warm.sample_every",
                self.warm.sample_every,
                bounds::WARM_SAMPLE,
            ),
        ] {
            bounds::check(key, value, range)?;
        }
        Ok(())
    }

    /// Each of `cluster_nodes` must be a redis:// or rediss:// URL with a host, and
    /// they only make sense for the `redis` backend.
    fn validate_cluster_nodes(&self) -> Result<(), ConfigError> {
        if self.cluster_nodes.is_empty() {
            return Ok(());
        }
        if self.backend != BackendKind::Redis {
            return Err(ConfigError::invalid(
                "cache.cluster_nodes",
                "only with backend = \"redis\"",
            ));
        }
        for (i, node) in self.cluster_nodes.iter().enumerate() {
            if !is_server_url(node) {
                return Err(ConfigError::url(
                    format!("cache.cluster_nodes[{i}]"),
                    SERVER_URL,
                    node,
                ));
            }
        }
        Ok(())
    }

    /// The sentinel table names a master and one to [`bounds::SENTINELS`]
    /// sentinels by URL, and goes with the `redis` backend on one master only.
    fn validate_sentinel(&self) -> Result<(), ConfigError> {
        let Some(sentinel) = &self.sentinel else {
            return Ok(());
        };
        if self.backend != BackendKind::Redis {
            return Err(ConfigError::invalid(
                "cache.sentinel",
                "only with backend = \"redis\"",
            ));
        }
        if !self.cluster_nodes.is_empty() {
            return Err(ConfigError::invalid(
                "cache.sentinel",
                "not with cache.cluster_nodes (a Redis Cluster fails over by itself); set one \
                 or the other",
            ));
        }
        let name_ok = (1..=bounds::MASTER_NAME_LEN).contains(&sentinel.master.len())
            && sentinel.master.bytes().all(|b| b.is_ascii_graphic());
        if !name_ok {
            return Err(ConfigError::invalid(
                "cache.sentinel.master",
                format!(
                    "the name the sentinels monitor, 1 to {} printable characters without \
                     spaces; got {:?}",
                    bounds::MASTER_NAME_LEN,
                    sentinel.master
                ),
            ));
        }
        if !bounds::SENTINELS.contains(&sentinel.nodes.len()) {
            return Err(ConfigError::invalid(
                "cache.sentinel.nodes",
                format!(
                    "from {} to {} sentinel URLs; got {}",
                    bounds::SENTINELS.start(),
                    bounds::SENTINELS.end(),
                    sentinel.nodes.len()
                ),
            ));
        }
        for (i, node) in sentinel.nodes.iter().enumerate() {
            if !is_server_url(node) {
                return Err(ConfigError::url(
                    format!("cache.sentinel.nodes[{i}]"),
                    SERVER_URL,
                    node,
                ));
            }
        }
        Ok(())
    }

    /// Whether the `redis` backend is a Redis Cluster (`cluster_nodes` set).
    pub fn is_cluster(&self) -> bool {
        self.backend == BackendKind::Redis && !self.cluster_nodes.is_empty()
    }

    /// Whether each instance keeps a near cache in front of the store.
    pub fn near_enabled(&self) -> bool {
        self.backend == BackendKind::Redis && self.near_max_bytes > 0
    }

    /// The key segment that a deploy changes to start clean.
    pub fn generation(&self) -> &str {
        if self.generation.is_empty() {
            env!("CARGO_PKG_VERSION")
        } else {
            &self.generation
        }
    }
}

/// The range of each number in `[cache]` (inclusive), as the README's tables
/// state them.
/// Durations written in the config as whole milliseconds or seconds, as their
/// keys' names say (`lease_ms`, `index_sweep_secs`).
mod duration_in {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn millis<'de, D: Deserializer<'de>>(from: D) -> Result<Duration, D::Error> {
        u64::deserialize(from).map(Duration::from_millis)
    }

    pub fn secs<'de, D: Deserializer<'de>>(from: D) -> Result<Duration, D::Error> {
        u64::deserialize(from).map(Duration::from_secs)
    }

    /// An optional key in whole seconds (a rule's): absent is `None`.
    pub fn some_secs<'de, D: Deserializer<'de>>(from: D) -> Result<Option<Duration>, D::Error> {
        Option::<u64>::deserialize(from).map(|secs| secs.map(Duration::from_secs))
    }
}

/// A duration in whole milliseconds, as its key is range-checked.
fn millis_of(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A duration in whole seconds, as its key is range-checked.
fn secs_of(duration: Duration) -> u64 {
    duration.as_secs()
}

mod bounds {
    use std::ops::RangeInclusive;

    use super::ConfigError;

    const DAY: u64 = 86_400;
    const MIB: u64 = 1024 * 1024;

    /// A page's shared or browser lifetime: up to a week.
    pub const TTL: RangeInclusive<u64> = 0..=7 * DAY;
    pub const NOT_FOUND_TTL: RangeInclusive<u64> = 0..=DAY;
    pub const NEGATIVE_ENTRIES: RangeInclusive<u64> = 0..=1_000_000;
    pub const OP_TIMEOUT_MS: RangeInclusive<u64> = 1..=10_000;
    pub const BODY_BYTES: RangeInclusive<u64> = 1..=64 * MIB;
    pub const MEMORY_BYTES: RangeInclusive<u64> = MIB..=64 * 1024 * MIB;
    /// The near cache: 0 (off), or a bound of 1 MiB to 16 GiB.
    pub const NEAR_BYTES: RangeInclusive<u64> = MIB..=16 * 1024 * MIB;
    pub const NEAR_TTL_MS: RangeInclusive<u64> = 1..=3_600_000;
    pub const HEARTBEAT_MS: RangeInclusive<u64> = 10..=60_000;
    /// Stale pages served while one request refreshes: up to a day.
    pub const GRACE: RangeInclusive<u64> = 0..=DAY;
    /// Stale pages served while rendering fails: up to 30 days.
    pub const STALE_IF_ERROR: RangeInclusive<u64> = 0..=30 * DAY;
    pub const LOCK_TIMEOUT_MS: RangeInclusive<u64> = 0..=60_000;
    pub const LEASE_MS: RangeInclusive<u64> = 1..=600_000;
    pub const HIT_FOR_MISS_TTL: RangeInclusive<u64> = 0..=DAY;
    pub const WARN_INTERVAL: RangeInclusive<u64> = 1..=DAY;
    /// Above the longest a store takes from filing to setting its entry (5 s).
    pub const INDEX_SWEEP_SECS: RangeInclusive<u64> = 10..=DAY;
    /// Sentinels of `cache.sentinel.nodes` (three or more survive one lost).
    pub const SENTINELS: RangeInclusive<usize> = 1..=16;
    /// Length of `cache.sentinel.master`.
    pub const MASTER_NAME_LEN: usize = 128;
    /// Rows an entry is filed under one by one (see `reads`).
    pub const TAGS_PER_ENTRY: RangeInclusive<u64> = 1..=4096;
    /// Hot pages listed and warmed (0: off).
    pub const WARM_PAGES: RangeInclusive<u64> = 0..=10_000;
    /// Longest warm start: up to ten minutes.
    pub const WARM_SECS: RangeInclusive<u64> = 1..=600;
    pub const WARM_SAMPLE: RangeInclusive<u64> = 1..=10_000;

    /// `Err` naming `key` and the range when `value` is outside it.
    pub fn check(key: &str, value: u64, range: RangeInclusive<u64>) -> Result<(), ConfigError> {
        if range.contains(&value) {
            return Ok(());
        }
        Err(ConfigError::OutOfRange {
            key: key.to_owned(),
            value,
            range,
            zero_is_off: false,
        })
    }
}

/// What `cache.cluster_nodes` and `cache.sentinel.nodes` take ([`is_server_url`]).
const SERVER_URL: &str = "a redis:// or rediss:// URL with a host";

/// Whether `raw` is a `redis://` or `rediss://` URL with a host.
fn is_server_url(raw: &str) -> bool {
    url::Url::parse(raw).is_ok_and(|url| {
        matches!(url.scheme(), "redis" | "rediss") && url.host_str().is_some_and(|h| !h.is_empty())
    })
}

/// A URL fit for logs and error messages: its password, if any, is masked.
pub(crate) fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("***"));
            }
            url.to_string()
        }
        Err(_) => "<unparsable url>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_start_numbers_are_range_checked() {
        for (warm, key) in [
            (
                WarmConfig {
                    max_pages: 10_001,
                    ..WarmConfig::default()
                },
                "cache.warm.max_pages: from 0 to 10000",
            ),
            (
                WarmConfig {
                    max_time: Duration::ZERO,
                    ..WarmConfig::default()
                },
                "cache.warm.max_secs: from 1 to 600",
            ),
            (
                WarmConfig {
                    sample_every: 0,
                    ..WarmConfig::default()
                },
                "cache.warm.sample_every: from 1 to 10000",
            ),
        ] {
            let config = CacheConfig {
                warm,
                ..CacheConfig::default()
            };
            assert!(
                config.validate().unwrap_err().to_string().starts_with(key),
                "{key}"
            );
        }
    }

    #[test]
    fn defaults_are_valid() {
        CacheConfig::default().validate().unwrap();
    }

    #[test]
    fn bad_namespace_is_named() {
        let config = CacheConfig {
            namespace: "a b".into(),
            ..CacheConfig::default()
        };
        assert!(config
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("cache.namespace"));
    }

    #[test]
    fn non_redis_url_is_refused_only_for_the_redis_backend() {
        let mut config = CacheConfig {
            url: "http://x".into(),
            ..CacheConfig::default()
        };
        let error = config.validate().unwrap_err();
        assert_eq!(error.key(), "cache.url");
        assert_eq!(
            error.to_string(),
            "cache.url: must be a redis:// URL, got \"http://x/\""
        );
        // It parsed: there is no parser error to keep.
        assert!(std::error::Error::source(&error).is_none());
        config.backend = BackendKind::Memory;
        config.validate().unwrap();
    }

    #[test]
    fn a_url_that_does_not_parse_keeps_the_parsers_error_as_its_source() {
        let config = CacheConfig {
            cluster_nodes: vec!["redis://10.0.0.1:7000/".into(), "10.0.0.2:7000".into()],
            ..CacheConfig::default()
        };
        let error = config.validate().unwrap_err();
        assert_eq!(error.key(), "cache.cluster_nodes[1]");
        let source = std::error::Error::source(&error).expect("the parser's error");
        assert!(source.is::<url::ParseError>(), "{source:?}");
    }

    #[test]
    fn cluster_nodes_are_checked_one_by_one() {
        let mut config = CacheConfig {
            cluster_nodes: vec!["redis://10.0.0.1:7000/".into(), "10.0.0.2:7000".into()],
            ..CacheConfig::default()
        };
        assert!(config
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("cache.cluster_nodes[1]"));
        config.cluster_nodes[1] = "rediss://:secret@10.0.0.2:7000/".into();
        config.validate().unwrap();
        assert!(config.is_cluster());
        config.backend = BackendKind::Memory;
        assert!(config
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("cache.cluster_nodes"));
    }

    /// A change that makes a valid configuration invalid.
    type Spoil = Box<dyn Fn(&mut CacheConfig)>;

    #[test]
    fn a_sentinel_table_is_checked_and_refused_beside_a_cluster() {
        let sentinel = SentinelConfig {
            master: "mymaster".into(),
            nodes: vec![
                "redis://10.0.0.1:26379/".into(),
                "rediss://:secret@10.0.0.2:26379/".into(),
            ],
        };
        let mut config = CacheConfig {
            sentinel: Some(sentinel.clone()),
            ..CacheConfig::default()
        };
        config.validate().unwrap();
        let cases: Vec<(&str, Spoil)> = vec![
            (
                "cache.sentinel: not with cache.cluster_nodes",
                Box::new(|c| c.cluster_nodes = vec!["redis://10.0.0.1:7000/".into()]),
            ),
            (
                "cache.sentinel: only with backend = \"redis\"",
                Box::new(|c| c.backend = BackendKind::Memory),
            ),
            (
                "cache.sentinel.master: the name the sentinels monitor",
                Box::new(|c| c.sentinel.as_mut().unwrap().master = "my master".into()),
            ),
            (
                "cache.sentinel.master: the name the sentinels monitor",
                Box::new(|c| c.sentinel.as_mut().unwrap().master = String::new()),
            ),
            (
                "cache.sentinel.nodes: from 1 to 16 sentinel URLs; got 0",
                Box::new(|c| c.sentinel.as_mut().unwrap().nodes.clear()),
            ),
            (
                "cache.sentinel.nodes: from 1 to 16 sentinel URLs; got 17",
                Box::new(|c| {
                    c.sentinel.as_mut().unwrap().nodes = vec!["redis://s:26379/".into(); 17];
                }),
            ),
            (
                "cache.sentinel.nodes[1]: must be a redis:// or rediss:// URL with a host, got \"http://s:26379/\"",
                Box::new(|c| c.sentinel.as_mut().unwrap().nodes[1] = "http://s:26379/".into()),
            ),
        ];
        for (expected, spoil) in cases {
            let mut spoiled = config.clone();
            spoil(&mut spoiled);
            let error = spoiled.validate().unwrap_err();
            assert!(error.to_string().starts_with(expected), "{error}");
            assert!(expected.starts_with(error.key()), "{error}");
        }
        config.sentinel = Some(sentinel);
        config.validate().unwrap();
    }

    #[test]
    fn numbers_out_of_their_range_are_refused_naming_the_key_and_the_range() {
        let cases: Vec<(&str, CacheConfig)> = vec![
            (
                "cache.stale_if_error: from 0 to 2592000; got 31536000000",
                CacheConfig {
                    stale_if_error: Duration::from_hours(8_760_000),
                    ..CacheConfig::default()
                },
            ),
            (
                "cache.near_max_bytes: 0 (off) or from 1048576 to 17179869184",
                CacheConfig {
                    near_max_bytes: 1_000_000_000_000,
                    ..CacheConfig::default()
                },
            ),
            (
                "cache.default_ttl: from 0 to 604800",
                CacheConfig {
                    default_ttl: Duration::from_secs(604_801),
                    ..CacheConfig::default()
                },
            ),
            (
                "cache.op_timeout_ms: from 1 to 10000",
                CacheConfig {
                    op_timeout: Duration::ZERO,
                    ..CacheConfig::default()
                },
            ),
            (
                "cache.rules[0].grace: from 0 to 86400",
                CacheConfig {
                    rules: vec![RuleConfig {
                        path: "/".into(),
                        ttl: None,
                        browser_ttl: None,
                        grace: Some(Duration::from_secs(86_401)),
                        stale_if_error: None,
                        query: None,
                        tags: None,
                    }],
                    ..CacheConfig::default()
                },
            ),
        ];
        for (expected, config) in cases {
            let error = config.validate().unwrap_err();
            assert!(error.to_string().starts_with(expected), "{error}");
            assert!(matches!(error, ConfigError::OutOfRange { .. }), "{error:?}");
        }
        let near_off = CacheConfig {
            near_max_bytes: 0,
            ..CacheConfig::default()
        };
        near_off.validate().unwrap();
    }

    #[test]
    fn braces_in_the_generation_are_refused() {
        let config = CacheConfig {
            generation: "a{b}".into(),
            ..CacheConfig::default()
        };
        assert!(config
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("cache.generation"));
    }
}
