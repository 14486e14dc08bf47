//! The fleet's cache figures: every app instance adds what its cache did to
//! Redis, so that any instance's admin page can show all of them together.
//! ("Fleet" is the app's instances; "cluster" names Redis Cluster only. The
//! admin page and its JSON keep their `cluster` wording, which clients read.)
//!
//! - A background task (started at liftoff, stopped at shutdown, or when the app
//!   is dropped) adds this instance's new counts about once a second, in one
//!   atomic round trip ([`flush`]); no request ever waits on it.
//! - Counts go to one hash per minute (`<namespace>:stats:m:<unix minute>`, a
//!   field per outcome) that expires after the hour the chart shows; each flush
//!   also marks the instance alive in `<namespace>:stats:instances` (a sorted set
//!   scored by time, trimmed as it is written, expiring when no one writes).
//! - [`window`] reads the last hour back: totals, hit ratio, live instances and
//!   one point per minute, in one round trip.
//!
//! Every key expires, the buckets are a fixed number, and the instance set holds
//! only instances seen in the last minute: nothing a request does adds a key.
//! With the `memory` or `none` backend there is no shared store, so there are no
//! fleet figures (the admin page says so).

mod flush;
pub mod window;

use std::sync::{Arc, Weak};
use std::time::Duration;

use rocket::fairing::{self, Fairing, Info, Kind};
use rocket::{Build, Orbit, Rocket};
use rocket_page_cache::config::BackendKind;
use rocket_page_cache::{Cache, StoreError};

pub use window::{FleetWindow, Minute};

/// How often each instance adds its counts.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// The figures of the fleet, always managed: without a shared store it only
/// says why there are none.
pub struct FleetFigures(Result<Arc<Shared>, Unshared>);

/// Why there are no fleet figures, or why a read or a flush of them failed.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The page cache fairing is not attached.
    #[error("the page cache is not attached")]
    NoCache,
    /// The backend keeps its entries in this process (memory) or nowhere.
    #[error(
        "the {0:?} backend is not shared by the instances; cluster figures need the redis \
         backend"
    )]
    NotShared(BackendKind),
    /// The store did not answer, or not within the budget.
    #[error("the cache store failed: {0}")]
    Store(#[source] StoreError),
}

/// Why [`FleetFigures`] has no shared store.
#[derive(Debug, Clone, Copy)]
enum Unshared {
    NoCache,
    Backend(BackendKind),
}

impl From<Unshared> for FleetError {
    fn from(unshared: Unshared) -> Self {
        match unshared {
            Unshared::NoCache => Self::NoCache,
            Unshared::Backend(kind) => Self::NotShared(kind),
        }
    }
}

/// What the flush task and the admin page share.
struct Shared {
    cache: Cache,
    /// This process in the instance set: random, new at each start.
    instance: String,
    /// The totals already added to Redis, so each flush adds only what came since.
    flushed: tokio::sync::Mutex<flush::Totals>,
}

impl FleetFigures {
    /// The figures kept through `cache`'s store: one Redis or a Redis Cluster.
    fn new(cache: &Cache) -> Self {
        let config = cache.config();
        if config.backend != BackendKind::Redis {
            return Self(Err(Unshared::Backend(config.backend)));
        }
        Self(Ok(Arc::new(Shared {
            cache: cache.clone(),
            instance: format!("{:016x}", rand::random::<u64>()),
            flushed: tokio::sync::Mutex::default(),
        })))
    }

    /// The last hour of the whole fleet, read from Redis within the budget; `Err`
    /// says why there is none.
    pub async fn last_hour(&self) -> Result<FleetWindow, FleetError> {
        let shared = self
            .0
            .as_ref()
            .map_err(|unshared| FleetError::from(*unshared))?;
        window::read(&shared.cache, window::now_secs())
            .await
            .map_err(FleetError::Store)
    }

    /// Adds this instance's counts since the last flush now (the task does it
    /// every second).
    pub async fn flush(&self) -> Result<(), FleetError> {
        match &self.0 {
            Ok(shared) => shared.flush().await,
            Err(_) => Ok(()),
        }
    }
}

impl Shared {
    async fn flush(&self) -> Result<(), FleetError> {
        let mut flushed = self.flushed.lock().await;
        let now = flush::Totals::of(&self.cache);
        let new_counts = now.since(&flushed);
        self.cache
            .fleet_add(&self.instance, &new_counts.pairs(), window::now_secs())
            .await
            .map_err(FleetError::Store)?;
        // Only what reached Redis counts as added: a failed flush is retried
        // with the next one's counts. (A flush that timed out after Redis had
        // applied it is added again: rare, and it can only over-count.)
        *flushed = now;
        Ok(())
    }
}

/// Starts and stops the flush task; attach it after the page cache.
pub struct FleetFiguresFairing;

#[rocket::async_trait]
impl Fairing for FleetFiguresFairing {
    fn info(&self) -> Info {
        Info {
            name: "Fleet figures",
            kind: Kind::Ignite | Kind::Liftoff | Kind::Shutdown,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> fairing::Result {
        let Some(cache) = rocket.state::<Cache>().cloned() else {
            return Ok(rocket.manage(FleetFigures(Err(Unshared::NoCache))));
        };
        Ok(rocket.manage(FleetFigures::new(&cache)))
    }

    async fn on_liftoff(&self, rocket: &Rocket<Orbit>) {
        if let Some(FleetFigures(Ok(shared))) = rocket.state::<FleetFigures>() {
            tokio::spawn(run(Arc::downgrade(shared), rocket.shutdown()));
        }
    }

    async fn on_shutdown(&self, rocket: &Rocket<Orbit>) {
        // The last second's counts, so that a rolling deploy loses nothing.
        if let Some(figures) = rocket.state::<FleetFigures>() {
            if let Err(e) = figures.flush().await {
                rocket::warn!("fleet figures: the last flush failed: {e}");
            }
        }
    }
}

/// Flushes every [`FLUSH_EVERY`] until shutdown, or until the app is gone (a
/// dropped test client never signals shutdown). A failure is logged once until
/// a flush succeeds again, and retried with the next flush.
async fn run(shared: Weak<Shared>, shutdown: rocket::Shutdown) {
    let mut shutdown = std::pin::pin!(shutdown);
    let mut ticks = tokio::time::interval(FLUSH_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = ticks.tick() => {}
        }
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let flushed = shared.flush().await;
        match (&flushed, failing) {
            (Ok(()), true) => rocket::info!("fleet figures: flushing again"),
            (Err(e), false) => {
                rocket::warn!("fleet figures: flush failed, retrying each second: {e}");
            }
            _ => {}
        }
        failing = flushed.is_err();
    }
}
