//! [`Cache`]: the clonable handle on the engine, managed by Rocket.
//!
//! - here: building it, what it holds (the store, the near cache, the counters,
//!   the [`Clock`] every freshness decision reads) and its public calls
//!   (purges, usage, health);
//! - `gateway`: every store call, inside its time budget and a circuit breaker;
//! - `memo`: values other than pages (`get_or_compute*`).

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::breaker::{Breaker, Breakers};
use super::budget::WindowBudget;
use super::build_error::BuildError;
use super::clock::Clock;
use super::coding_jobs::CodingJobs;
use super::config::{BackendKind, CacheConfig};
use super::counters::{Stats, StatsSnapshot, WarnLimiter};
use super::entry::{stale_patch, Entry};
use super::flight::Flights;
use super::key::{bounded_tag, key_base, normalise_request_path};
use super::near::link::{self, LinkSettings};
use super::near::{NearCache, NearRead};
use super::policy::{Policies, RoutePolicy};
use super::reads::{self, Change};
use super::route_stats::{Outcome, RouteId, RouteStats, RouteStatsSnapshot};
use super::store::{self, MemoryLimit, StalePatch, Store, StoreError, Usage};
use super::warm::WarmState;

mod gateway;
mod memo;

pub(crate) use gateway::within;
pub(crate) use memo::{Recorded, RecordedStore};

/// The cache as the app and the fairing see it, managed by the fairing
/// (`&State<Cache>`). Cloning is cheap: every clone shares one store, one set of
/// flights and one set of counters, and every method takes `&self`, so any
/// number of tasks may call it at once.
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

struct Inner {
    config: CacheConfig,
    policies: Policies,
    store: Arc<dyn Store>,
    /// `namespace:` — everything this app writes starts with it.
    namespace_prefix: String,
    /// `namespace:v1:generation:` — every page and memo key of this deploy.
    key_base: String,
    flights: Arc<Flights>,
    stats: Stats,
    /// Per route policy: outcomes and render times.
    route_stats: RouteStats,
    warnings: WarnLimiter,
    breakers: Breakers,
    /// Bounds 404 pages and hit-for-miss markers (keys anyone can invent).
    negative_budget: WindowBudget,
    clock: Clock,
    /// This instance's L1 in front of the store, when configured.
    near: Option<Arc<NearCache>>,
    /// The task that keeps `near` coherent, once started.
    near_link: TaskSlot,
    /// Warm start: whether this instance is warming, and its hot-page sampling.
    warm: WarmState,
    /// The task that sweeps the tag index, once started (shared stores only).
    index_sweep: TaskSlot,
    /// Codings added to stored pages on their first demand.
    coding_jobs: CodingJobs,
}

/// Where a background task of the cache is kept: starting one stops the one
/// before it, and stopping leaves none.
#[derive(Default)]
struct TaskSlot(std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>);

impl TaskSlot {
    fn start(&self, task: tokio::task::JoinHandle<()>) {
        if let Some(old) = self.lock().replace(task) {
            old.abort();
        }
    }

    fn stop(&self) {
        if let Some(task) = self.lock().take() {
            task.abort();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<tokio::task::JoinHandle<()>>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Why the store could not be used for an operation. The request goes on
/// without the cache; the failure was already counted and logged.
#[derive(Debug, thiserror::Error)]
pub enum CacheUnavailable {
    /// The store did not answer within `op_timeout_ms`.
    #[error("the cache store did not answer within {0:?}")]
    Timeout(Duration),
    /// The store answered with an error (connection refused, protocol, pool).
    #[error("the cache store failed: {0}")]
    Store(StoreError),
    /// The store failed repeatedly and is skipped for a moment.
    #[error("the cache store is skipped after repeated failures")]
    Skipped,
    /// The backend lives in this process (`memory`) or nowhere (`none`): it
    /// cannot count anything for the other instances.
    #[error("the cache backend is not shared by the instances")]
    NotShared,
}

impl From<StoreError> for CacheUnavailable {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Timeout(budget) => Self::Timeout(budget),
            other => Self::Store(other),
        }
    }
}

/// What `/health/ready` says of the cache.
#[derive(Debug, Clone, Serialize)]
pub struct CacheHealth {
    /// `up`, `degraded` (unreachable: pages are served uncached) or `disabled`.
    pub status: &'static str,
    /// The store's name: `redis`, `redis-sentinel`, `redis-cluster`, `memory`
    /// or `none`.
    pub backend: &'static str,
    /// `cache.namespace`.
    pub namespace: String,
    /// Why the store did not answer, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The tag every page of a path is filed under, so that a path can be purged
/// whatever its host, query or hashed key.
pub(crate) fn path_tag(path: &str) -> String {
    bounded_tag(format!("path:{path}"))
}

impl Cache {
    /// Builds the store named by `config.backend`, reading the time from `clock`;
    /// nothing is dialled yet.
    pub(crate) fn with_clock(
        config: CacheConfig,
        routes: Vec<RoutePolicy>,
        clock: Clock,
    ) -> Result<Self, BuildError> {
        config.validate()?;
        let namespace_prefix = format!("{}:", config.namespace);
        let (store, breakers) = store::build(&config, &namespace_prefix)?;
        let near = config
            .near_enabled()
            .then(|| Arc::new(NearCache::new(config.near_max_bytes, config.near_max_ttl)));
        let policies = Policies::new(routes, &config);
        Ok(Self {
            inner: Arc::new(Inner {
                near,
                near_link: TaskSlot::default(),
                warm: WarmState::default(),
                index_sweep: TaskSlot::default(),
                coding_jobs: CodingJobs::default(),
                route_stats: RouteStats::new(policies.route_labels()),
                policies,
                key_base: key_base(&config.namespace, config.generation()),
                warnings: WarnLimiter::new(config.warn_interval),
                negative_budget: WindowBudget::new(
                    config.max_negative_entries,
                    config.not_found_ttl.max(Duration::from_secs(1)),
                ),
                config,
                store,
                namespace_prefix,
                flights: Arc::new(Flights::default()),
                stats: Stats::default(),
                breakers,
                clock,
            }),
        })
    }

    /// The configuration it was built with (figment and builder merged).
    pub fn config(&self) -> &CacheConfig {
        &self.inner.config
    }

    /// Now, in Unix milliseconds, by the handle's clock: the time every
    /// freshness, grace and age decision is made at.
    pub(crate) fn now_ms(&self) -> u64 {
        self.inner.clock.now_ms()
    }

    pub(crate) fn warm_state(&self) -> &WarmState {
        &self.inner.warm
    }

    pub(crate) fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    /// `namespace:`, the start of every key this app writes.
    pub(crate) fn namespace_prefix(&self) -> &str {
        &self.inner.namespace_prefix
    }

    pub(crate) fn policies(&self) -> &Policies {
        &self.inner.policies
    }

    pub(crate) fn flights(&self) -> &Arc<Flights> {
        &self.inner.flights
    }

    pub(crate) fn stats(&self) -> &Stats {
        &self.inner.stats
    }

    /// Counters since start, each read on its own: under load the figures of one
    /// snapshot may be a few requests apart.
    pub fn stats_snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            near_bytes: self.inner.near.as_ref().map_or(0, |n| n.weighted_bytes()),
            ..self.inner.stats.snapshot()
        }
    }

    /// Starts the link that keeps the near cache coherent (when there is one);
    /// until it has tracking on, the near cache serves nothing.
    pub(crate) fn start_near_link(&self) {
        let Some(near) = &self.inner.near else {
            return;
        };
        let settings = LinkSettings {
            url: self.inner.config.url.clone(),
            cluster_nodes: self.inner.config.cluster_nodes.clone(),
            sentinel: self.inner.config.sentinel.clone(),
            prefix: self.inner.key_base.clone(),
            heartbeat: self.inner.config.near_heartbeat,
        };
        self.inner
            .near_link
            .start(link::spawn(Arc::clone(near), settings));
    }

    /// Starts the tag index sweep (see `index_sweep`) on a store shared by the
    /// instances; the in-process store prunes its own index.
    pub(crate) fn start_index_sweep(&self) {
        if self.shared_store().is_err() {
            return;
        }
        self.inner
            .index_sweep
            .start(tokio::spawn(crate::index_sweep::run(self.clone())));
    }

    /// Stops the index sweep, if it runs.
    pub(crate) fn stop_index_sweep(&self) {
        self.inner.index_sweep.stop();
    }

    /// Logs a background task's store failure (rate-limited, as the others).
    pub(crate) fn warn_store_error(&self, what: &str, e: &StoreError) {
        self.inner.warnings.warn(|| format!("{what} failed: {e}"));
    }

    /// Counts what an index sweep removed.
    pub(crate) fn count_index_sweep(&self, report: &crate::index_sweep::SweepReport) {
        let stats = &self.inner.stats;
        stats
            .index_members_pruned
            .fetch_add(report.members_removed, std::sync::atomic::Ordering::Relaxed);
        stats
            .index_marks_dropped
            .fetch_add(report.marks_dropped, std::sync::atomic::Ordering::Relaxed);
    }

    /// Stops the link; the near cache is flushed and serves nothing after.
    pub(crate) fn stop_near_link(&self) {
        self.inner.near_link.stop();
        if let Some(near) = &self.inner.near {
            near.link_lost();
        }
    }

    /// The fresh page this instance keeps near under `key`, if any.
    pub(crate) fn near_lookup(&self, key: &str) -> Option<Arc<Entry>> {
        self.inner.near.as_ref()?.get(key)
    }

    /// The near cache's part in reading a decoded value at `full_key` from the
    /// store (see [`NearRead`]); none without a near cache, with the cache off,
    /// or when the caller does not `use_store`. Its life in the store is not
    /// known here: it is kept at most `ttl` (and the near cache's cap).
    pub(crate) fn near_read<'a, T: std::any::Any + Send + Sync>(
        &'a self,
        full_key: &'a str,
        ttl: Duration,
        use_store: bool,
    ) -> NearRead<'a, T> {
        match self.inner.near.as_deref() {
            Some(near) if use_store && self.enabled() => near.read_value(full_key, ttl),
            _ => NearRead::Fetch(None),
        }
    }

    /// Whether the near cache is on and trusted now (for tests and health).
    pub fn near_serving(&self) -> bool {
        self.inner.near.as_ref().is_some_and(|n| n.is_serving())
    }

    /// After a purge or delete made here: nothing kept near may outlive it, even
    /// before Redis's invalidations arrive (a writer reads its own writes).
    fn flush_near(&self) {
        if let Some(near) = &self.inner.near {
            near.flush();
        }
    }

    /// Counts one answered request under its route policy and in the totals,
    /// from the one outcome the fairing decided on, so the two always agree.
    pub(crate) fn count_request(&self, route: RouteId, outcome: Outcome) {
        self.inner.route_stats.count(route, outcome);
        let stats = &self.inner.stats;
        Stats::bump(match outcome {
            Outcome::Hit => &stats.hits,
            Outcome::NearHit => &stats.near_hits,
            Outcome::Stale => &stats.stale,
            Outcome::Miss => &stats.misses,
            Outcome::Bypass => &stats.bypasses,
        });
    }

    pub(crate) fn route_stats(&self) -> &RouteStats {
        &self.inner.route_stats
    }

    /// Per route policy (labelled by its declared pattern, so the list is as long
    /// as the policies, whatever is requested): requests by outcome and render
    /// times since start. Figures are read one by one, like
    /// [`stats_snapshot`](Self::stats_snapshot).
    pub fn route_stats_snapshot(&self) -> Vec<RouteStatsSnapshot> {
        self.inner.route_stats.snapshot()
    }

    /// Whether a circuit breaker is open: the store, or on a cluster part of its
    /// slots, failed repeatedly and has not answered since, so requests skip it
    /// (one probes now and then).
    pub fn breaker_open(&self) -> bool {
        self.inner.breakers.any_open()
    }

    /// `namespace:v1:generation:`, the start of this deploy's page keys.
    pub fn key_base(&self) -> &str {
        &self.inner.key_base
    }

    /// Whether a store exists at all (`backend = "none"` has none).
    pub(crate) fn enabled(&self) -> bool {
        self.inner.config.backend != BackendKind::None
    }

    /// Whether one more 404 page or hit-for-miss marker may be stored now.
    pub(crate) fn admit_negative(&self) -> bool {
        self.inner.negative_budget.admit(self.now_ms())
    }

    /// Whether the store may be tried now for `key` (its breaker is closed or
    /// probing).
    pub(crate) fn store_allowed_for(&self, key: &str) -> bool {
        self.inner.breakers.for_key(key).allows()
    }

    /// The breaker of the part of the store that holds `key`.
    pub(crate) fn breaker_for(&self, key: &str) -> &Breaker {
        self.inner.breakers.for_key(key)
    }

    /// `Ok` when the store is one every instance shares (Redis: one server, a
    /// cluster or the master Sentinel names), else [`CacheUnavailable::NotShared`].
    pub(crate) fn shared_store(&self) -> Result<(), CacheUnavailable> {
        if self.inner.config.backend == BackendKind::Redis {
            Ok(())
        } else {
            Err(CacheUnavailable::NotShared)
        }
    }

    /// Purges what these committed changes, made by this instance, touched (see
    /// [`Change`]), on every instance at once; hard unless `soft`. Returns how
    /// many entries it touched. This instance's near copies go at once, so the
    /// writer reads its own write.
    pub async fn purge_changes(&self, changes: &[Change], soft: bool) -> Result<u64, StoreError> {
        let purged = self.purge_tags(&reads::tags_of(changes), soft).await?;
        Stats::bump(&self.inner.stats.purges_by_writer);
        Ok(purged)
    }

    /// Purges what these committed changes, read from the database's log,
    /// touched: always hard (whoever wrote expects to see it). Near copies go by
    /// the store's own invalidations, on this instance as on the others.
    pub async fn purge_logged_changes(&self, changes: &[Change]) -> Result<u64, StoreError> {
        let purged = self.remove_tagged(&reads::tags_of(changes), None).await?;
        Stats::bump(&self.inner.stats.purges_from_log);
        Ok(purged)
    }

    /// Removes (or, `soft`, marks stale) every page and memo filed under `tags`, on
    /// every instance at once; returns how many entries it touched. A render that
    /// read its data before the purge is refused when it comes to store (or, on
    /// a cluster, takes its page back right after storing it), so concurrent
    /// renders cannot bring old pages back.
    pub async fn purge_tags(&self, tags: &[String], soft: bool) -> Result<u64, StoreError> {
        let patch = soft.then(|| stale_patch(self.now_ms()));
        let purged = self.remove_tagged(tags, patch.as_ref()).await;
        self.flush_near();
        purged
    }

    /// The store's purge of `tags`, within the purge budget.
    async fn remove_tagged(
        &self,
        tags: &[String],
        patch: Option<&StalePatch>,
    ) -> Result<u64, StoreError> {
        let budget = self.inner.config.op_timeout * 20;
        let tags: Vec<String> = tags.iter().cloned().map(bounded_tag).collect();
        within(budget, self.inner.store.purge_tags(&tags, patch)).await
    }

    /// Purges every page of a path (all hosts and queries). `path` is as a client
    /// sends it (percent-encoded, any query ignored); one that cannot be a request
    /// path has no pages, so nothing is purged.
    pub async fn purge_path(&self, path: &str, soft: bool) -> Result<u64, StoreError> {
        match normalise_request_path(path) {
            Some(path) => self.purge_tags(&[path_tag(&path)], soft).await,
            None => Ok(0),
        }
    }

    /// Deletes one key (a full key, as `key_base()` starts it); returns 1 if it
    /// existed. A render in flight for that key may store it again.
    pub async fn delete_key(&self, key: &str) -> Result<u64, StoreError> {
        let deleted = self.inner.store.delete(&[key.to_owned()]).await;
        self.flush_near();
        deleted
    }

    /// Deletes everything under this app's namespace (SCAN + UNLINK), returning
    /// how many keys went. Not atomic: what is stored while it walks may stay;
    /// tag generations are kept, so no render from before it can store after it.
    pub async fn clear_all(&self) -> Result<u64, StoreError> {
        let cleared = self
            .inner
            .store
            .clear_prefix(&self.inner.namespace_prefix)
            .await;
        self.flush_near();
        cleared
    }

    /// Keys and bytes under the namespace, visiting at most `limit` keys; an
    /// estimate while others write.
    pub async fn usage(&self, limit: u64) -> Result<Usage, StoreError> {
        self.inner
            .store
            .usage(&self.inner.namespace_prefix, limit)
            .await
    }

    /// How each Redis server behind the store bounds its memory (`maxmemory`,
    /// `maxmemory-policy`; every master of a cluster), within a second; empty for
    /// the in-process backends. What the engine logs at start comes from this.
    pub async fn memory_limits(&self) -> Result<Vec<MemoryLimit>, StoreError> {
        if !self.enabled() {
            return Ok(Vec::new());
        }
        let budget = self.inner.config.op_timeout.max(Duration::from_secs(1));
        within(budget, self.inner.store.memory_limits()).await
    }

    /// Opens the store's connection before the first request (so that the first
    /// lookup is not spent dialling), waiting up to a second. A store that is
    /// down is only reported: pages are served without it until it is back.
    pub(crate) async fn warm_up(&self) {
        if !self.enabled() {
            return;
        }
        let budget = self.inner.config.op_timeout.max(Duration::from_secs(1));
        if let Err(e) = within(budget, self.inner.store.ping()).await {
            rocket::warn!(
                "page cache: store not reachable at start ({e}); serving uncached until it is"
            );
        }
    }

    /// Whether the store answers, for health checks, within `op_timeout_ms`.
    pub async fn health(&self) -> CacheHealth {
        let config = &self.inner.config;
        let (status, error) = if config.backend == BackendKind::None {
            ("disabled", None)
        } else {
            match within(config.op_timeout, self.inner.store.ping()).await {
                Ok(()) => ("up", None),
                Err(e) => ("degraded", Some(e.to_string())),
            }
        };
        CacheHealth {
            status,
            backend: self.inner.store.name(),
            namespace: config.namespace.clone(),
            error,
        }
    }
}
