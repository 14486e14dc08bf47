//! A Redis that is full: the tag index (sets that find a tag's pages, purge
//! marks, the purge sequence) has no lifetime, so a `volatile-*` policy evicts
//! pages and never what a purge needs; the index sweep bounds it instead; a
//! policy that could evict it is refused; and a Redis out of memory under
//! `noeviction` still lets a purge remove its pages.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rocket::local::asynchronous::Client;
use rocket_page_cache::index_sweep::IndexSweeper;
use rocket_page_cache::{Change, PageCache};
use serde_json::json;
use test_support::OwnRedis;

use crate::support::app::{cache_table, figment, TestApp, SESSION_COOKIE};
use crate::support::shared::Shared;
use crate::support::{routes, Namespace};

crate::on_every_store!(
    the_tag_index_has_no_lifetime_and_pages_have_one,
    a_member_gone_at_two_sweeps_is_removed_and_one_stored_again_is_kept,
    a_mark_older_than_a_render_may_be_is_dropped_and_a_young_one_kept,
    a_render_that_began_longer_ago_than_a_mark_lives_is_not_stored,
    the_instance_sweeps_the_index_by_itself,
);

fn row(key: &str) -> Change {
    Change::Row {
        table: "thing".to_owned(),
        key: key.to_owned(),
    }
}

/// Redis's clock in µs, as purge numbers count (the tests run beside it).
fn now_micros() -> u64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u64::try_from(since_epoch.as_micros()).unwrap()
}

fn keys_containing(namespace: &Namespace, part: &str) -> Vec<String> {
    namespace
        .keys()
        .into_iter()
        .filter(|key| key.contains(part))
        .collect()
}

fn pttl(namespace: &Namespace, key: &str) -> i64 {
    namespace.command(redis::cmd("PTTL").arg(key))
}

async fn the_tag_index_has_no_lifetime_and_pages_have_one(store: Shared) {
    let namespace = store.namespace();
    let app = TestApp::start(&namespace, &Arc::default(), json!({})).await;
    app.get("/shows/1").await;
    app.get("/shows/all").await;
    app.cache()
        .purge_changes(&[row("9")], false)
        .await
        .expect("purge");
    let sets = keys_containing(&namespace, ":tag:");
    let marks = keys_containing(&namespace, ":tgen:");
    let sequence = keys_containing(&namespace, "purge-seq");
    assert!(sets.len() >= 3, "{sets:?}");
    assert!(!marks.is_empty() && sequence.len() == 1, "{marks:?}");
    for key in sets.iter().chain(&marks).chain(&sequence) {
        assert_eq!(pttl(&namespace, key), -1, "{key} must not be evictable");
    }
    let page = namespace.page_key("/shows/all").expect("page stored");
    assert!(pttl(&namespace, &page) > 0, "a page has a lifetime");
}

async fn a_member_gone_at_two_sweeps_is_removed_and_one_stored_again_is_kept(store: Shared) {
    let namespace = store.namespace();
    let app = TestApp::start(&namespace, &Arc::default(), json!({})).await;
    for path in ["/shows/1", "/shows/2"] {
        assert_eq!(app.get(path).await.x_cache(), "MISS");
    }
    let gone = namespace.page_key("/shows/1").unwrap();
    let back = namespace.page_key("/shows/2").unwrap();
    // As Redis would evict them.
    let _: u64 = namespace.command(redis::cmd("UNLINK").arg(&gone));
    let _: u64 = namespace.command(redis::cmd("UNLINK").arg(&back));

    let mut sweeper = IndexSweeper::default();
    let first = sweeper.sweep(app.cache()).await.expect("sweep");
    assert_eq!(first.members_removed, 0, "{first:?}");
    assert!(first.members_suspected >= 2, "{first:?}");
    assert_eq!(app.get("/shows/2").await.x_cache(), "MISS", "stored again");
    let second = sweeper.sweep(app.cache()).await.expect("sweep");
    assert!(second.members_removed > 0, "{second:?}");

    let filed = |key: &str| -> bool {
        keys_containing(&namespace, ":tag:").iter().any(|set| {
            let member: bool = namespace.command(redis::cmd("SISMEMBER").arg(set).arg(key));
            member
        })
    };
    assert!(!filed(&gone), "the member of a gone page is removed");
    assert!(filed(&back), "the page stored again stays filed");
    app.cache()
        .purge_changes(&[row("2")], false)
        .await
        .expect("purge");
    assert_eq!(app.get("/shows/2").await.x_cache(), "MISS", "still purged");
}

async fn the_instance_sweeps_the_index_by_itself(store: Shared) {
    let namespace = store.namespace();
    let settings = json!({ "index_sweep_secs": 10 });
    let app = TestApp::start(&namespace, &Arc::default(), settings).await;
    app.get("/shows/1").await;
    let gone = namespace.page_key("/shows/1").expect("page stored");
    let _: u64 = namespace.command(redis::cmd("UNLINK").arg(&gone));
    let filed = || {
        keys_containing(&namespace, ":tag:").iter().any(|set| {
            let member: bool = namespace.command(redis::cmd("SISMEMBER").arg(set).arg(&gone));
            member
        })
    };
    assert!(filed(), "filed until swept");
    // Found gone at the first sweep (10 s), removed at the second (20 s).
    test_support::eventually(
        std::time::Duration::from_secs(35),
        "the background sweep removes the gone page's members",
        || async { (!filed()).then_some(()) },
    )
    .await;
}

async fn a_mark_older_than_a_render_may_be_is_dropped_and_a_young_one_kept(store: Shared) {
    let namespace = store.namespace();
    let app = TestApp::start(&namespace, &Arc::default(), json!({})).await;
    app.cache()
        .purge_changes(&[row("5")], false)
        .await
        .expect("purge");
    let marks_of_row = |n: &str| -> Vec<String> {
        keys_containing(&namespace, ":tgen:")
            .into_iter()
            .filter(|key| key.ends_with(&format!(":row:{n}")))
            .collect()
    };
    let old = marks_of_row("5").pop().expect("a mark");
    let eleven_minutes_ago = now_micros() - 11 * 60 * 1_000_000;
    let () = namespace.command(redis::cmd("SET").arg(&old).arg(eleven_minutes_ago));
    app.cache()
        .purge_changes(&[row("6")], false)
        .await
        .expect("purge");

    let report = IndexSweeper::default()
        .sweep(app.cache())
        .await
        .expect("sweep");
    assert_eq!(report.marks_dropped, 1, "{report:?}");
    assert!(marks_of_row("5").is_empty(), "the old mark went");
    assert_eq!(marks_of_row("6").len(), 1, "the young one stays");
}

async fn a_render_that_began_longer_ago_than_a_mark_lives_is_not_stored(store: Shared) {
    let namespace = store.namespace();
    let app = TestApp::start(&namespace, &Arc::default(), json!({})).await;
    app.cache()
        .purge_changes(&[row("1")], false)
        .await
        .expect("purge");
    let sequence = keys_containing(&namespace, "purge-seq").pop().unwrap();
    // A render reads the sequence before it starts: set it as if that had been
    // eleven minutes ago (and no purge since).
    let eleven_minutes_ago = now_micros() - 11 * 60 * 1_000_000;
    let () = namespace.command(redis::cmd("SET").arg(&sequence).arg(eleven_minutes_ago));
    assert_eq!(app.get("/shows/7").await.x_cache(), "MISS");
    assert_eq!(app.get("/shows/7").await.x_cache(), "MISS", "not stored");
    let () = namespace.command(redis::cmd("SET").arg(&sequence).arg(now_micros()));
    assert_eq!(app.get("/shows/7").await.x_cache(), "MISS");
    assert_eq!(app.get("/shows/7").await.x_cache(), "HIT");
}

/// The test app on `redis`, or why it did not start.
async fn try_start(redis: &OwnRedis, namespace: &Arc<Namespace>) -> Result<Client, String> {
    let rocket = rocket::custom(figment(cache_table(namespace, &redis.url, &json!({}))))
        .attach(PageCache::new(routes::policies()).private_cookie(SESSION_COOKIE))
        .manage(Arc::new(routes::Backend::default()))
        .mount("/", routes::all());
    Client::untracked(rocket).await.map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_policy_that_may_evict_the_index_is_refused_at_start() {
    let refused = ["allkeys-lru", "allkeys-lfu", "allkeys-random"];
    for policy in refused {
        let redis =
            OwnRedis::start_with(&["--maxmemory", "64mb", "--maxmemory-policy", policy]).await;
        let namespace = Namespace::throwaway(&redis.url);
        assert!(try_start(&redis, &namespace).await.is_err(), "{policy}");
    }
    for policy in ["volatile-lru", "volatile-ttl", "noeviction"] {
        let redis =
            OwnRedis::start_with(&["--maxmemory", "64mb", "--maxmemory-policy", policy]).await;
        let namespace = Namespace::throwaway(&redis.url);
        assert!(try_start(&redis, &namespace).await.is_ok(), "{policy}");
    }
}

fn info_field(url: &str, field: &str) -> u64 {
    let mut conn = redis::Client::open(url).unwrap().get_connection().unwrap();
    let info: String = redis::cmd("INFO").query(&mut conn).unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("INFO has no {field}"))
}

/// Writes `bytes` of values that have a lifetime, as other pages would.
fn fill_with_volatile_keys(url: &str, bytes: usize) {
    let mut conn = redis::Client::open(url).unwrap().get_connection().unwrap();
    let value = vec![b'x'; 16 * 1024];
    for i in 0..bytes / value.len() {
        let _: redis::RedisResult<()> = redis::cmd("SET")
            .arg(format!("filler:{i}"))
            .arg(&value)
            .arg("PX")
            .arg(600_000)
            .query(&mut conn);
    }
}

#[tokio::test]
async fn under_a_volatile_policy_a_full_redis_evicts_pages_and_every_purge_finds_its_own() {
    let redis =
        OwnRedis::start_with(&["--maxmemory", "4mb", "--maxmemory-policy", "volatile-lru"]).await;
    let namespace = Namespace::throwaway(&redis.url);
    let app = TestApp::start_on(&redis.url, &namespace, &Arc::default(), json!({})).await;
    let paths: Vec<String> = (0..200).map(|i| format!("/shows/{i},{}", i + 1)).collect();
    for path in &paths {
        assert_eq!(app.get(path).await.x_cache(), "MISS");
    }
    let sets_before = keys_containing(&namespace, ":tag:").len();
    fill_with_volatile_keys(&redis.url, 12 << 20);
    assert!(info_field(&redis.url, "evicted_keys") > 0, "Redis was full");
    assert_eq!(
        keys_containing(&namespace, ":tag:").len(),
        sets_before,
        "no tag set was evicted"
    );
    let survivors: Vec<&String> = paths
        .iter()
        .filter(|path| namespace.page_key(path).is_some())
        .collect();
    let rows: Vec<Change> = (0..=200).map(|i| row(&i.to_string())).collect();
    app.cache()
        .purge_changes(&rows, false)
        .await
        .expect("purge");
    for path in &paths {
        assert!(
            namespace.page_key(path).is_none(),
            "{path} outlived the purge of its rows ({} had survived the flood)",
            survivors.len()
        );
    }
}

#[tokio::test]
async fn a_redis_out_of_memory_under_noeviction_still_lets_a_purge_remove_its_pages() {
    let redis =
        OwnRedis::start_with(&["--maxmemory", "3mb", "--maxmemory-policy", "noeviction"]).await;
    let namespace = Namespace::throwaway(&redis.url);
    let app = TestApp::start_on(&redis.url, &namespace, &Arc::default(), json!({})).await;
    assert_eq!(app.get("/shows/1").await.x_cache(), "MISS");
    assert_eq!(app.get("/shows/1").await.x_cache(), "HIT");
    let mut conn = redis::Client::open(redis.url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let value = vec![b'x'; 16 * 1024];
    let mut full = false;
    for i in 0..1000 {
        let set: redis::RedisResult<()> = redis::cmd("SET")
            .arg(format!("filler:{i}"))
            .arg(&value)
            .query(&mut conn);
        if set.is_err() {
            full = true;
            break;
        }
    }
    assert!(full, "Redis refuses writes");
    let purged = app.cache().purge_changes(&[row("1")], false).await;
    assert_eq!(purged.expect("the purge runs out of memory too"), 1);
    assert!(namespace.page_key("/shows/1").is_none());
    assert_ne!(app.get("/shows/1").await.x_cache(), "HIT");
}
