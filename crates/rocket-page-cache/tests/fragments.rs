//! `Cache::fragment`: parts of a page kept in the store under what they read,
//! shared by every viewer with the same vary, purged with their rows. Part of
//! the shared-store suite (one Redis, a cluster where a fragment, its tags
//! and the purge sequence live in different slots, and the master Sentinel
//! names), and fail-open on a Redis of the test's own.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rocket_page_cache::{Cache, Change, Reads};
use serde_json::json;
use test_support::{eventually, OwnRedis};

use crate::support::app::TestApp;
use crate::support::routes::Backend;
use crate::support::shared::Shared;
use crate::support::Namespace;

crate::on_every_store!(
    a_fragment_is_rendered_once_until_a_row_it_read_changes,
    every_instance_shares_a_fragment_and_each_vary_has_its_own,
    a_fragment_rendered_from_rows_read_before_a_purge_is_not_stored,
    a_fragment_over_the_size_limit_is_served_and_not_stored,
    switched_off_fragments_render_every_time,
    a_fragment_found_in_the_store_is_kept_near_until_a_purge_reaches_each_instance,
);

const TTL: Duration = Duration::from_mins(1);

fn row(key: &str) -> Change {
    Change::Row {
        table: "thing".to_owned(),
        key: key.to_owned(),
    }
}

/// Renders "<p>row N, render R</p>" for row `id`, recording the row, counting
/// renders in `renders`.
async fn shown(
    cache: &Cache,
    vary: &[(&str, &str)],
    id: &str,
    page: &Reads,
    renders: &AtomicU32,
) -> String {
    cache
        .fragment("thing", vary, TTL, page, |own| async move {
            own.row("thing", id);
            let n = renders.fetch_add(1, Ordering::SeqCst) + 1;
            Ok::<_, String>(format!("<p>row {id}, render {n}</p>"))
        })
        .await
        .expect("renders")
}

async fn a_fragment_is_rendered_once_until_a_row_it_read_changes(store: Shared) {
    let app = store.app(json!({})).await;
    let cache = app.cache();
    let renders = AtomicU32::new(0);
    let vary = [("role", "admin")];

    let page = Reads::default();
    let first = shown(cache, &vary, "7", &page, &renders).await;
    let again = Reads::default();
    let second = shown(cache, &vary, "7", &again, &renders).await;
    assert_eq!(first, "<p>row 7, render 1</p>");
    assert_eq!(second, first, "the stored fragment");
    assert_eq!(
        again.snapshot().tags().unwrap(),
        ["db:thing", "db:thing:row:7"],
        "a hit hands its reads to the page"
    );
    assert_eq!(again.snapshot(), page.snapshot());

    cache
        .purge_changes(&[row("8")], false)
        .await
        .expect("purge");
    let other_row = shown(cache, &vary, "7", &Reads::default(), &renders).await;
    assert_eq!(other_row, first, "a change of another row leaves it");
    cache
        .purge_changes(&[row("7")], false)
        .await
        .expect("purge");
    let fresh = shown(cache, &vary, "7", &Reads::default(), &renders).await;
    assert_eq!(fresh, "<p>row 7, render 2</p>", "purged with its row");
    let stats = cache.stats_snapshot();
    assert_eq!((stats.fragment_hits, stats.fragment_renders), (2, 2));
}

async fn every_instance_shares_a_fragment_and_each_vary_has_its_own(store: Shared) {
    let app = store.app(json!({})).await;
    let other = app.peer(json!({})).await;
    let renders = AtomicU32::new(0);
    let admin = [("role", "admin"), ("page", "1")];
    let editor = [("role", "editor"), ("page", "1")];

    let first = shown(app.cache(), &admin, "1", &Reads::default(), &renders).await;
    let elsewhere = shown(other.cache(), &admin, "1", &Reads::default(), &renders).await;
    assert_eq!(elsewhere, first, "another instance finds it in the store");
    let theirs = shown(other.cache(), &editor, "1", &Reads::default(), &renders).await;
    assert_eq!(
        theirs, "<p>row 1, render 2</p>",
        "another vary renders its own"
    );
    assert_ne!(
        app.cache().fragment_key("thing", &admin),
        app.cache().fragment_key("thing", &editor)
    );
    let page_two = [("role", "admin"), ("page", "2")];
    shown(app.cache(), &page_two, "1", &Reads::default(), &renders).await;
    assert_eq!(renders.load(Ordering::SeqCst), 3);

    let deleted = app
        .cache()
        .delete_key(&app.cache().fragment_key("thing", &admin))
        .await;
    assert_eq!(deleted.expect("delete"), 1, "its key is the one stored");
}

async fn a_fragment_rendered_from_rows_read_before_a_purge_is_not_stored(store: Shared) {
    let app = store.app(json!({})).await;
    let cache = app.cache();
    let (read, read_done) = tokio::sync::oneshot::channel::<()>();
    let (purged, purge_done) = tokio::sync::oneshot::channel::<()>();
    let page = Reads::default();
    let render = cache.fragment("slow", &[], TTL, &page, |own| async move {
        own.row("thing", 9);
        let old = "<p>row 9, old</p>".to_owned();
        read.send(()).expect("the test waits");
        purge_done.await.expect("the test purges");
        Ok::<_, String>(old)
    });
    let write = async {
        read_done.await.expect("the render read row 9");
        cache
            .purge_changes(&[row("9")], false)
            .await
            .expect("purge");
        purged.send(()).expect("the render waits");
    };
    let (old, ()) = tokio::join!(render, write);
    assert_eq!(old.as_deref(), Ok("<p>row 9, old</p>"), "still shown once");

    let next: Result<String, String> = cache
        .fragment("slow", &[], TTL, &Reads::default(), |own| async move {
            own.row("thing", 9);
            Ok("<p>row 9, new</p>".to_owned())
        })
        .await;
    assert_eq!(
        next.as_deref(),
        Ok("<p>row 9, new</p>"),
        "the old render was kept out"
    );
}

async fn a_fragment_over_the_size_limit_is_served_and_not_stored(store: Shared) {
    let app = store.app(json!({ "max_body_bytes": 1000 })).await;
    let renders = AtomicU32::new(0);
    for n in 1..=2 {
        let big: Result<String, String> = app
            .cache()
            .fragment("big", &[], TTL, &Reads::default(), |_| async {
                renders.fetch_add(1, Ordering::SeqCst);
                Ok("x".repeat(2000))
            })
            .await;
        assert_eq!(big.map(|html| html.len()), Ok(2000));
        assert_eq!(renders.load(Ordering::SeqCst), n, "rendered each time");
    }
}

async fn switched_off_fragments_render_every_time(store: Shared) {
    let app = store.app(json!({ "fragments": false })).await;
    let renders = AtomicU32::new(0);
    let page = Reads::default();
    for _ in 0..2 {
        shown(app.cache(), &[], "3", &page, &renders).await;
    }
    assert_eq!(renders.load(Ordering::SeqCst), 2);
    assert_eq!(
        page.snapshot().tags().unwrap(),
        ["db:thing", "db:thing:row:3"],
        "the page still gets the reads"
    );
}

#[tokio::test]
async fn a_fragment_is_rendered_when_the_store_fails_and_cached_again_when_it_is_back() {
    let redis = OwnRedis::start().await;
    let app = TestApp::start_on(
        &redis.url,
        &Namespace::throwaway(&redis.url),
        &std::sync::Arc::new(Backend::default()),
        json!({ "op_timeout_ms": 50, "near_max_bytes": 0 }),
    )
    .await;
    let renders = AtomicU32::new(0);
    let cache = app.cache();
    shown(cache, &[], "5", &Reads::default(), &renders).await;
    shown(cache, &[], "5", &Reads::default(), &renders).await;
    assert_eq!(renders.load(Ordering::SeqCst), 1);

    redis.freeze();
    let page = Reads::default();
    for n in 2..=4 {
        let view = shown(cache, &[], "5", &page, &renders);
        let html = tokio::time::timeout(Duration::from_secs(5), view)
            .await
            .expect("answered within the budget");
        assert_eq!(html, format!("<p>row 5, render {n}</p>"));
    }
    assert!(cache.stats_snapshot().errors > 0, "counted");

    redis.thaw();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        shown(cache, &[], "5", &Reads::default(), &renders).await;
        let before = renders.load(Ordering::SeqCst);
        shown(cache, &[], "5", &Reads::default(), &renders).await;
        if renders.load(Ordering::SeqCst) == before {
            break; // it came from the store
        }
        assert!(
            std::time::Instant::now() < deadline,
            "fragments are kept again within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the instance's near cache serves (its link has tracking on).
async fn near_serves(app: &TestApp) {
    eventually(Duration::from_secs(30), "the near cache serves", || async {
        app.cache().near_serving().then_some(())
    })
    .await;
}

async fn a_fragment_found_in_the_store_is_kept_near_until_a_purge_reaches_each_instance(
    store: Shared,
) {
    let app = store.app(json!({})).await;
    let other = app.peer(json!({})).await;
    near_serves(&app).await;
    near_serves(&other).await;
    let renders = AtomicU32::new(0);
    let first = shown(app.cache(), &[], "4", &Reads::default(), &renders).await;
    // The store's invalidation of the new key reaches the other instance's link
    // a moment later, and would drop a copy kept before it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for instance in [&app, &other] {
        shown(instance.cache(), &[], "4", &Reads::default(), &renders).await;
        let page = Reads::default();
        let again = shown(instance.cache(), &[], "4", &page, &renders).await;
        assert_eq!(again, first);
        assert_eq!(
            page.snapshot().tags().unwrap(),
            ["db:thing", "db:thing:row:4"],
            "a near hit hands its reads to the page too"
        );
        let stats = instance.cache().stats_snapshot();
        assert_eq!(stats.fragment_near_hits, 1, "the second view is near");
    }
    assert_eq!(renders.load(Ordering::SeqCst), 1);

    app.cache()
        .purge_changes(&[row("4")], false)
        .await
        .expect("purge");
    let purger = shown(app.cache(), &[], "4", &Reads::default(), &renders).await;
    assert_eq!(
        purger, "<p>row 4, render 2</p>",
        "the purger's own copy goes at once"
    );
    eventually(
        Duration::from_secs(5),
        "the other instance drops its near copy",
        || async {
            let seen = shown(other.cache(), &[], "4", &Reads::default(), &renders).await;
            (seen != first).then_some(())
        },
    )
    .await;
}
