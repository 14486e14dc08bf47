//! The `MySQL` connection pools, built at ignite by [`DbFairing`] and managed as [`Db`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::InstrumentationEvent;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::{AsyncConnection, AsyncMysqlConnection};
use futures_util::FutureExt;

use crate::db::config::DatabaseConfig;
use crate::db::replicas::Replicas;

/// A pool of connections to one server.
pub(crate) type MysqlPool = Pool<AsyncMysqlConnection>;

/// A pooled connection; dropping it gives it back.
pub type DbConn = Object<AsyncMysqlConnection>;

/// Counts every statement this instance sent to `MySQL` (pool pings included).
///
/// It is how tests prove that a cache hit never reached the database, and it is
/// exported to operators for the same reason.
#[derive(Clone, Default, Debug)]
pub struct QueryCounter(Arc<AtomicU64>);

impl QueryCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    fn bump(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Why no connection could be had.
#[derive(Debug, thiserror::Error)]
pub enum AcquireError {
    #[error("no MySQL connection within {0:?}")]
    Timeout(Duration),
    #[error("MySQL connection failed: {0}")]
    Connect(String),
}

/// The app's handle on `MySQL`: a clonable pool of the primary, the replicas'
/// pools, and one query counter for all of them.
///
/// [`Db::conn`] is always the primary: writes, sessions, logins and whatever
/// must see the latest data. Renders choose a replica through [`Replicas`].
#[derive(Clone)]
pub struct Db {
    pool: Pool<AsyncMysqlConnection>,
    queries: QueryCounter,
    acquire_timeout: Duration,
    replicas: Arc<Replicas>,
}

/// A pool of connections to `url` whose statements `queries` counts.
fn build_pool(
    url: &str,
    size: usize,
    config: &DatabaseConfig,
    queries: &QueryCounter,
) -> Result<Pool<AsyncMysqlConnection>, String> {
    let counter = queries.clone();
    let connect_timeout = config.connect_timeout();
    let mut manager_config = ManagerConfig::<AsyncMysqlConnection>::default();
    manager_config.custom_setup = Box::new(move |url| {
        let counter = counter.clone();
        let url = url.to_owned();
        async move {
            let mut conn =
                tokio::time::timeout(connect_timeout, AsyncMysqlConnection::establish(&url))
                    .await
                    .map_err(|_| {
                        diesel::ConnectionError::BadConnection(format!(
                            "connect timed out after {connect_timeout:?}"
                        ))
                    })??;
            conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
                if matches!(event, InstrumentationEvent::StartQuery { .. }) {
                    counter.bump();
                }
            });
            Ok(conn)
        }
        .boxed()
    });
    let manager =
        AsyncDieselConnectionManager::<AsyncMysqlConnection>::new_with_config(url, manager_config);
    Pool::builder(manager)
        .max_size(size)
        .build()
        .map_err(|e| e.to_string())
}

impl Db {
    /// Builds the pool of the primary and one per replica, without connecting;
    /// connections open on first use.
    pub fn new(config: &DatabaseConfig) -> Result<Self, String> {
        let queries = QueryCounter::default();
        let pool = build_pool(&config.url, config.pool_size, config, &queries)?;
        let replicas = Replicas::new(config, |url| {
            build_pool(url, config.pool_size, config, &queries)
        })?;
        Ok(Self {
            pool,
            queries,
            acquire_timeout: config.acquire_timeout(),
            replicas: Arc::new(replicas),
        })
    }

    /// The read replicas (none unless `databases.main.replicas` names some).
    pub fn replicas(&self) -> &Arc<Replicas> {
        &self.replicas
    }

    /// A connection within the acquire budget, or why not.
    pub async fn conn(&self) -> Result<DbConn, AcquireError> {
        match tokio::time::timeout(self.acquire_timeout, self.pool.get()).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(AcquireError::Connect(e.to_string())),
            Err(_) => Err(AcquireError::Timeout(self.acquire_timeout)),
        }
    }

    /// The budget for taking a connection (`databases.main.acquire_timeout_ms`).
    pub fn acquire_timeout(&self) -> Duration {
        self.acquire_timeout
    }

    pub fn queries(&self) -> &QueryCounter {
        &self.queries
    }

    /// Closes idle connections; used at shutdown.
    pub fn close(&self) {
        self.pool.close();
        self.replicas.close();
    }
}
