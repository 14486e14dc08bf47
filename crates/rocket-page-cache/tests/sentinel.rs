//! The page cache under Redis Sentinel (`cache.sentinel`): pages live on the
//! master the sentinels name, and when that master is killed under load no
//! request fails, the cache is shared again once a replica is promoted, and a
//! purge made after the failover is seen by every instance, near caches
//! included. (Every test of the shared-store suite also runs on a Sentinel
//! deployment: `sentinel::<name>`.)

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::json;
use test_support::{eventually, OwnSentinel};

use crate::support::app::{Reply, TestApp};
use crate::support::failover_load::{load_worker, near_hit, store_hit, Seen, WORKERS};
use crate::support::shared::Shared;
use crate::support::Namespace;

#[tokio::test]
async fn pages_are_shared_through_the_master_the_sentinels_name() {
    let first = Shared::Sentinel.app(json!({})).await;
    let second = first.peer(json!({})).await;
    assert_eq!(first.get("/item/s1").await.x_cache(), "MISS");
    let hit = second.get("/item/s1").await;
    assert_eq!(hit.x_cache(), "HIT", "{hit:?}");
    assert_eq!(hit.body, "/item/s1 render 1");
    // The page is on the master the sentinels name (the namespace scans it).
    assert!(first.namespace.page_key("/item/s1").is_some());

    let health = first.cache().health().await;
    assert_eq!((health.status, health.backend), ("up", "redis-sentinel"));
    let master = OwnSentinel::shared().master_port().expect("a master");
    let limits = first.cache().memory_limits().await.expect("INFO memory");
    assert_eq!(limits.len(), 1, "{limits:?}");
    assert_eq!(limits[0].node, format!("127.0.0.1:{master}"));
}

#[tokio::test]
async fn sentinels_that_do_not_answer_leave_pages_served_uncached() {
    let nobody = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = nobody.local_addr().expect("address").port();
    drop(nobody);
    let sentinel = json!({ "master": "absent", "nodes": [format!("redis://127.0.0.1:{port}/")] });
    let namespace = Namespace::on_sentinel(format!("redis://127.0.0.1:{port}/"), sentinel);
    let app = TestApp::start(&namespace, &Arc::default(), json!({ "op_timeout_ms": 100 })).await;
    for _ in 0..3 {
        let reply = app.get("/item/nobody").await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_ne!(reply.x_cache(), "HIT");
    }
    assert_eq!(app.backend.renders("/item/nobody"), 3);
    let health = app.cache().health().await;
    assert_eq!(
        (health.status, health.backend),
        ("degraded", "redis-sentinel")
    );
}

/// Pages the failover load goes round.
const PAGES: usize = 20;

/// How late the purge's invalidation may reach the other instance's near
/// cache, as in the near cache's own tests (the purger drops its own at once).
const STALENESS_BOUND: Duration = Duration::from_millis(50);

/// The render a page's body comes from (`<path> render <n>`).
fn render_of(reply: &Reply) -> usize {
    reply
        .body
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no render number in {:?}", reply.body))
}

/// Whether `worker` of the load asks the instance that makes the purge.
fn on_purger(worker: usize) -> bool {
    worker.is_multiple_of(2)
}

/// When each step of the failover was seen, from the kill.
struct Timeline {
    killed: Instant,
    promoted: Duration,
    /// A page stored by one instance after the kill is a hit on the other.
    shared: Duration,
    /// Both instances' near caches serve again.
    near_back: Duration,
    purged: Instant,
    /// Render counts of each page when the purge returned: a later answer
    /// from one of these renders is stale.
    renders_at_purge: BTreeMap<String, usize>,
}

/// Waits until what one instance renders and stores, the other hits.
async fn until_shared(deployment: &OwnSentinel, (first, second): (&TestApp, &TestApp)) {
    let deadline = Instant::now() + Duration::from_secs(30);
    for probe in 0.. {
        let path = format!("/item/after{probe}");
        first.get(&path).await;
        let reply = second.get(&path).await;
        if store_hit(&reply) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not shared again within 30 s; last answer: {reply:?}; the sentinels:\n{}",
            deployment.report()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until both instances' near caches serve again.
async fn until_near_serves((first, second): (&TestApp, &TestApp)) {
    for app in [first, second] {
        eventually(
            Duration::from_secs(30),
            "the near cache serves again",
            || async { app.cache().near_serving().then_some(()) },
        )
        .await;
    }
}

/// Kills the master, follows the failover until both instances share the
/// cache and serve near again, then purges every page and lets the load run a
/// second more; stops the load.
async fn fail_over(
    deployment: &mut OwnSentinel,
    (first, second): (&TestApp, &TestApp),
    paths: &[String],
    stop: &AtomicBool,
) -> Timeline {
    let old_master = deployment.master_port().expect("a master");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let killed = Instant::now();
    deployment.kill(old_master);
    let deployment = &*deployment;
    let new_master = tokio::task::block_in_place(|| deployment.wait_for_new_master(old_master));
    assert_ne!(new_master, old_master);
    let promoted = killed.elapsed();
    until_shared(deployment, (first, second)).await;
    let shared = killed.elapsed();
    until_near_serves((first, second)).await;
    let near_back = killed.elapsed();
    // Let the near caches fill from the new master, then purge every page.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let renders_at_purge = paths
        .iter()
        .map(|path| (path.clone(), first.backend.renders(path)))
        .collect();
    first
        .cache()
        .purge_tags(&["items".to_owned()], false)
        .await
        .expect("a purge on the new master");
    let purged = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::SeqCst);
    Timeline {
        killed,
        promoted,
        shared,
        near_back,
        purged,
        renders_at_purge,
    }
}

/// What the load saw, against the timeline.
struct Figures {
    requests: usize,
    errors: usize,
    worst: Duration,
    /// Requests between the kill and sharing again that were not hits.
    uncached_during: usize,
    after_purge: usize,
    /// Answers after the purge from a render made before it: from the purger
    /// or from the store at once, from the other's near cache past
    /// [`STALENESS_BOUND`].
    stale: Vec<String>,
    hits_after: usize,
    near_after: usize,
}

impl Figures {
    fn of(seen: &[Seen], timeline: &Timeline) -> Self {
        let after_purge: Vec<&Seen> = seen.iter().filter(|s| s.at > timeline.purged).collect();
        Self {
            requests: seen.len(),
            errors: seen.iter().filter(|s| s.reply.status != 200).count(),
            worst: seen.iter().map(|s| s.took).max().unwrap_or_default(),
            uncached_during: seen
                .iter()
                .filter(|s| s.at > timeline.killed && s.at < timeline.killed + timeline.shared)
                .filter(|s| s.reply.x_cache() != "HIT")
                .count(),
            after_purge: after_purge.len(),
            stale: after_purge
                .iter()
                .filter(|s| render_of(&s.reply) <= timeline.renders_at_purge[&s.path])
                .filter(|s| {
                    on_purger(s.worker)
                        || !near_hit(&s.reply)
                        || s.at >= timeline.purged + STALENESS_BOUND
                })
                .map(|s| {
                    let after = s.at.duration_since(timeline.purged);
                    let instance = if on_purger(s.worker) {
                        "purger"
                    } else {
                        "other"
                    };
                    format!(
                        "{} {after:?} after, on the {instance}: {}",
                        s.reply.body,
                        s.reply.cache_status()
                    )
                })
                .collect(),
            hits_after: after_purge
                .iter()
                .filter(|s| s.reply.x_cache() == "HIT")
                .count(),
            near_after: after_purge.iter().filter(|s| near_hit(&s.reply)).count(),
        }
    }
}

/// The master of a Sentinel deployment is SIGKILLed while two instances (near
/// caches on) serve a steady load: every request is answered 200 (rendered
/// while the cache cannot answer), a page stored by one instance is a hit on
/// the other within 10 s of the kill, both near caches serve again on links to
/// the promoted master, and after a purge made once sharing is back no
/// instance serves a page rendered before it (the other instance's near cache
/// once the invalidation had its 50 ms to arrive). Prints the figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_under_load_fails_no_request_and_no_read_is_stale_after_the_failover() {
    let mut deployment = OwnSentinel::start();
    let namespace = Namespace::on_sentinel(deployment.master_url(), deployment.config());
    let settings = json!({ "op_timeout_ms": 100, "default_ttl": 300 });
    let first = Arc::new(TestApp::start(&namespace, &Arc::default(), settings.clone()).await);
    let second = Arc::new(first.peer(settings).await);
    let paths: Vec<String> = (0..PAGES).map(|i| format!("/item/fail{i}")).collect();
    for path in &paths {
        assert_eq!(first.get(path).await.x_cache(), "MISS");
    }
    let paths = Arc::new(paths);
    for app in [&first, &second] {
        eventually(Duration::from_secs(10), "the near cache serves", || async {
            app.cache().near_serving().then_some(())
        })
        .await;
    }
    // The replica has the pages before its master goes.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let stop = Arc::new(AtomicBool::new(false));
    let load = (0..WORKERS).map(|worker| {
        // Even workers ask `first`, which makes the purge (`on_purger`).
        let app = Arc::clone(if on_purger(worker) { &first } else { &second });
        tokio::spawn(load_worker(
            app,
            Arc::clone(&paths),
            Arc::clone(&stop),
            worker,
        ))
    });
    let conductor = fail_over(&mut deployment, (&first, &second), &paths, &stop);
    let (seen, timeline) = tokio::join!(join_all(load), conductor);
    let seen: Vec<Seen> = seen
        .into_iter()
        .flat_map(|worker| worker.expect("a load worker panicked"))
        .collect();
    let f = Figures::of(&seen, &timeline);
    eprintln!(
        "sentinel failover: {} requests, {} errors, worst latency {:?}; master promoted \
         {:.1} s after the kill, cache shared again after {:.1} s, near caches serving again \
         after {:.1} s; {} requests rendered meanwhile; after the purge: {} requests, {} \
         stale, {} hits ({} near)",
        f.requests,
        f.errors,
        f.worst,
        timeline.promoted.as_secs_f64(),
        timeline.shared.as_secs_f64(),
        timeline.near_back.as_secs_f64(),
        f.uncached_during,
        f.after_purge,
        f.stale.len(),
        f.hits_after,
        f.near_after,
    );
    assert_eq!(f.errors, 0, "every request answered 200");
    assert!(
        timeline.shared < Duration::from_secs(10),
        "shared again after {:?}",
        timeline.shared
    );
    assert_eq!(
        f.stale,
        Vec::<String>::new(),
        "pages rendered before the purge"
    );
    assert!(
        f.hits_after > 0 && f.near_after > 0,
        "the cache and the near caches served after the purge ({} hits, {} near)",
        f.hits_after,
        f.near_after
    );
}

/// A master handed over without dying (`SENTINEL FAILOVER`) answers as a
/// master until Sentinel converts it, seconds later, and loses what was written
/// to it meanwhile: both instances leave it for the master the sentinels name
/// within a second, their near caches follow, and a purge made then is seen by
/// both. Prints how long the stores and the near caches took to move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_handed_over_alive_is_left_for_the_one_the_sentinels_name() {
    let deployment = OwnSentinel::start();
    let namespace = Namespace::on_sentinel(deployment.master_url(), deployment.config());
    let settings = json!({ "op_timeout_ms": 100 });
    let first = TestApp::start(&namespace, &Arc::default(), settings.clone()).await;
    let second = first.peer(settings).await;
    until_near_serves((&first, &second)).await;
    let old = deployment.master_port().expect("a master");
    deployment.hand_over();
    let new = tokio::task::block_in_place(|| deployment.wait_for_new_master(old));
    let named = Instant::now();
    let new_master = format!("redis://127.0.0.1:{new}/");
    for (i, app) in [&first, &second].into_iter().enumerate() {
        let mut probe = 0;
        eventually(
            Duration::from_secs(3),
            "pages stored on the new master",
            || {
                probe += 1;
                let path = format!("/item/moved{i}-{probe}");
                let (new_master, namespace) = (&new_master, &namespace.name);
                async move {
                    app.get(&path).await;
                    let suffix = format!(":localhost:{path}");
                    test_support::scan(new_master, &format!("{namespace}:*"))
                        .iter()
                        .any(|key| key.ends_with(&suffix))
                        .then_some(())
                }
            },
        )
        .await;
    }
    let stores_moved = named.elapsed();
    until_near_serves((&first, &second)).await;
    let near_moved = named.elapsed();
    eprintln!(
        "sentinel hand-over: both stores on the new master {:.2} s after the sentinels named \
         it, near caches serving again after {:.2} s",
        stores_moved.as_secs_f64(),
        near_moved.as_secs_f64()
    );

    let path = "/item/handed";
    first.get(path).await;
    eventually(
        Duration::from_secs(5),
        "a near hit on the new master",
        || async { near_hit(&second.get(path).await).then_some(()) },
    )
    .await;
    let before = first.backend.renders(path);
    first
        .cache()
        .purge_tags(&["item:handed".to_owned()], false)
        .await
        .expect("a purge on the new master");
    // The near caches drop the page when the new master's invalidation arrives:
    // at once on a quiet machine, later under load, well within their backstop.
    for app in [&first, &second] {
        eventually(
            Duration::from_secs(3),
            "the purge seen on the new master",
            || async { (render_of(&app.get(path).await) > before).then_some(()) },
        )
        .await;
    }
}
