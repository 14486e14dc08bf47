//! What a shared cache may store, and config rules over what routes declare.

use serde_json::json;

use crate::support::app::TestApp;
use crate::support::routes::BIG_BODY;

/// Requests `path` twice and checks that both rendered, neither was a hit, and
/// `Cache-Status` names `detail` as the reason.
async fn assert_not_stored(app: &TestApp, path: &str, detail: &str) {
    for _ in 0..2 {
        let reply = app.get(path).await;
        assert_eq!(reply.x_cache(), "MISS", "{path}: {reply:?}");
        assert!(
            reply.cache_status().contains(&format!("detail={detail}")),
            "{path}: {reply:?}"
        );
    }
    assert_eq!(app.backend.renders(path), 2, "{path} rendered each time");
}

#[tokio::test]
async fn an_answer_that_sets_a_cookie_is_not_stored() {
    let app = TestApp::spawn(json!({})).await;
    assert_not_stored(&app, "/cookie", "set-cookie").await;
}

#[tokio::test]
async fn a_private_answer_is_not_stored() {
    let app = TestApp::spawn(json!({})).await;
    assert_not_stored(&app, "/private", "private").await;
}

#[tokio::test]
async fn a_no_store_answer_is_not_stored() {
    let app = TestApp::spawn(json!({})).await;
    assert_not_stored(&app, "/no-store", "no-store").await;
}

#[tokio::test]
async fn only_200_and_404_answers_are_stored() {
    let app = TestApp::spawn(json!({})).await;
    assert_not_stored(&app, "/status/201", "status").await;
    assert_not_stored(&app, "/status/302", "status").await;
    assert_eq!(app.get("/status/404").await.x_cache(), "MISS");
    let again = app.get("/status/404").await;
    assert_eq!((again.status, again.x_cache()), (404, "HIT"));
    assert_eq!(app.backend.renders("/status/404"), 1);
}

#[tokio::test]
async fn a_body_over_max_body_bytes_is_not_stored() {
    let app = TestApp::spawn(json!({ "max_body_bytes": BIG_BODY - 1 })).await;
    assert_not_stored(&app, "/big", "too-large").await;
    let reply = app.get("/big").await;
    assert_eq!(reply.body.len(), BIG_BODY, "the body still goes out whole");
}

#[tokio::test]
async fn an_answer_varying_on_an_undeclared_header_is_not_stored() {
    let app = TestApp::spawn(json!({})).await;
    assert_not_stored(&app, "/vary-undeclared", "vary").await;
}

#[tokio::test]
async fn a_config_rule_overrides_what_the_route_declared() {
    let rules = json!({ "rules": [{ "path": "/ruled", "ttl": 0 }] });
    let app = TestApp::spawn(rules).await;
    for _ in 0..2 {
        assert_eq!(app.get("/ruled").await.x_cache(), "BYPASS");
    }
    assert_eq!(app.backend.renders("/ruled"), 2);
}

#[tokio::test]
async fn a_config_rule_alone_makes_a_path_cacheable() {
    let rules = json!({ "rules": [{ "path": "/undeclared/*", "ttl": 60 }] });
    let app = TestApp::spawn(rules).await;
    assert_eq!(app.get("/undeclared/page").await.x_cache(), "MISS");
    assert_eq!(app.get("/undeclared/page").await.x_cache(), "HIT");
    assert_eq!(
        app.get("/other").await.x_cache(),
        "",
        "no rule, no route policy"
    );
    assert_eq!(app.backend.renders("/undeclared/page"), 1);
}
