//! The page cache on a Redis Cluster: pages spread over every master, bursts
//! collapse to one render across instances, clears and usage see every master
//! (these three also run against one Redis: the shared-store suite), and a
//! master killed under load costs no request an error or more than a second.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::json;
use test_support::{eventually, scan, OwnCluster};

use crate::support::app::TestApp;
use crate::support::failover_load::{load_worker, near_hit, store_hit, Seen, WORKERS};
use crate::support::shared::Shared;
use crate::support::Namespace;

crate::on_every_store!(
    a_cold_key_under_300_requests_on_two_instances_renders_once,
    clearing_the_namespace_and_counting_it_reach_every_key,
);

/// Pages enough that each of three masters holds some.
const PAGES: usize = 30;

async fn store_pages(app: &TestApp, prefix: &str) -> Vec<String> {
    let mut paths = Vec::new();
    for i in 0..PAGES {
        let path = format!("/item/{prefix}{i}");
        assert_eq!(app.get(&path).await.x_cache(), "MISS");
        paths.push(path);
    }
    paths
}

#[tokio::test]
async fn pages_land_on_every_master() {
    let app = Shared::Cluster.app(json!({})).await;
    store_pages(&app, "spread").await;
    let cluster = OwnCluster::shared();
    let masters = cluster.master_ports();
    assert_eq!(masters.len(), 3, "three masters serve slots");
    for port in masters {
        let pages = keys_on(port, &app.namespace.name)
            .into_iter()
            .filter(|key| key.contains(":localhost:/item/spread"))
            .count();
        assert!(pages > 0, "master {port} holds none of {PAGES} pages");
    }
}

/// A seed whose host is gone from the network (it takes connections and never
/// answers) slows every dial of the cluster; the cache still comes up within
/// seconds, serving pages uncached meanwhile.
#[tokio::test]
async fn a_seed_that_never_answers_does_not_keep_the_cache_off() {
    let black_hole = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let hole = format!("redis://{}/", black_hole.local_addr().expect("address"));
    let cluster = OwnCluster::shared();
    let namespace = Namespace::on_cluster(cluster.urls());
    let mut seeds = vec![hole];
    seeds.extend(cluster.urls());
    let app = TestApp::start(
        &namespace,
        &Arc::default(),
        json!({ "op_timeout_ms": 100, "cluster_nodes": seeds }),
    )
    .await;
    let first = app.get("/item/hole").await;
    assert_eq!(first.status, 200, "{first:?}");
    eventually(
        Duration::from_secs(10),
        "a page is a hit though one seed never answers",
        || async { (app.get("/item/hole").await.x_cache() == "HIT").then_some(()) },
    )
    .await;
}

/// Keys of `namespace` on the one node at `port`.
fn keys_on(port: u16, namespace: &str) -> Vec<String> {
    scan(
        &format!("redis://127.0.0.1:{port}/"),
        &format!("{namespace}:*"),
    )
}

async fn a_cold_key_under_300_requests_on_two_instances_renders_once(store: Shared) {
    const REQUESTS: usize = 300;
    let first = store.app(json!({})).await;
    let second = first.peer(json!({})).await;
    let gate = &first.backend.gate;
    let requests = (0..REQUESTS).map(|i| [&first, &second][i % 2].get("/gated/burst"));
    let hold = async {
        gate.entered().await;
        // Long enough for the burst to arrive on both instances while it renders.
        tokio::time::sleep(Duration::from_millis(300)).await;
        gate.release(REQUESTS);
    };
    let (replies, ()) = tokio::join!(join_all(requests), hold);
    for reply in &replies {
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.body, "/gated/burst render 1", "{reply:?}");
    }
    assert_eq!(first.backend.renders("/gated/burst"), 1);
}

async fn clearing_the_namespace_and_counting_it_reach_every_key(store: Shared) {
    let app = store.app(json!({})).await;
    store_pages(&app, "clear").await;
    let usage = app.cache().usage(10_000).await.expect("usage");
    assert!(usage.complete, "{usage:?}");
    // Pages, plus the tag counters and sets they are filed under.
    assert!(usage.keys >= PAGES as u64, "{usage:?}");
    assert!(usage.bytes > 0, "{usage:?}");

    let cleared = app.cache().clear_all().await.expect("clear");
    assert!(cleared >= PAGES as u64, "cleared {cleared}");
    let left: Vec<String> = app
        .namespace
        .keys()
        .into_iter()
        .filter(|key| key.contains(":localhost:"))
        .collect();
    assert_eq!(left, Vec::<String>::new(), "no page outlives the clear");
    assert_eq!(app.get("/item/clear0").await.x_cache(), "MISS");
}

/// The pages `victim` (a master's port) holds of `namespace`, by path.
fn pages_on(victim: u16, namespace: &str) -> BTreeSet<String> {
    keys_on(victim, namespace)
        .into_iter()
        .filter_map(|key| {
            key.split_once(":localhost:")
                .map(|(_, path)| path.to_owned())
        })
        .filter(|path| path.starts_with("/item/fail"))
        .collect()
}

/// What the failover load saw, from the moment the master stopped answering.
struct Figures {
    requests: usize,
    errors: usize,
    worst: Duration,
    /// Requests after the kill that were not hits.
    uncached: usize,
    /// The first store hit on a page of the dead master, after the kill.
    resumed: Option<Duration>,
    near_hits: usize,
    /// Of the requests to pages of the masters that kept answering, made while
    /// the dead master's pages were not yet hits again: how many, and how many
    /// of them were hits.
    others_during: usize,
    others_hits_during: usize,
}

impl Figures {
    fn of(seen: &[Seen], killed: Instant, victim_pages: &BTreeSet<String>) -> Self {
        let after = || seen.iter().filter(move |s| s.at > killed);
        let resumed = after()
            .filter(|s| victim_pages.contains(&s.path) && store_hit(&s.reply))
            .map(|s| s.at.duration_since(killed))
            .min();
        let outage_ends = killed + resumed.unwrap_or(Duration::MAX / 4);
        let others_during =
            || after().filter(move |s| s.at < outage_ends && !victim_pages.contains(&s.path));
        Self {
            requests: seen.len(),
            errors: seen.iter().filter(|s| s.reply.status != 200).count(),
            worst: seen.iter().map(|s| s.took).max().unwrap_or_default(),
            uncached: after().filter(|s| s.reply.x_cache() != "HIT").count(),
            resumed,
            near_hits: after().filter(|s| near_hit(&s.reply)).count(),
            others_during: others_during().count(),
            others_hits_during: others_during()
                .filter(|s| s.reply.x_cache() == "HIT")
                .count(),
        }
    }
}

/// A master stops answering (SIGSTOP, as a host gone from the network: requests
/// to it hang, only budgets end them) and is SIGKILLed 1.5 s later, while
/// requests keep coming: every request is answered 200 within a second
/// (rendered while the cache cannot answer), the pages of the other masters
/// stay hits meanwhile, and once a replica has been
/// promoted the pages that lived on the dead master are hits again, and the
/// near cache (flushed when the master's link went silent) serves again on
/// links to the new masters. Prints the figures (errors, worst latency, seconds
/// until hits resume).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_under_load_costs_no_request_an_error_and_sharing_resumes() {
    let mut cluster = OwnCluster::start();
    let namespace = Namespace::on_cluster(cluster.urls());
    let app = Arc::new(
        TestApp::start(
            &namespace,
            &Arc::default(),
            json!({ "op_timeout_ms": 100, "default_ttl": 300 }),
        )
        .await,
    );
    let paths = Arc::new(store_pages(&app, "fail").await);
    let victim = cluster.master_ports()[0];
    let victim_pages = pages_on(victim, &namespace.name);
    assert!(!victim_pages.is_empty(), "the victim holds pages");
    // The replicas have the pages before their master goes.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let stop = Arc::new(AtomicBool::new(false));
    // Each worker a task of its own, so that none starves the conductor.
    let load = (0..WORKERS).map(|worker| {
        tokio::spawn(load_worker(
            Arc::clone(&app),
            Arc::clone(&paths),
            Arc::clone(&stop),
            worker,
        ))
    });
    let conductor = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let killed = Instant::now();
        cluster.freeze(victim);
        // The near cache finds the master's link silent and flushes: from then
        // on, a near hit is a copy read from the store after its link came back.
        eventually(
            Duration::from_secs(5),
            "the near cache stops serving once a master is silent",
            || async { (!app.cache().near_serving()).then_some(()) },
        )
        .await;
        // Longer than the node timeout and than any request may take.
        tokio::time::sleep(Duration::from_millis(1_500).saturating_sub(killed.elapsed())).await;
        cluster.kill(victim);
        // Sharing is back when a page of the dead master is a hit again: from
        // the store, or near (read from the store since the flush).
        let page = victim_pages.iter().next().expect("a victim page");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let reply = app.get(page).await;
            if reply.x_cache() == "HIT" && !reply.cache_status().contains("collapsed") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{page} of the killed master is no hit again within 30 s; last answer: \
                 X-Cache {:?}, Cache-Status {:?}; the cluster:\n{}",
                reply.x_cache(),
                reply.cache_status(),
                cluster.nodes_report()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The near cache's links are rebuilt on the new masters.
        eventually(
            Duration::from_secs(30),
            "the near cache serves again",
            || async { app.cache().near_serving().then_some(()) },
        )
        .await;
        let near_back = killed.elapsed();
        // A little more load after the recovery.
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop.store(true, Ordering::SeqCst);
        (killed, near_back)
    };
    let (seen, (killed, near_back)) = tokio::join!(join_all(load), conductor);
    let seen: Vec<Seen> = seen
        .into_iter()
        .flat_map(|worker| worker.expect("a load worker panicked"))
        .collect();
    let f = Figures::of(&seen, killed, &victim_pages);
    eprintln!(
        "failover: {} requests, {} errors, worst latency {:?}, {} not hits after the master \
         stopped answering, store hits on its pages again after {:?}, near cache serving \
         again after {near_back:?} ({} near hits after it stopped); meanwhile {} of {} \
         requests to the other masters' pages were hits",
        f.requests,
        f.errors,
        f.worst,
        f.uncached,
        f.resumed,
        f.near_hits,
        f.others_hits_during,
        f.others_during,
    );
    assert_eq!(f.errors, 0, "every request answered 200");
    assert!(
        f.worst < Duration::from_secs(1),
        "worst latency {:?}",
        f.worst
    );
    // The masters that answer keep serving their pages: only the ranges of
    // slots of the dead master (and the two it shares with its neighbours) are
    // skipped.
    assert!(
        f.others_hits_during * 10 >= f.others_during * 8,
        "{} of {} requests to the pages of the masters that answered were hits",
        f.others_hits_during,
        f.others_during
    );
    assert!(
        f.resumed.is_some(),
        "hits resumed on the dead master's pages"
    );
}
