//! The `MySQL` connection pools, built at ignite by [`DbFairing`] and managed as [`Db`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::sql_types::Integer;
use diesel::IntoSql;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncMysqlConnection};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use crate::db::config::DatabaseConfig;
use crate::db::redact::redact_url;
use crate::db::replicas::Replicas;
use crate::db::startup_error::StartupError;

/// A pool of connections to one server.
pub(crate) type MysqlPool = Pool<AsyncMysqlConnection>;

/// A pooled connection; dropping it gives it back.
pub type DbConn = Object<AsyncMysqlConnection>;

/// Counts every statement this instance sent to `MySQL` (pool pings included),
/// and the pings apart.
///
/// It is how tests prove that a cache hit never reached the database, and it is
/// exported to operators for the same reason.
#[derive(Clone, Default, Debug)]
pub struct QueryCounter(Arc<Counts>);

#[derive(Default, Debug)]
struct Counts {
    statements: AtomicU64,
    liveness_checks: AtomicU64,
}

impl QueryCounter {
    /// Every statement, pings included.
    pub fn get(&self) -> u64 {
        self.0.statements.load(Ordering::Relaxed)
    }
    /// The pool's `SELECT 1`s alone (see [`ALIVE_BYPASS_WINDOW`]): whether a
    /// checkout pings depends on time, so tests that count a render's statements
    /// leave these out.
    pub fn liveness_checks(&self) -> u64 {
        self.0.liveness_checks.load(Ordering::Relaxed)
    }
    fn bump(&self) {
        self.0.statements.fetch_add(1, Ordering::Relaxed);
    }
}

/// A connection that answered a statement this recently is handed out without
/// a `SELECT 1` first (HikariCP's "alive bypass window" is the same 500 ms). A
/// busy pool then costs one round trip less per checkout, while a connection
/// idle for longer is still proven before use, so one that the server closed
/// meanwhile (a restart, `wait_timeout`) is replaced instead of failing a
/// request.
const ALIVE_BYPASS_WINDOW: Duration = Duration::from_millis(500);

/// What each pooled connection reports of its statements: it counts them
/// (pings included) and remembers when the last one succeeded.
struct ConnectionWatch {
    queries: QueryCounter,
    last_success: Instant,
}

impl Instrumentation for ConnectionWatch {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { .. } => self.queries.bump(),
            InstrumentationEvent::FinishQuery { error: None, .. } => {
                self.last_success = Instant::now();
            }
            _ => {}
        }
    }
}

/// The pool's check of a connection it hands out again: none within the
/// [`ALIVE_BYPASS_WINDOW`] of its last successful statement, else `SELECT 1`.
/// (The pool drops a connection diesel saw break before asking.)
fn alive_check(conn: &mut AsyncMysqlConnection) -> BoxFuture<'_, diesel::QueryResult<()>> {
    let watch = conn.instrumentation().downcast_ref::<ConnectionWatch>();
    if watch.is_some_and(|watch| watch.last_success.elapsed() < ALIVE_BYPASS_WINDOW) {
        return async { Ok(()) }.boxed();
    }
    if let Some(watch) = watch {
        watch
            .queries
            .0
            .liveness_checks
            .fetch_add(1, Ordering::Relaxed);
    }
    async move {
        use diesel_async::RunQueryDsl;
        diesel::select(1_i32.into_sql::<Integer>())
            .get_result::<i32>(conn)
            .await
            .map(|_| ())
    }
    .boxed()
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
) -> Result<Pool<AsyncMysqlConnection>, StartupError> {
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
            conn.set_instrumentation(ConnectionWatch {
                queries: counter,
                last_success: Instant::now(),
            });
            Ok(conn)
        }
        .boxed()
    });
    manager_config.recycling_method = RecyclingMethod::CustomFunction(Box::new(alive_check));
    let manager =
        AsyncDieselConnectionManager::<AsyncMysqlConnection>::new_with_config(url, manager_config);
    Pool::builder(manager)
        .max_size(size)
        .build()
        .map_err(|source| StartupError::Pool {
            url: redact_url(url),
            source,
        })
}

impl Db {
    /// Builds the pool of the primary and one per replica, without connecting;
    /// connections open on first use.
    pub fn new(config: &DatabaseConfig) -> Result<Self, StartupError> {
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
