//! How far the primary had written when the latest purge was made: the
//! position a replica must have applied before a render may read it.
//!
//! The rule that keeps stale pages out of the cache with read replicas (the
//! README's "Read replicas" says it to operators):
//! 1. Every purge first raises this position, in the shared store, to cover the
//!    write it purges for (the writer: the primary's position after its commit;
//!    the binlog follower: the transaction's GTID), and only then marks its tags.
//! 2. A render reads the purge sequence (`since`, taken by the page cache before
//!    the route runs), then this position, then has the replica wait for it
//!    (`MASTER_GTID_WAIT`, briefly): applied, the replica is read; not yet, the
//!    primary is.
//!
//! A purge made before the render read `since` had raised the position before
//! that, so the replica the render reads has applied its write. A purge made
//! after has marked its tags above `since`, so the engine refuses to store the
//! render. Either way no page older than a purge is stored.
//!
//! The position lives in the engine's store as a [`Singleton`]'s state, so it
//! works on one Redis and on a Redis Cluster alike; raising it takes the
//! singleton's lease as a short lock, so concurrent writers never move it
//! backwards. Were it lost (evicted, Redis restarted), whoever finds it missing
//! reads the primary's position instead, which covers every commit so far.

use std::time::{Duration, Instant};

use rocket_page_cache::{Cache, Singleton, StoreError};

use crate::db::replicas::{primary_position, GtidPosition};
use crate::db::Db;

/// The singleton whose state is the position.
const NAME: &str = "replica-purged-position";
/// How long one raise may hold the lock: a holder that died frees it then.
const LOCK_TTL: Duration = Duration::from_secs(2);
/// How long a raise waits for the lock before it fails (and the purge is
/// retried as any failed purge is).
const LOCK_WAIT: Duration = Duration::from_secs(3);
/// Pause between two tries of a lock another raise holds.
const LOCK_RETRY: Duration = Duration::from_millis(2);

/// Why the position could not be read or raised.
#[derive(Debug, thiserror::Error)]
pub enum PositionError {
    #[error("the cache store: {0}")]
    Store(#[from] StoreError),
    #[error("another raise held the position's lock for {0:?}")]
    Busy(Duration),
    #[error("the position's lock ran out while it was raised")]
    LockLost,
    #[error("the primary's position: {0}")]
    Primary(String),
}

/// What [`PurgedPosition::raise`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Raised {
    /// The position covers the one given now.
    Covered,
    /// There was no position, and none was made: the caller must raise it
    /// with the primary's current position (see the module's doc).
    Missing,
}

/// The shared position; see the module's doc. Cheap to make.
pub struct PurgedPosition {
    singleton: Singleton,
}

impl PurgedPosition {
    pub fn of(cache: &Cache) -> Self {
        Self {
            singleton: cache.singleton(NAME),
        }
    }

    /// The position, or `None` when there is none (never raised, or lost);
    /// a state that does not read as GTIDs counts as lost.
    pub async fn read(&self) -> Result<Option<GtidPosition>, StoreError> {
        let state = self.singleton.state().await?;
        Ok(state.and_then(|text| text.parse().ok()))
    }

    /// Raises the position to cover `to`. With none stored, makes it `to` only
    /// when `create`: a position read before another writer's commit must not
    /// stand in for a lost one that covered that commit.
    pub async fn raise(&self, to: &GtidPosition, create: bool) -> Result<Raised, PositionError> {
        let token = format!("{:016x}", rand::random::<u64>());
        self.lock(&token).await?;
        let raised = self.raise_holding(&token, to, create).await;
        let _ = self.singleton.release(&token).await;
        raised
    }

    async fn lock(&self, token: &str) -> Result<(), PositionError> {
        let started = Instant::now();
        while !self.singleton.hold(token, LOCK_TTL).await? {
            if started.elapsed() > LOCK_WAIT {
                return Err(PositionError::Busy(LOCK_WAIT));
            }
            tokio::time::sleep(LOCK_RETRY).await;
        }
        Ok(())
    }

    async fn raise_holding(
        &self,
        token: &str,
        to: &GtidPosition,
        create: bool,
    ) -> Result<Raised, PositionError> {
        let (mut position, created) = match self.read().await? {
            Some(position) => (position, false),
            None if create => (GtidPosition::default(), true),
            None => return Ok(Raised::Missing),
        };
        let moved = position.raise_to(to);
        if (moved || created)
            && !self
                .singleton
                .save_state(token, &position.to_string())
                .await?
        {
            return Err(PositionError::LockLost);
        }
        Ok(Raised::Covered)
    }
}

/// Before a purge for a write at `written` (a transaction's GTID, or the
/// primary's position after a commit; `None`: the primary's position now):
/// raises the shared position to cover it, or, when there is none, to the
/// primary's position read after that was seen. Nothing to do without
/// replicas.
pub async fn record_purge(
    db: &Db,
    cache: &Cache,
    written: Option<&GtidPosition>,
) -> Result<(), PositionError> {
    if db.replicas().is_empty() {
        return Ok(());
    }
    let purged = PurgedPosition::of(cache);
    let written = match written {
        Some(written) => written.clone(),
        None => read_primary_position(db).await?,
    };
    if purged.raise(&written, false).await? == Raised::Covered {
        return Ok(());
    }
    // Read only now that the position was seen missing: it covers whatever a
    // lost position covered.
    let now = read_primary_position(db).await?;
    purged.raise(&now, true).await?;
    Ok(())
}

/// After a write committed on the primary: what to give [`record_purge`].
pub async fn primary_now(db: &Db) -> Result<Option<GtidPosition>, PositionError> {
    if db.replicas().is_empty() {
        return Ok(None);
    }
    read_primary_position(db).await.map(Some)
}

/// The primary's position now, on a connection of the pool.
pub async fn read_primary_position(db: &Db) -> Result<GtidPosition, PositionError> {
    let mut conn = db
        .conn()
        .await
        .map_err(|e| PositionError::Primary(e.to_string()))?;
    primary_position(&mut conn)
        .await
        .map_err(|e| PositionError::Primary(e.to_string()))
}
