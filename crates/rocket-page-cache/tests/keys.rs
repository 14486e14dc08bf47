//! How a request becomes a key: only declared query parameters, in one order;
//! only allowed hosts; one page per declared `Vary` value.

use std::sync::Arc;

use rocket::local::asynchronous::Client;
use rocket_page_cache::PageCache;
use serde_json::json;
use test_support::redis_url;

use crate::support::app::{cache_table, figment, get, TestApp};
use crate::support::routes::{self, Backend};
use crate::support::Namespace;

#[tokio::test]
async fn query_parameters_the_route_did_not_declare_are_left_out_of_the_key() {
    let app = TestApp::spawn(json!({})).await;
    assert_eq!(app.get("/q?utm_source=a").await.x_cache(), "MISS");
    let again = app.get("/q?utm_source=b&fbclid=x").await;
    assert_eq!(again.x_cache(), "HIT");
    assert_eq!(app.get("/q").await.x_cache(), "HIT");
    assert_eq!(app.backend.renders("/q"), 1);
}

#[tokio::test]
async fn declared_query_parameters_in_any_order_are_one_key() {
    let app = TestApp::spawn(json!({})).await;
    assert_eq!(app.get("/q?sort=name&page=2").await.x_cache(), "MISS");
    assert_eq!(app.get("/q?page=2&sort=name").await.x_cache(), "HIT");
    assert_eq!(app.get("/q?page=3&sort=name").await.x_cache(), "MISS");
    assert_eq!(app.backend.renders("/q"), 2);
}

#[tokio::test]
async fn a_host_not_allowed_bypasses_the_cache_and_stores_nothing() {
    let app = TestApp::spawn(json!({})).await;
    for _ in 0..2 {
        let reply = app
            .get_with("/plain/host", &[("Host", "evil.example")])
            .await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.x_cache(), "BYPASS");
    }
    assert_eq!(app.backend.renders("/plain/host"), 2);
    assert_eq!(app.namespace.keys(), Vec::<String>::new());

    // An allowed host in capitals and with a port is the same host.
    let reply = app
        .get_with("/plain/host", &[("Host", "LOCALHOST:9000")])
        .await;
    assert_eq!(reply.x_cache(), "MISS");
    assert_eq!(app.get("/plain/host").await.x_cache(), "HIT");
    assert_eq!(app.backend.renders("/plain/host"), 3);
}

#[tokio::test]
async fn each_value_of_a_declared_vary_header_gets_its_own_page() {
    let app = TestApp::spawn(json!({})).await;
    let english = [("Accept-Language", "en")];
    let french = [("Accept-Language", "fr")];
    assert_eq!(app.get_with("/vary", &english).await.x_cache(), "MISS");
    assert_eq!(app.get_with("/vary", &french).await.x_cache(), "MISS");

    let english_again = app.get_with("/vary", &english).await;
    let french_again = app.get_with("/vary", &french).await;
    assert_eq!(english_again.x_cache(), "HIT");
    assert!(english_again.body.ends_with("in en"), "{english_again:?}");
    assert_eq!(french_again.x_cache(), "HIT");
    assert!(french_again.body.ends_with("in fr"), "{french_again:?}");
    assert_eq!(app.backend.renders("/vary"), 2);
}

/// An instance whose builder names the app's deploy id, with `generation` as
/// the config key (empty: not set).
async fn with_deploy_id(namespace: &Namespace, config_generation: &str) -> Client {
    let table = cache_table(
        namespace,
        redis_url(),
        &json!({ "generation": config_generation }),
    );
    let rocket = rocket::custom(figment(table))
        .attach(PageCache::new(routes::policies()).generation("app-7"))
        .manage(Arc::new(Backend::default()))
        .mount("/", routes::all());
    Client::untracked(rocket)
        .await
        .expect("the test app starts")
}

#[tokio::test]
async fn the_apps_deploy_id_names_the_keys_unless_the_config_names_one() {
    let namespace = Namespace::new();
    let app = with_deploy_id(&namespace, "").await;
    assert_eq!(get(&app, "/q", &[]).await.x_cache(), "MISS");
    let keys = namespace.keys();
    assert!(
        keys.iter().any(|k| k.contains(":v1:app-7:")),
        "the builder's deploy id is in the key: {keys:?}"
    );

    let configured = Namespace::new();
    let app = with_deploy_id(&configured, "from-config").await;
    assert_eq!(get(&app, "/q", &[]).await.x_cache(), "MISS");
    let keys = configured.keys();
    assert!(
        keys.iter().any(|k| k.contains(":v1:from-config:"))
            && !keys.iter().any(|k| k.contains("app-7")),
        "cache.generation wins over the builder: {keys:?}"
    );
}
