//! Private requests (a session cookie, `Authorization`) neither read nor fill
//! the shared cache: the route runs and nothing lands in Redis. A private cookie
//! counts only when it decrypts with the app's key: junk anyone can send is an
//! anonymous request.

use serde_json::json;
use test_support::SEALED_COOKIE;

use crate::support::app::{TestApp, SESSION_COOKIE};

/// Requests `/plain/private` twice with `headers`: both must bypass, render,
/// and leave the namespace empty; then a plain request is a miss, not their page.
async fn assert_private(app: &TestApp, headers: &[(&str, &str)]) {
    for _ in 0..2 {
        let reply = app.get_with("/plain/private", headers).await;
        assert_eq!(
            (reply.status, reply.x_cache()),
            (200, "BYPASS"),
            "{reply:?}"
        );
    }
    assert_eq!(
        app.backend.renders("/plain/private"),
        2,
        "the route ran each time"
    );
    assert_eq!(app.namespace.keys(), Vec::<String>::new(), "nothing stored");
    assert_eq!(app.get("/plain/private").await.x_cache(), "MISS");
    assert_eq!(app.backend.renders("/plain/private"), 3);
}

#[tokio::test]
async fn a_request_with_the_builders_private_cookie_bypasses_and_stores_nothing() {
    let app = TestApp::spawn(json!({})).await;
    let cookie = format!("{SESSION_COOKIE}=abc");
    assert_private(&app, &[(SEALED_COOKIE, &cookie)]).await;
}

#[tokio::test]
async fn a_private_cookie_that_does_not_decrypt_is_an_anonymous_request() {
    let app = TestApp::spawn(json!({ "private_cookies": ["remember"] })).await;
    assert_eq!(app.get("/plain/private").await.x_cache(), "MISS");
    for cookie in [format!("{SESSION_COOKIE}=abc"), "remember=1".to_owned()] {
        let reply = app.get_with("/plain/private", &[("Cookie", &cookie)]).await;
        assert_eq!((reply.status, reply.x_cache()), (200, "HIT"), "{cookie}");
    }
    assert_eq!(app.backend.renders("/plain/private"), 1);
}

#[tokio::test]
async fn a_request_with_a_configured_private_cookie_bypasses_and_stores_nothing() {
    let app = TestApp::spawn(json!({ "private_cookies": ["remember"] })).await;
    assert_private(&app, &[(SEALED_COOKIE, "remember=1")]).await;
}

#[tokio::test]
async fn a_request_with_authorization_bypasses_and_stores_nothing() {
    let app = TestApp::spawn(json!({})).await;
    assert_private(&app, &[("Authorization", "Bearer secret")]).await;
}

#[tokio::test]
async fn on_a_public_route_authorization_reads_the_stored_page_but_never_fills_it() {
    let app = TestApp::spawn(json!({})).await;
    let credentials = [("Authorization", "Bearer secret")];
    let reply = app.get_with("/plain/public/a", &credentials).await;
    assert_eq!((reply.status, reply.x_cache()), (200, "BYPASS"));
    assert_eq!(app.namespace.keys(), Vec::<String>::new(), "nothing stored");
    assert_eq!(app.get("/plain/public/a").await.x_cache(), "MISS");
    for _ in 0..3 {
        let reply = app.get_with("/plain/public/a", &credentials).await;
        assert_eq!((reply.status, reply.x_cache()), (200, "HIT"));
    }
    assert_eq!(app.backend.renders("/plain/public/a"), 2);
}
