//! Where a render reads: a replica that has applied every purge made before
//! the render began, else the primary (see `purged_position` for the rule and
//! why it keeps stale pages out of the cache).
//!
//! A read that fails on a replica (killed, restarting) is made again on the
//! primary, and the replica is out of rotation until its checker finds it
//! healthy: a replica going away costs no request an error.

use std::time::Duration;

use futures_util::future::BoxFuture;
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome};
use rocket::Request;
use rocket_page_cache::Cache;

use crate::db::replicas::{wait_for_position, GtidPosition, Replica};
use crate::db::{Db, DbConn};
use crate::ops::request_warnings::{self, WarningKind};
use crate::purged_position::{read_primary_position, PurgedPosition};
use crate::web::error::AppError;

/// How long a replica is given to apply the purged writes a render must see;
/// past it, the render reads the primary.
pub const REPLICA_WAIT: Duration = Duration::from_millis(50);

/// The database as a render reads it; a request guard.
pub struct RenderDb<'r> {
    db: &'r Db,
    /// `None`: every read goes to the primary.
    cache: Option<&'r Cache>,
}

impl<'r> RenderDb<'r> {
    /// Reads for a render: from a replica when one is fit (see the module's doc).
    pub fn new(db: &'r Db, cache: &'r Cache) -> Self {
        Self {
            db,
            cache: Some(cache),
        }
    }

    /// Reads from the primary only: what a write is about to change (the edit
    /// form, the delete confirmation) must be its latest.
    pub fn primary(db: &'r Db) -> Self {
        Self { db, cache: None }
    }

    /// Runs `read` on a replica's connection, or on the primary's; a read that
    /// fails on a replica runs again on the primary. Errors that are answers
    /// (not found) are returned as they are.
    pub async fn read<T, F>(&self, read: F) -> Result<T, AppError>
    where
        F: for<'c> Fn(&'c mut DbConn) -> BoxFuture<'c, Result<T, AppError>>,
    {
        if let Some((replica, mut conn)) = self.replica().await {
            match read(&mut conn).await {
                Ok(value) => {
                    replica.count_read();
                    return Ok(value);
                }
                Err(e @ (AppError::Unavailable(_) | AppError::Internal(_))) => {
                    replica_failed(replica, &e.to_string());
                }
                Err(answer) => return Err(answer),
            }
        }
        let mut conn = self.db.conn().await?;
        read(&mut conn).await
    }

    /// A connection to a replica in rotation that has applied every purge made
    /// so far, if there is one.
    async fn replica(&self) -> Option<(&'r Replica, DbConn)> {
        let cache = self.cache?;
        let replica = self.db.replicas().pick()?;
        let position = self.purged_position(cache).await?;
        let mut conn = match replica.conn(self.db.acquire_timeout()).await {
            Ok(conn) => conn,
            Err(e) => {
                replica_failed(replica, &e.to_string());
                return None;
            }
        };
        match wait_for_position(&mut conn, &position, REPLICA_WAIT).await {
            Ok(true) => Some((replica, conn)),
            Ok(false) => {
                replica.count_behind_purges();
                None
            }
            Err(e) => {
                replica_failed(replica, &e.to_string());
                None
            }
        }
    }

    /// The shared position, read after the page cache read its purge sequence
    /// (the route runs after that). When it is missing or the store does not
    /// answer, the primary's position now, which covers every purge so far
    /// (and, when missing, is recorded for the next renders).
    async fn purged_position(&self, cache: &Cache) -> Option<GtidPosition> {
        let purged = PurgedPosition::of(cache);
        let budget = cache.config().op_timeout;
        let read = tokio::time::timeout(budget, purged.read()).await;
        if let Ok(Ok(Some(position))) = read {
            return Some(position);
        }
        let now = read_primary_position(self.db).await.ok()?;
        if let Ok(Ok(None)) = read {
            let now = now.clone();
            tokio::spawn(async move {
                let _ = purged.raise(&now, true).await;
            });
        }
        Some(now)
    }
}

/// Takes `replica` out of rotation after a failed read, and says so (rate-limited).
fn replica_failed(replica: &Replica, error: &str) {
    replica.failed(error);
    request_warnings::warn(WarningKind::ReplicaFailed, || {
        format!(
            "replica {} failed a read ({error}); reading the primary until it is healthy",
            replica.label()
        )
    });
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for RenderDb<'r> {
    type Error = &'static str;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let rocket = request.rocket();
        match (rocket.state::<Db>(), rocket.state::<Cache>()) {
            (Some(db), Some(cache)) => Outcome::Success(Self::new(db, cache)),
            (Some(db), None) => Outcome::Success(Self::primary(db)),
            _ => Outcome::Error((Status::InternalServerError, "no database is managed")),
        }
    }
}
