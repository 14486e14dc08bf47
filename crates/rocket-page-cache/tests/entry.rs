//! The stored envelope as the engine reads it back.

use serde_json::json;

use crate::support::app::TestApp;

#[tokio::test]
async fn a_corrupt_entry_in_redis_is_a_miss_not_an_error() {
    let app = TestApp::spawn(json!({})).await;
    assert_eq!(app.get("/plain/corrupt").await.x_cache(), "MISS");
    let key = app
        .namespace
        .page_key("/plain/corrupt")
        .expect("the page was stored");
    let (): () = app.namespace.command(
        redis::cmd("SET")
            .arg(&key)
            .arg(b"\x00not an entry at all".as_slice())
            .arg("KEEPTTL"),
    );

    let reply = app.get("/plain/corrupt").await;
    assert_eq!((reply.status, reply.x_cache()), (200, "MISS"), "{reply:?}");
    assert_eq!(reply.body, "/plain/corrupt render 2");
    let again = app.get("/plain/corrupt").await;
    assert_eq!(again.x_cache(), "HIT", "the corrupt value was overwritten");
    assert_eq!(app.backend.renders("/plain/corrupt"), 2);
}
