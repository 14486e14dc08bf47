//! Purges remove exactly the pages filed under a tag or path, and a purge
//! during a render keeps that render out of the store: part of the shared-store
//! suite, run against one Redis and against a cluster (where a page and its
//! tags live in different slots).

use serde_json::json;

use crate::support::shared::Shared;

crate::on_every_store!(
    purging_a_tag_removes_exactly_the_pages_filed_under_it,
    purging_a_path_removes_its_pages_under_every_query,
    a_purge_during_a_render_keeps_that_render_out_of_the_store,
    a_purge_after_a_write_reaches_pages_in_every_slot,
    a_soft_purge_keeps_pages_served_stale_in_every_slot,
);

async fn purging_a_tag_removes_exactly_the_pages_filed_under_it(store: Shared) {
    let app = store.app(json!({})).await;
    for path in ["/item/1", "/item/2"] {
        assert_eq!(app.get(path).await.x_cache(), "MISS");
    }
    let purged = app
        .cache()
        .purge_tags(&["item:1".to_owned()], false)
        .await
        .expect("purge");
    assert_eq!(purged, 1, "one page under item:1");

    assert_eq!(app.get("/item/1").await.x_cache(), "MISS");
    assert_eq!(app.get("/item/2").await.x_cache(), "HIT");
    assert_eq!(app.backend.renders("/item/1"), 2);
    assert_eq!(app.backend.renders("/item/2"), 1);
}

async fn purging_a_path_removes_its_pages_under_every_query(store: Shared) {
    let app = store.app(json!({})).await;
    for uri in ["/q?page=1", "/q?page=2", "/item/3"] {
        assert_eq!(app.get(uri).await.x_cache(), "MISS");
    }
    let purged = app.cache().purge_path("/q?ignored=1", false).await;
    assert_eq!(purged.expect("purge"), 2);

    assert_eq!(app.get("/q?page=1").await.x_cache(), "MISS");
    assert_eq!(app.get("/q?page=2").await.x_cache(), "MISS");
    assert_eq!(app.get("/item/3").await.x_cache(), "HIT");
    assert_eq!(app.backend.renders("/q"), 4);
}

async fn a_purge_during_a_render_keeps_that_render_out_of_the_store(store: Shared) {
    let app = store.app(json!({})).await;
    let gate = &app.backend.gate;
    let render = app.get("/gated/9");
    let purge = async {
        gate.entered().await; // the render has taken its tag stamps
        app.cache()
            .purge_tags(&["item:9".to_owned()], false)
            .await
            .expect("purge");
        gate.release(1);
    };
    let (rendered, ()) = tokio::join!(render, purge);
    assert_eq!(rendered.status, 200);

    gate.release(1); // for the next render, if there is one
    let next = app.get("/gated/9").await;
    assert_eq!(next.x_cache(), "MISS", "{next:?}");
    assert_eq!(app.backend.renders("/gated/9"), 2);
}

/// Pages enough that, on a cluster, they live in many slots on every master
/// while the tag they share lives in one.
const SPREAD: usize = 24;

async fn a_purge_after_a_write_reaches_pages_in_every_slot(store: Shared) {
    let app = store.app(json!({})).await;
    let paths: Vec<String> = (0..SPREAD).map(|i| format!("/item/w{i}")).collect();
    for path in &paths {
        assert_eq!(app.get(path).await.x_cache(), "MISS");
    }
    let purged = app
        .cache()
        .purge_tags(&["items".to_owned()], false)
        .await
        .expect("purge");
    assert_eq!(purged, SPREAD as u64, "every page under items");
    for path in &paths {
        assert_eq!(app.get(path).await.x_cache(), "MISS", "{path} was purged");
    }
    for path in &paths {
        assert_eq!(app.get(path).await.x_cache(), "HIT", "{path} stored again");
        assert_eq!(app.backend.renders(path), 2);
    }
}

async fn a_soft_purge_keeps_pages_served_stale_in_every_slot(store: Shared) {
    let app = store.app(json!({})).await;
    let paths: Vec<String> = (0..SPREAD).map(|i| format!("/item/s{i}")).collect();
    for path in &paths {
        assert_eq!(app.get(path).await.x_cache(), "MISS");
    }
    let touched = app
        .cache()
        .purge_tags(&["items".to_owned()], true)
        .await
        .expect("soft purge");
    assert_eq!(
        touched, SPREAD as u64,
        "every page under items marked stale"
    );
    for path in &paths {
        assert!(app.namespace.page_key(path).is_some(), "{path} kept");
    }
    let first = app.get(&paths[0]).await;
    assert_ne!(first.x_cache(), "HIT", "a stale page is no hit: {first:?}");
    // The pages stay filed under their tags: a hard purge still finds them.
    let purged = app
        .cache()
        .purge_tags(&["items".to_owned()], false)
        .await
        .expect("purge");
    assert_eq!(purged, SPREAD as u64);
    for path in &paths {
        assert_eq!(app.get(path).await.x_cache(), "MISS", "{path} was purged");
    }
}
