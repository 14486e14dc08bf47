//! The follower's tasks: one instance of the deployment holds the lease and
//! reads the binlog; the others wait to take over.
//!
//! - The supervisor takes the lease when it is free and renews it every third
//!   of `binlog_takeover_ms`; while it holds it, a follow task reads the log.
//!   When the lease is lost (another instance holds it), the follow task is
//!   stopped: a reader cannot be stopped cleanly in the middle of a read, so it
//!   is dropped, and the next holder starts again from the saved position.
//! - The follow task purges each committed transaction's changes, retrying
//!   until the purge succeeds (a Redis that is down or slow delays purges,
//!   never loses them), then saves the transaction's end as the position; so a
//!   position is saved only once everything before it was purged.
//! - Without a saved position, or with one the server no longer has, changes
//!   may have been missed: every followed table is purged whole and reading
//!   starts at the end of the log.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rocket_page_cache::{Cache, Change, Singleton};
use tokio::task::JoinHandle;

use super::changes;
use super::status::FollowerStatus;
use crate::db::binlog::{BinlogError, BinlogPosition, BinlogReader, TableFilter};
use crate::db::replicas::GtidPosition;
use crate::db::{tables, Db};
use crate::purged_position;

/// What the follower needs to know, from `databases.main`.
#[derive(Clone)]
pub struct Settings {
    pub url: String,
    pub database: String,
    pub server_id: u32,
    pub takeover: Duration,
    /// The tables not followed.
    pub ignored: Vec<String>,
}

impl Settings {
    fn filter(&self) -> TableFilter {
        TableFilter::all_except(self.ignored.iter().cloned())
    }
}

/// Shortest and longest pause before a failed step is tried again.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MOST: Duration = Duration::from_secs(2);

/// Least time between two warnings of one retry loop: an outage of MySQL or
/// Redis writes a line now and then, not one per retry.
const WARN_EVERY: Duration = Duration::from_secs(30);

/// A retry loop's pauses, which double from [`RETRY_FIRST`] up to
/// [`RETRY_MOST`], and its warnings, rate-limited.
struct Backoff {
    pause: Duration,
    warned: Option<Instant>,
    left_out: u64,
}

impl Backoff {
    fn new() -> Self {
        Self {
            pause: RETRY_FIRST,
            warned: None,
            left_out: 0,
        }
    }

    async fn wait(&mut self) {
        tokio::time::sleep(self.pause).await;
        self.pause = (self.pause * 2).min(RETRY_MOST);
    }

    /// Logs a failure: the first at once, then at most one line every
    /// [`WARN_EVERY`], saying how many were left out.
    fn warn(&mut self, message: impl FnOnce() -> String) {
        if self.warned.is_some_and(|at| at.elapsed() < WARN_EVERY) {
            self.left_out += 1;
            return;
        }
        let left_out = std::mem::take(&mut self.left_out);
        if left_out > 0 {
            rocket::warn!(
                "binlog follower: {} ({left_out} more since the last line)",
                message()
            );
        } else {
            rocket::warn!("binlog follower: {}", message());
        }
        self.warned = Some(Instant::now());
    }
}

/// A task that is aborted when this handle is dropped: the app's managed
/// state holds the supervisor so, and the supervisor its follow task, so that
/// an app that is dropped (a test's instance) stops following without giving
/// the lease up, as a process that died would.
pub struct AbortOnDrop(pub JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The whole follower of one instance: runs until aborted.
pub async fn supervise(
    settings: Settings,
    db: Db,
    cache: Cache,
    singleton: Singleton,
    status: Arc<FollowerStatus>,
) {
    let renew_every = settings.takeover / 3;
    loop {
        if !matches!(
            singleton.hold(status.token(), settings.takeover).await,
            Ok(true)
        ) {
            tokio::time::sleep(renew_every).await;
            continue;
        }
        rocket::info!(
            "binlog follower: this instance follows ({})",
            status.token()
        );
        status.set_holding(true);
        let follow = AbortOnDrop(tokio::spawn(follow_while_held(
            settings.clone(),
            db.clone(),
            cache.clone(),
            singleton.clone(),
            Arc::clone(&status),
        )));
        keep_lease(&settings, &singleton, status.token(), follow).await;
        status.set_holding(false);
    }
}

/// Renews the lease while `follow` runs; stops `follow` when another instance
/// holds the lease. A renewal that fails (the store does not answer) is not a
/// loss: nobody else can take the lease from a store nobody reaches.
async fn keep_lease(
    settings: &Settings,
    singleton: &Singleton,
    token: &str,
    mut follow: AbortOnDrop,
) {
    let mut tick = tokio::time::interval(settings.takeover / 3);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = &mut follow.0 => return,
            _ = tick.tick() => {}
        }
        if let Ok(false) = singleton.hold(token, settings.takeover).await {
            rocket::warn!("binlog follower: another instance holds the lease now; stopping here");
            return;
        }
    }
}

/// Reads and purges until the lease is lost (the task is aborted); a failure
/// of the reader is logged, and reading starts again from the saved position.
async fn follow_while_held(
    settings: Settings,
    db: Db,
    cache: Cache,
    singleton: Singleton,
    status: Arc<FollowerStatus>,
) {
    let mut backoff = Backoff::new();
    loop {
        let failure = follow_once(&settings, &db, &cache, &singleton, &status).await;
        let message = failure.to_string();
        backoff.warn(|| format!("{message}; reading again from the saved position"));
        status.failed(message);
        if matches!(failure, FollowError::LeaseLost) {
            return;
        }
        backoff.wait().await;
    }
}

/// Why reading stopped.
#[derive(Debug, thiserror::Error)]
enum FollowError {
    #[error(transparent)]
    Binlog(#[from] BinlogError),
    #[error("the lease went to another instance")]
    LeaseLost,
}

/// One reader's life: from the saved position (or the end, after purging
/// everything followed) until it fails.
async fn follow_once(
    settings: &Settings,
    db: &Db,
    cache: &Cache,
    singleton: &Singleton,
    status: &FollowerStatus,
) -> FollowError {
    let started = match saved_position(singleton).await {
        None => start_at_end(settings, db, cache, singleton, status, "no saved position").await,
        Some(saved) => match connect(settings, Some(saved.clone())).await {
            Err(BinlogError::PositionLost { reason, .. }) => {
                let why = format!("the saved position {saved} is gone ({reason})");
                start_at_end(settings, db, cache, singleton, status, &why).await
            }
            connected => connected.map_err(FollowError::from),
        },
    };
    let mut reader = match started {
        Ok(reader) => reader,
        Err(e) => return e,
    };
    loop {
        let transaction = match reader.next().await {
            Ok(transaction) => transaction,
            Err(e) => return e.into(),
        };
        let changes = changes::of_transaction(&transaction);
        if !changes.is_empty() {
            let written = transaction.end.gtid().and_then(|gtid| gtid.parse().ok());
            record_purge(db, cache, written.as_ref()).await;
        }
        purge(cache, &changes).await;
        let end = transaction.end.to_string();
        if let Err(e) = save(singleton, status, &end).await {
            return e;
        }
        status.purged(end, transaction.committed_at_unix);
    }
}

/// The position saved by the last holder, if it reads as one.
async fn saved_position(singleton: &Singleton) -> Option<BinlogPosition> {
    let mut backoff = Backoff::new();
    loop {
        match singleton.state().await {
            Ok(state) => return state.and_then(|s| s.parse().ok()),
            Err(e) => {
                backoff.warn(|| format!("cannot read the saved position ({e}); retrying"));
                backoff.wait().await;
            }
        }
    }
}

/// A reader from `start`, or from the end of the log.
async fn connect(
    settings: &Settings,
    start: Option<BinlogPosition>,
) -> Result<BinlogReader, BinlogError> {
    BinlogReader::connect(
        &settings.url,
        settings.server_id,
        &settings.database,
        settings.filter(),
        start,
    )
    .await
}

/// Connects at the end of the log, then purges every followed table and saves
/// that end: whatever happened before it is purged, whatever after, read.
async fn start_at_end(
    settings: &Settings,
    db: &Db,
    cache: &Cache,
    singleton: &Singleton,
    status: &FollowerStatus,
    reason: &str,
) -> Result<BinlogReader, FollowError> {
    let reader = connect(settings, None).await?;
    let filter = settings.filter();
    let tables: Vec<String> = followed_tables(db)
        .await?
        .into_iter()
        .filter(|table| filter.follows(table))
        .collect();
    rocket::warn!(
        "binlog follower: {reason}; purging every followed table ({}) and reading from the end",
        tables.join(", ")
    );
    record_purge(db, cache, None).await;
    purge(cache, &changes::whole_tables(&tables)).await;
    let end = reader.position().to_string();
    save(singleton, status, &end).await?;
    status.started_at(end);
    Ok(reader)
}

/// The tables of the app's database, as the follower may have missed changes
/// to any of them.
async fn followed_tables(db: &Db) -> Result<Vec<String>, FollowError> {
    let mut backoff = Backoff::new();
    loop {
        match tables::all(db).await {
            Ok(tables) => return Ok(tables),
            Err(e) => {
                backoff.warn(|| format!("cannot list the tables ({e}); retrying"));
                backoff.wait().await;
            }
        }
    }
}

/// With read replicas, raises the purged position to cover `written` (see
/// `purged_position`) before the purge, trying again until it succeeds: a
/// purge without it could let a lagging replica's render be stored.
async fn record_purge(db: &Db, cache: &Cache, written: Option<&GtidPosition>) {
    let mut backoff = Backoff::new();
    while let Err(e) = purged_position::record_purge(db, cache, written).await {
        backoff.warn(|| format!("cannot record the purged position ({e}); retrying"));
        backoff.wait().await;
    }
}

/// Purges `changes`, trying again until the store takes it.
async fn purge(cache: &Cache, changes: &[Change]) {
    if changes.is_empty() {
        return;
    }
    let mut backoff = Backoff::new();
    while let Err(e) = cache.purge_logged_changes(changes).await {
        backoff.warn(|| format!("purge failed ({e}); retrying until it succeeds"));
        backoff.wait().await;
    }
}

/// Saves the position as the lease's holder, trying again until the store
/// answers; `LeaseLost` when another instance holds the lease.
async fn save(
    singleton: &Singleton,
    status: &FollowerStatus,
    position: &str,
) -> Result<(), FollowError> {
    let mut backoff = Backoff::new();
    loop {
        match singleton.save_state(status.token(), position).await {
            Ok(true) => return Ok(()),
            Ok(false) => return Err(FollowError::LeaseLost),
            Err(e) => {
                backoff.warn(|| format!("cannot save the position ({e}); retrying"));
                backoff.wait().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_loop_warns_once_then_counts_what_it_leaves_out() {
        let mut backoff = Backoff::new();
        for _ in 0..5 {
            backoff.warn(|| "purge failed".to_owned());
        }
        assert!(backoff.warned.is_some(), "the first failure is written");
        assert_eq!(backoff.left_out, 4, "the others wait for the next line");
        backoff.warned = Instant::now().checked_sub(WARN_EVERY);
        backoff.warn(|| "purge failed".to_owned());
        assert_eq!(backoff.left_out, 0, "the count went with the next line");
    }
}
