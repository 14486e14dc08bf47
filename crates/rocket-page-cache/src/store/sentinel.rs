//! The master of a Redis Sentinel deployment (`cache.sentinel`): found through
//! its sentinels, and found again when it fails over.
//!
//! [`Sentinels`] asks the sentinels which server is the master now (the `redis`
//! crate's `Sentinel`, which also checks with `ROLE` that the server named
//! agrees). [`MasterSource`] keeps one multiplexed connection to that master
//! for the `redis` backend's commands, and lets it go, so that the next command
//! looks the master up again, when:
//! - the connection breaks or is refused (the master died, or was demoted:
//!   Sentinel disconnects the clients of a server it turns into a replica);
//! - the server answers `READONLY`, `LOADING` or `MASTERDOWN` (it is no master,
//!   or not one yet);
//! - a command is abandoned unanswered (its budget ran out): a master frozen or
//!   gone from the network is not waited on again;
//! - the sentinels name another server (asked at most every [`CHECK_EVERY`],
//!   by the commands themselves): after a failover that left the old master
//!   alive (`SENTINEL FAILOVER`, a partition), it answers as a master until
//!   Sentinel converts it, seconds later, and what is written to it meanwhile
//!   is lost then.
//!
//! A lookup runs in a task of its own, one at a time, within [`LOOKUP_LIMIT`]
//! and not within the budget of the command that asked, so that a lookup slower
//! than one budget still completes; commands wait on it within their budget and
//! go on without the cache meanwhile. A lookup that failed is not tried again
//! for [`RETRY_AFTER`].
//!
//! Nothing is ever read from a replica: a replica may not have applied a purge
//! yet.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::sentinel::{Sentinel, SentinelNodeConnectionInfo};
use redis::{
    AsyncConnectionConfig, Cmd, ConnectionAddr, ErrorKind, IntoConnectionInfo, Pipeline,
    ProtocolVersion, RedisError, RedisFuture, RedisResult, ServerErrorKind, TlsMode, Value,
};
use tokio::sync::{watch, Mutex};

use super::StoreError;
use crate::build_error::BuildError;
use crate::config::SentinelConfig;

/// Longest one lookup may take: sentinels asked, the master dialled and its
/// role checked.
pub(crate) const LOOKUP_LIMIT: Duration = Duration::from_secs(3);

/// How long a failed lookup is the answer before the next one is tried.
const RETRY_AFTER: Duration = Duration::from_millis(100);

/// How often the kept master is checked against the one the sentinels name.
pub(crate) const CHECK_EVERY: Duration = Duration::from_millis(500);

/// The sentinels of one master, asked in the configured order.
pub struct Sentinels {
    sentinel: Mutex<Sentinel>,
    master: String,
    /// How the master is reached: `url`'s user, password, database and TLS.
    node: SentinelNodeConnectionInfo,
    /// Each sentinel, for the quick question of which server is the master.
    asked: Vec<redis::Client>,
    /// A connection to each, once made.
    asked_conns: Mutex<Vec<Option<MultiplexedConnection>>>,
}

impl Sentinels {
    /// The sentinels and master of `config`; the master is reached with what
    /// `url` says of user, password, database and TLS, speaking `protocol`.
    /// Dials nothing.
    pub fn new(
        config: &SentinelConfig,
        url: &str,
        protocol: ProtocolVersion,
    ) -> Result<Self, BuildError> {
        let sentinel = Sentinel::build(config.nodes.clone())
            .map_err(BuildError::redis("cache.sentinel.nodes"))?;
        let info = url
            .into_connection_info()
            .map_err(BuildError::redis("cache.url"))?;
        let tls = match info.addr() {
            ConnectionAddr::TcpTls { insecure, .. } => Some(if *insecure {
                TlsMode::Insecure
            } else {
                TlsMode::Secure
            }),
            _ => None,
        };
        let settings = info.redis_settings().clone().set_protocol(protocol);
        let mut node = SentinelNodeConnectionInfo::default().set_redis_connection_info(settings);
        if let Some(tls) = tls {
            node = node.set_tls_mode(tls);
        }
        let asked = config
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| {
                redis::Client::open(node.as_str())
                    .map_err(BuildError::redis(format!("cache.sentinel.nodes[{i}]")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            sentinel: Mutex::new(sentinel),
            master: config.master.clone(),
            node,
            asked_conns: Mutex::new(vec![None; asked.len()]),
            asked,
        })
    }

    /// `host:port` of the master as the first sentinel that answers names it
    /// (`SENTINEL GET-MASTER-ADDR-BY-NAME`), without dialling the master: the
    /// cheap check that a kept master is still the one.
    pub async fn named_master(&self) -> Result<String, String> {
        let mut conns = self.asked_conns.lock().await;
        let mut last_error = "no sentinel".to_owned();
        for (client, slot) in self.asked.iter().zip(conns.iter_mut()) {
            let ask = async {
                if slot.is_none() {
                    *slot = Some(client.get_multiplexed_async_connection().await?);
                }
                let Some(conn) = slot.as_mut() else {
                    unreachable!("dialled above")
                };
                redis::cmd("SENTINEL")
                    .arg("GET-MASTER-ADDR-BY-NAME")
                    .arg(&self.master)
                    .query_async::<Option<(String, u16)>>(conn)
                    .await
            };
            match tokio::time::timeout(LOOKUP_LIMIT, ask).await {
                Ok(Ok(Some((host, port)))) => return Ok(format!("{host}:{port}")),
                Ok(Ok(None)) => last_error = format!("no master named {:?}", self.master),
                Ok(Err(e)) => {
                    *slot = None;
                    last_error = e.to_string();
                }
                Err(_) => {
                    *slot = None;
                    "no answer".clone_into(&mut last_error);
                }
            }
        }
        Err(last_error)
    }

    /// A client of the server the sentinels name as the master now, which
    /// answered `ROLE` as a master. One lookup at a time.
    pub async fn master_client(&self) -> RedisResult<redis::Client> {
        self.sentinel
            .lock()
            .await
            .async_master_for(&self.master, Some(&self.node))
            .await
    }
}

/// `host:port` of the server a client dials.
pub fn address_of(client: &redis::Client) -> String {
    match client.get_connection_info().addr() {
        ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => {
            format!("{host}:{port}")
        }
        other => other.to_string(),
    }
}

/// The connection to the master that the `redis` backend sends its commands
/// over, kept and replaced as the module's doc says.
pub struct MasterSource {
    shared: Arc<Shared>,
}

struct Shared {
    sentinels: Sentinels,
    /// How the hot connection is made (its timeouts).
    hot: AsyncConnectionConfig,
    /// What is known of the master; commands waiting on a lookup watch it.
    known: watch::Sender<Known>,
    lookups: AtomicU64,
    /// When the kept master was last checked against the sentinels (ms since
    /// `origin`), and whether a check is running.
    checked_ms: AtomicU64,
    checking: AtomicBool,
    origin: Instant,
}

#[derive(Clone)]
enum Known {
    /// Nobody asked yet, or the last connection was let go.
    Unknown,
    LookingUp,
    Found {
        conn: MultiplexedConnection,
        /// Which lookup found it, so that a failure seen on an older
        /// connection does not drop a newer one.
        lookup: u64,
        address: String,
    },
    Failed {
        at: Instant,
        error: String,
    },
}

impl MasterSource {
    /// Checks the sentinels' URLs and `url`; dials nothing, so sentinels that
    /// are down at start only mean pages are served uncached until they are up.
    pub fn new(
        config: &SentinelConfig,
        url: &str,
        op_timeout: Duration,
    ) -> Result<Self, BuildError> {
        let hot = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(op_timeout.max(Duration::from_millis(200))))
            .set_response_timeout(Some(op_timeout));
        Ok(Self {
            shared: Arc::new(Shared {
                sentinels: Sentinels::new(config, url, ProtocolVersion::RESP2)?,
                hot,
                known: watch::Sender::new(Known::Unknown),
                lookups: AtomicU64::new(0),
                checked_ms: AtomicU64::new(0),
                checking: AtomicBool::new(false),
                origin: Instant::now(),
            }),
        })
    }

    /// The connection to the master, after a lookup if none is kept. Waits on
    /// the lookup for as long as the caller lets it (callers bound this with
    /// their budget); a lookup that fails is an error.
    pub async fn connection(&self) -> Result<MasterConnection, StoreError> {
        let mut known = self.shared.known.subscribe();
        let mut asked = false;
        loop {
            let now = known.borrow_and_update().clone();
            match now {
                Known::Found {
                    conn,
                    lookup,
                    address,
                } => {
                    Shared::check_soon(&self.shared, lookup, address);
                    return Ok(MasterConnection {
                        conn,
                        lookup,
                        shared: Arc::clone(&self.shared),
                    });
                }
                Known::Failed { at, error } if asked || at.elapsed() < RETRY_AFTER => {
                    return Err(StoreError::NoMaster(error));
                }
                Known::LookingUp => {}
                Known::Unknown | Known::Failed { .. } => {
                    Shared::start_lookup(&self.shared);
                    asked = true;
                }
            }
            if known.changed().await.is_err() {
                return Err(StoreError::NoMaster("the lookup was dropped".to_owned()));
            }
        }
    }

    /// A connection of its own to the master as the sentinels name it now, for
    /// a long walk that must not queue in front of the hot commands; with its
    /// `host:port`.
    pub async fn dedicated(&self) -> Result<(MultiplexedConnection, String), StoreError> {
        let config = AsyncConnectionConfig::new();
        tokio::time::timeout(LOOKUP_LIMIT, self.shared.dial(&config))
            .await
            .unwrap_or_else(|_| Err(format!("no master found within {LOOKUP_LIMIT:?}")))
            .map_err(StoreError::NoMaster)
    }
}

impl Shared {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Checks in the background that the sentinels still name `address`, when
    /// the last check is older than [`CHECK_EVERY`] and none is running; lets
    /// the connection go if they name another.
    fn check_soon(shared: &Arc<Self>, lookup: u64, address: String) {
        let due = shared.checked_ms.load(Ordering::Relaxed)
            + u64::try_from(CHECK_EVERY.as_millis()).unwrap_or(u64::MAX);
        if shared.now_ms() < due || shared.checking.swap(true, Ordering::AcqRel) {
            return;
        }
        let shared = Arc::clone(shared);
        tokio::spawn(async move {
            if let Ok(named) = shared.sentinels.named_master().await {
                if named != address {
                    shared.let_go(lookup, &format!("the sentinels name {named} now"));
                }
            }
            shared.checked_ms.store(shared.now_ms(), Ordering::Relaxed);
            shared.checking.store(false, Ordering::Release);
        });
    }

    /// Starts a lookup unless one is running or a master is known.
    fn start_lookup(shared: &Arc<Self>) {
        let began = shared.known.send_if_modified(|known| {
            let idle = matches!(known, Known::Unknown | Known::Failed { .. });
            if idle {
                *known = Known::LookingUp;
            }
            idle
        });
        if !began {
            return;
        }
        let shared = Arc::clone(shared);
        tokio::spawn(async move {
            let outcome = tokio::time::timeout(LOOKUP_LIMIT, shared.dial(&shared.hot))
                .await
                .unwrap_or_else(|_| Err(format!("no master found within {LOOKUP_LIMIT:?}")));
            let known = match outcome {
                Ok((conn, address)) => {
                    shared.checked_ms.store(shared.now_ms(), Ordering::Relaxed);
                    Known::Found {
                        conn,
                        lookup: shared.lookups.fetch_add(1, Ordering::SeqCst) + 1,
                        address,
                    }
                }
                Err(error) => Known::Failed {
                    at: Instant::now(),
                    error,
                },
            };
            shared.known.send_replace(known);
        });
    }

    /// Asks the sentinels for the master and dials it with `config`.
    async fn dial(
        &self,
        config: &AsyncConnectionConfig,
    ) -> Result<(MultiplexedConnection, String), String> {
        let client = self
            .sentinels
            .master_client()
            .await
            .map_err(|e| format!("the sentinels named no master that answers: {e}"))?;
        let address = address_of(&client);
        let conn = client
            .get_multiplexed_async_connection_with_config(config)
            .await
            .map_err(|e| format!("master {address}: {e}"))?;
        Ok((conn, address))
    }

    /// Lets the connection found by `lookup` go (if it is still the one kept),
    /// so that the next command looks the master up again.
    fn let_go(&self, lookup: u64, why: &str) {
        let mut lost = None;
        self.known.send_if_modified(|known| match known {
            Known::Found {
                lookup: kept,
                address,
                ..
            } if *kept == lookup => {
                lost = Some(std::mem::take(address));
                *known = Known::Unknown;
                true
            }
            _ => false,
        });
        if let Some(address) = lost {
            rocket::warn!(
                "page cache: master {address} let go ({why}); asking the sentinels again"
            );
        }
    }
}

/// Whether `error` says the connection no longer reaches a master.
fn master_lost(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
        || error.is_unrecoverable_error()
        || matches!(
            error.kind(),
            ErrorKind::Server(
                ServerErrorKind::ReadOnly
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::BusyLoading
            )
        )
}

/// A command on its way: dropped before its answer came (its budget ran
/// out), it lets the connection go.
struct Unanswered {
    shared: Arc<Shared>,
    lookup: u64,
    armed: bool,
}

impl Unanswered {
    fn answered<T>(mut self, result: &RedisResult<T>) {
        self.armed = false;
        if let Err(error) = result {
            if master_lost(error) {
                self.shared.let_go(self.lookup, &error.to_string());
            }
        }
    }
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        if self.armed {
            self.shared
                .let_go(self.lookup, "a command went unanswered within its budget");
        }
    }
}

/// The kept connection to the master, as a command sees it: answers that say
/// the master is lost let it go.
#[derive(Clone)]
pub struct MasterConnection {
    conn: MultiplexedConnection,
    lookup: u64,
    shared: Arc<Shared>,
}

impl MasterConnection {
    fn watch(&self) -> Unanswered {
        Unanswered {
            shared: Arc::clone(&self.shared),
            lookup: self.lookup,
            armed: true,
        }
    }
}

impl ConnectionLike for MasterConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let watch = self.watch();
            let result = self.conn.req_packed_command(cmd).await;
            watch.answered(&result);
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let watch = self.watch();
            let result = self.conn.req_packed_commands(pipeline, offset, count).await;
            watch.answered(&result);
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.conn.get_db()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_master_is_reached_with_the_password_and_database_of_url() {
        let config = SentinelConfig {
            master: "mymaster".into(),
            nodes: vec!["redis://127.0.0.1:26379/".into()],
        };
        let sentinels = Sentinels::new(
            &config,
            "redis://:secret@ignored:1/3",
            ProtocolVersion::RESP3,
        )
        .expect("sentinels");
        let shown = format!("{:?}", sentinels.node);
        assert!(shown.contains("db: 3"), "{shown}");
        assert!(shown.contains("password: Some("), "{shown}");
        assert!(shown.contains("RESP3"), "{shown}");
        assert!(shown.contains("tls_mode: None"), "{shown}");
    }

    #[test]
    fn answers_that_say_the_master_is_gone_are_told_apart() {
        let readonly = RedisError::from((
            ErrorKind::Server(ServerErrorKind::ReadOnly),
            "You can't write against a read only replica.",
        ));
        assert!(master_lost(&readonly));
        let refused = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(master_lost(&refused));
        let script = RedisError::from((ErrorKind::Server(ServerErrorKind::NoScript), "NOSCRIPT"));
        assert!(!master_lost(&script));
    }
}
