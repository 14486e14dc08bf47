//! The invalidation link: one dedicated RESP3 connection per instance on which
//! Redis reports every change to a key under the deploy's key base
//! (`CLIENT TRACKING ON BCAST PREFIX <key base>`), whoever made it: a store, a
//! purge script, an expiry, an eviction, or someone with `redis-cli`.
//!
//! Why tracking and not a channel of our own: Redis itself sees every change,
//! including expiry and changes by other tools, so nothing has to remember to
//! publish; and invalidations travel on the same connection as the heartbeat, so
//! a PING answered proves every invalidation sent before it has been applied.
//! Why not the `redis` crate's own client-side cache (`cache-aio`): it caches
//! per command on the connection that reads, which here is the shared hot
//! connection, and it cannot tell us when a fetch raced an invalidation.
//!
//! The link is trusted only while it proves itself: a disconnect, an error or a
//! heartbeat not answered within its interval flushes the near cache and turns
//! it off until a new connection has tracking on again.
//!
//! On a Redis Cluster a key changes on the master that serves its slot, so the
//! link is one such connection per master, found with `CLUSTER SLOTS` from the
//! seed nodes; the near cache serves only while every one of them has tracking
//! on, and any of them lost or silent flushes it. Each heartbeat also asks for
//! the masters again: when they changed (a failover, a resharding), the links
//! are rebuilt from scratch, the near cache flushed meanwhile.
//!
//! Under Redis Sentinel the link watches the master the sentinels name, asked
//! again for every new connection. Its heartbeat is `ROLE` instead of PING (an
//! answer other than `master` counts as a missed heartbeat), and asks the
//! sentinels which server they name: a master that fails over is gone (the
//! connection drops), demoted (Sentinel disconnects its clients, `ROLE` says
//! so), or alive and still answering as a master for a while, when only the
//! sentinels can tell. Either way the near cache is flushed and stays off until
//! tracking is on at the new master.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{AsyncPushSender, SendError};
use redis::{AsyncConnectionConfig, IntoConnectionInfo, ProtocolVersion, PushInfo, PushKind};
use tokio::sync::Notify;

use super::NearCache;
use crate::config::{redact_url, SentinelConfig};
use crate::store::cluster::masters_of;
use crate::store::sentinel::{address_of, Sentinels, LOOKUP_LIMIT};

/// Longest pause between two attempts to bring a lost link back.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// First pause after a lost link.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);

/// Where and how the link connects.
#[derive(Debug, Clone)]
pub struct LinkSettings {
    /// The store's URL (`redis://` or `rediss://`); the link speaks RESP3 on it.
    pub url: String,
    /// A cluster's seed nodes; when not empty, `url` is not used and the link
    /// watches every master (their URLs keep the seeds' scheme and password).
    pub cluster_nodes: Vec<String>,
    /// When set (and `cluster_nodes` is empty), the link watches the master
    /// these sentinels name, reached with `url`'s credentials and TLS.
    pub sentinel: Option<SentinelConfig>,
    /// Changes to keys starting with this are reported.
    pub prefix: String,
    /// How often the link is proven with a PING, and how long the answer may take.
    pub heartbeat: Duration,
}

/// Runs the link for as long as the returned task lives; abort it to stop.
pub fn spawn(near: Arc<NearCache>, settings: LinkSettings) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(near, settings))
}

async fn run(near: Arc<NearCache>, settings: LinkSettings) {
    let watched = match Watched::of(&settings) {
        Ok(watched) => watched,
        Err(e) => {
            rocket::warn!("page cache: near cache off, its link cannot be built: {e}");
            return;
        }
    };
    let mut backoff = FIRST_BACKOFF;
    let mut warned = false;
    loop {
        let outcome = match watched.targets(&settings).await {
            Ok((targets, proof)) => session(&near, &targets, &settings, proof).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => {
                backoff = FIRST_BACKOFF;
                warned = false;
            }
            Err(e) => {
                if !warned {
                    rocket::warn!("page cache: near cache link down ({e}); near cache flushed and off until it is back");
                    warned = true;
                }
            }
        }
        near.link_lost();
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// What the link watches.
enum Watched {
    /// The one server at `url`.
    One(redis::Client),
    /// The master the sentinels name, asked for every new connection.
    Master(Box<Sentinels>),
    /// Every master of the cluster, asked of the seeds for every new session.
    Cluster,
}

/// What a heartbeat proves.
enum Proof<'a> {
    /// The server answers.
    Answers,
    /// The server at `address` answers as a master, and is the one the
    /// sentinels name (a master failed over alive still answers as one until
    /// Sentinel converts it).
    NamedMaster {
        sentinels: &'a Sentinels,
        address: String,
    },
}

impl Watched {
    fn of(settings: &LinkSettings) -> Result<Self, String> {
        if !settings.cluster_nodes.is_empty() {
            return Ok(Self::Cluster);
        }
        if let Some(sentinel) = &settings.sentinel {
            return Sentinels::new(sentinel, &settings.url, ProtocolVersion::RESP3)
                .map(|sentinels| Self::Master(Box::new(sentinels)))
                .map_err(|e| e.to_string());
        }
        resp3_client(&settings.url)
            .map(Self::One)
            .map_err(|e| e.to_string())
    }

    /// The servers to track now, and what their heartbeats must prove.
    async fn targets(&self, settings: &LinkSettings) -> Result<(Vec<Target>, Proof<'_>), String> {
        match self {
            Self::One(client) => Ok((vec![(client.clone(), None)], Proof::Answers)),
            Self::Master(sentinels) => {
                let client = tokio::time::timeout(LOOKUP_LIMIT, sentinels.master_client())
                    .await
                    .map_err(|_| format!("the sentinels named no master within {LOOKUP_LIMIT:?}"))?
                    .map_err(|e| format!("the sentinels named no master that answers: {e}"))?;
                let address = address_of(&client);
                Ok((
                    vec![(client, None)],
                    Proof::NamedMaster { sentinels, address },
                ))
            }
            Self::Cluster => Ok((cluster_targets(settings).await?, Proof::Answers)),
        }
    }
}

/// A server the link watches, and on a cluster the master's address as
/// `CLUSTER SLOTS` names it (to notice when the masters change).
type Target = (redis::Client, Option<(String, u16)>);

/// One life of the link: tracking on every target, then heartbeats until
/// something fails. Returns `Ok` when a link that had been up was lost (so the
/// retry starts quickly), `Err` when it could not be brought up.
async fn session(
    near: &Arc<NearCache>,
    targets: &[Target],
    settings: &LinkSettings,
    proof: Proof<'_>,
) -> Result<(), String> {
    let lost = Arc::new(Notify::new());
    let mut links = Vec::with_capacity(targets.len());
    for (client, _) in targets {
        links.push(track(near, client, settings, &lost).await?);
    }
    let masters: Vec<(String, u16)> = targets.iter().filter_map(|(_, at)| at.clone()).collect();
    near.link_restored();
    let mut ticker = tokio::time::interval(settings.heartbeat);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = lost.notified() => return Ok(()),
            _ = ticker.tick() => {
                for connection in &mut links {
                    let as_master = matches!(proof, Proof::NamedMaster { .. });
                    if let Err(e) = heartbeat(connection, settings.heartbeat, as_master).await {
                        near.link_lost();
                        rocket::warn!("page cache: near cache link {e}; flushed");
                        return Ok(());
                    }
                }
                if let Proof::NamedMaster { sentinels, address } = &proof {
                    let named = tokio::time::timeout(settings.heartbeat, sentinels.named_master()).await;
                    // Sentinels that do not answer say nothing of the master:
                    // ROLE above tells whether it still is one.
                    if let Ok(Ok(named)) = named {
                        if named != *address {
                            near.link_lost();
                            rocket::info!("page cache: the sentinels name {named} master; near cache flushed, link moved");
                            return Ok(());
                        }
                    }
                }
                if !masters.is_empty() && !same_masters(&mut links[0], &masters, settings.heartbeat).await {
                    near.link_lost();
                    rocket::info!("page cache: the cluster's masters changed; near cache flushed, links rebuilt");
                    return Ok(());
                }
            }
        }
    }
}

/// A PING (or `as_master`, a `ROLE` that says master) answered within
/// `within`, or why not.
async fn heartbeat(
    connection: &mut redis::aio::MultiplexedConnection,
    within: Duration,
    as_master: bool,
) -> Result<(), String> {
    let answer = async {
        if as_master {
            let role: redis::Role = redis::cmd("ROLE").query_async(connection).await?;
            Ok(matches!(role, redis::Role::Primary { .. }))
        } else {
            redis::cmd("PING")
                .query_async::<String>(connection)
                .await
                .map(|_| true)
        }
    };
    match tokio::time::timeout(within, answer).await {
        Ok(Ok(true)) => Ok(()),
        Ok(Ok(false)) => Err("is on a server that is no longer the master".to_owned()),
        Ok(Err(e)) => Err(format!("failed ({e})")),
        Err(_) => Err("missed a heartbeat".to_owned()),
    }
}

/// Whether the cluster's masters are still `tracked` (an error counts as no).
async fn same_masters(
    connection: &mut redis::aio::MultiplexedConnection,
    tracked: &[(String, u16)],
    within: Duration,
) -> bool {
    let slots = redis::cmd("CLUSTER").arg("SLOTS").clone();
    match tokio::time::timeout(within, slots.query_async::<redis::Value>(connection)).await {
        Ok(Ok(reply)) => masters_of(&reply).is_ok_and(|now| now == tracked),
        _ => false,
    }
}

/// The cluster's masters, asked of the seeds in turn, each as a RESP3 client
/// with the first seed's scheme and credentials.
async fn cluster_targets(settings: &LinkSettings) -> Result<Vec<Target>, String> {
    let mut last_error = "no seed nodes".to_owned();
    for seed in &settings.cluster_nodes {
        match ask_masters(seed, settings.heartbeat).await {
            Ok(masters) => {
                return masters
                    .into_iter()
                    .map(|(host, port)| {
                        let url = with_address(seed, &host, port)?;
                        let client = resp3_client(&url).map_err(|e| e.to_string())?;
                        Ok((client, Some((host, port))))
                    })
                    .collect();
            }
            Err(e) => last_error = e,
        }
    }
    Err(format!("no seed node named the masters: {last_error}"))
}

/// `CLUSTER SLOTS` of one seed, read as its masters.
async fn ask_masters(seed: &str, within: Duration) -> Result<Vec<(String, u16)>, String> {
    let client = resp3_client(seed).map_err(|e| e.to_string())?;
    let ask = async {
        let mut connection = client.get_multiplexed_async_connection().await?;
        redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query_async::<redis::Value>(&mut connection)
            .await
    };
    let reply = tokio::time::timeout(within.max(Duration::from_millis(200)), ask)
        .await
        .map_err(|_| format!("{} did not answer", redact_url(seed)))?
        .map_err(|e| e.to_string())?;
    masters_of(&reply).map_err(|e| e.to_string())
}

/// `seed` pointing at another node: same scheme, credentials and database.
fn with_address(seed: &str, host: &str, port: u16) -> Result<String, String> {
    let mut url = url::Url::parse(seed).map_err(|e| e.to_string())?;
    url.set_host(Some(host)).map_err(|e| e.to_string())?;
    url.set_port(Some(port))
        .map_err(|()| format!("{} cannot take a port", redact_url(seed)))?;
    Ok(url.to_string())
}

/// A connection to one server with tracking on for the key base, whose pushes
/// go to the near cache; a disconnect wakes `lost`.
async fn track(
    near: &Arc<NearCache>,
    client: &redis::Client,
    settings: &LinkSettings,
    lost: &Arc<Notify>,
) -> Result<redis::aio::MultiplexedConnection, String> {
    let sink = InvalidationSink {
        near: Arc::clone(near),
        lost: Arc::clone(lost),
    };
    let config = AsyncConnectionConfig::new()
        .set_push_sender(sink)
        .set_connection_timeout(Some(settings.heartbeat.max(Duration::from_millis(200))))
        .set_response_timeout(Some(settings.heartbeat));
    let mut connection = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(|e| e.to_string())?;
    let mut tracking = redis::cmd("CLIENT");
    tracking
        .arg("TRACKING")
        .arg("ON")
        .arg("BCAST")
        .arg("PREFIX")
        .arg(&settings.prefix);
    tokio::time::timeout(
        settings.heartbeat,
        tracking.query_async::<()>(&mut connection),
    )
    .await
    .map_err(|_| "no answer to CLIENT TRACKING".to_owned())?
    .map_err(|e| e.to_string())?;
    Ok(connection)
}

/// A client for `url` that speaks RESP3, whatever the URL says.
fn resp3_client(url: &str) -> redis::RedisResult<redis::Client> {
    let info = url.into_connection_info()?;
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    redis::Client::open(info.set_redis_settings(settings))
}

/// Applies what Redis pushes as it is read off the connection: invalidations
/// drop keys at once (no queue to bound or to fall behind), a disconnect turns
/// the near cache off before anything else can be served from it.
struct InvalidationSink {
    near: Arc<NearCache>,
    lost: Arc<Notify>,
}

impl AsyncPushSender for InvalidationSink {
    fn send(&self, info: PushInfo) -> Result<(), SendError> {
        match info.kind {
            PushKind::Invalidate => apply_invalidation(&self.near, &info.data),
            PushKind::Disconnection => {
                self.near.link_lost();
                self.lost.notify_one();
            }
            _ => {}
        }
        Ok(())
    }
}

/// `invalidate` carries the changed keys, or nothing when the whole database
/// was flushed.
fn apply_invalidation(near: &NearCache, data: &[redis::Value]) {
    match data.first() {
        Some(redis::Value::Array(keys)) => {
            for key in keys {
                match key {
                    redis::Value::BulkString(bytes) => match std::str::from_utf8(bytes) {
                        Ok(key) => near.invalidate(key),
                        Err(_) => near.flush(),
                    },
                    redis::Value::SimpleString(key) => near.invalidate(key),
                    _ => near.flush(),
                }
            }
        }
        _ => near.flush(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_masters_url_keeps_the_seeds_scheme_and_password() {
        assert_eq!(
            with_address("rediss://:pw@seed:7000/", "10.0.0.9", 7005).expect("url"),
            "rediss://:pw@10.0.0.9:7005/"
        );
    }
    use crate::entry::{Entry, Kind};
    use bytes::Bytes;

    const REDIS_URL: &str = "redis://127.0.0.1:6379/";

    fn page(body: &'static str) -> Entry {
        let now = crate::clock::Clock::system().now_ms();
        Entry {
            kind: Kind::Page,
            status: 200,
            stored_at_ms: now,
            fresh_until_ms: now + 60_000,
            grace_secs: 0,
            stale_if_error_secs: 0,
            browser_ttl_secs: 0,
            render_ms: 1,
            etag: String::new(),
            headers: Vec::new(),
            body: Bytes::from_static(body.as_bytes()),
            compressed: crate::entry::Compressed::default(),
        }
    }

    /// The classic race, made to happen: a fetch reads the old value, the key
    /// changes in Redis and its invalidation is applied, and only then does the
    /// fetch try to keep what it read. It must be refused.
    #[tokio::test]
    async fn a_value_read_before_an_invalidation_that_arrived_in_flight_is_refused() {
        let prefix = format!("rpc-test-{:016x}:", rand::random::<u64>());
        let (raced, sentinel) = (format!("{prefix}raced"), format!("{prefix}sentinel"));
        let near = Arc::new(NearCache::new(1 << 20, Duration::from_mins(1)));
        let link = spawn(
            Arc::clone(&near),
            LinkSettings {
                url: REDIS_URL.to_owned(),
                cluster_nodes: Vec::new(),
                sentinel: None,
                prefix: prefix.clone(),
                heartbeat: Duration::from_millis(500),
            },
        );
        let client = redis::Client::open(REDIS_URL).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !near.is_serving() {
            assert!(tokio::time::Instant::now() < deadline, "link up");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let now = crate::clock::Clock::system().now_ms();

        // The fetch begins and reads the old value...
        let ticket = near.ticket(&raced).unwrap();
        let _: () = redis::cmd("SET")
            .arg(&raced)
            .arg("old")
            .query_async(&mut conn)
            .await
            .unwrap();
        // ...the key changes, and its invalidation arrives: the sentinel, changed
        // after it, is dropped only once every earlier invalidation was applied.
        near.keep(near.ticket(&sentinel).unwrap(), &sentinel, &page("s"), now);
        let _: () = redis::cmd("SET")
            .arg(&raced)
            .arg("new")
            .query_async(&mut conn)
            .await
            .unwrap();
        let _: () = redis::cmd("SET")
            .arg(&sentinel)
            .arg("x")
            .query_async(&mut conn)
            .await
            .unwrap();
        while near.get(&sentinel).is_some() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "invalidations arrive"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // ...and only then does the fetch try to keep what it read.
        near.keep(ticket, &raced, &page("old"), now);
        assert!(near.get(&raced).is_none(), "an old value was kept");

        // A fetch that began after the change is kept.
        near.keep(near.ticket(&raced).unwrap(), &raced, &page("new"), now);
        assert!(near.get(&raced).is_some());

        link.abort();
        let _: u64 = redis::cmd("UNLINK")
            .arg(&raced)
            .arg(&sentinel)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}
