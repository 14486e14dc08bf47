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
use rocket_page_cache::Cache;

pub use window::{FleetWindow, Minute};

/// How often each instance adds its counts.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// The figures of the fleet, always managed: without a shared store it only
/// says why there are none.
pub struct FleetFigures(Result<Arc<Shared>, String>);

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
            return Self::none(format!(
                "the {:?} backend is not shared by the instances; cluster figures need \
                 the redis backend",
                config.backend
            ));
        }
        Self(Ok(Arc::new(Shared {
            cache: cache.clone(),
            instance: format!("{:016x}", rand::random::<u64>()),
            flushed: tokio::sync::Mutex::default(),
        })))
    }

    fn none(reason: String) -> Self {
        Self(Err(reason))
    }

    /// The last hour of the whole fleet, read from Redis within the budget; `Err`
    /// says why there is none.
    pub async fn last_hour(&self) -> Result<FleetWindow, String> {
        let shared = self.0.as_ref().map_err(Clone::clone)?;
        window::read(&shared.cache, window::now_secs())
            .await
            .map_err(|e| format!("the cache store failed: {e}"))
    }

    /// Adds this instance's counts since the last flush now (the task does it
    /// every second).
    pub async fn flush(&self) -> Result<(), String> {
        match &self.0 {
            Ok(shared) => shared.flush().await,
            Err(_) => Ok(()),
        }
    }
}

impl Shared {
    async fn flush(&self) -> Result<(), String> {
        let mut flushed = self.flushed.lock().await;
        let now = flush::Totals::of(&self.cache);
        let new_counts = now.since(&flushed);
        self.cache
            .fleet_add(&self.instance, &new_counts.pairs(), window::now_secs())
            .await
            .map_err(|e| e.to_string())?;
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
            let none = FleetFigures::none("the page cache is not attached".to_owned());
            return Ok(rocket.manage(none));
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
