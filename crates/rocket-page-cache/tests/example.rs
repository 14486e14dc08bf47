//! The crate's example app answers `GET /` MISS, then HIT.

use rocket::local::asynchronous::Client;
use serde_json::json;
use test_support::redis_url;

use crate::hello;
use crate::support::app::{cache_table, figment, get};
use crate::support::Namespace;

#[tokio::test]
async fn the_hello_example_answers_miss_then_hit() {
    let namespace = Namespace::new();
    let figment = figment(cache_table(&namespace, redis_url(), &json!({})));
    let client = Client::untracked(hello::app(figment))
        .await
        .expect("the example starts");
    let miss = get(&client, "/", &[]).await;
    let hit = get(&client, "/", &[]).await;
    assert_eq!((miss.x_cache(), hit.x_cache()), ("MISS", "HIT"));
    assert_eq!(miss.body, "Hello from rocket-page-cache: render #1\n");
    assert_eq!(hit.body, miss.body, "the hit did not run the route");
    drop(client);
}
