//! Purges remove exactly the pages filed under a tag or path, and a purge
//! during a render keeps that render out of the store.

use serde_json::json;

use crate::support::app::TestApp;

#[tokio::test]
async fn purging_a_tag_removes_exactly_the_pages_filed_under_it() {
    let app = TestApp::spawn(json!({})).await;
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

#[tokio::test]
async fn purging_a_path_removes_its_pages_under_every_query() {
    let app = TestApp::spawn(json!({})).await;
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

#[tokio::test]
async fn a_purge_during_a_render_keeps_that_render_out_of_the_store() {
    let app = TestApp::spawn(json!({})).await;
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
