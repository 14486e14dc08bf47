//! `X-Request-Id`: on every answer (hits, misses, errors), echoed when the client
//! (a load balancer) sent a valid one, and never stored with a cached page.

use rocket::http::Method;

use crate::support::{header, AppBuilder};

fn is_generated(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

#[rocket::async_test]
async fn every_answer_has_its_own_request_id_even_a_cache_hit() {
    let app = AppBuilder::new().start().await;
    let miss = app.get("/users/1").await;
    assert_eq!(header(&miss, "X-Cache"), "MISS");
    let first = header(&miss, "X-Request-Id");
    drop(miss);
    let hit = app.get("/users/1").await;
    assert_eq!(header(&hit, "X-Cache"), "HIT");
    let second = header(&hit, "X-Request-Id");
    drop(hit);
    let missing = app.get("/users/999999").await;
    assert_eq!(missing.status().code, 404);
    let third = header(&missing, "X-Request-Id");
    for id in [&first, &second, &third] {
        assert!(is_generated(id), "{id:?}");
    }
    assert_ne!(first, second, "the hit must not replay the render's id");
    assert_ne!(second, third);
}

#[rocket::async_test]
async fn a_valid_incoming_request_id_is_echoed_and_a_bad_one_replaced() {
    let app = AppBuilder::new().start().await;
    let uuid = "3f2c1a9e-7b4d-4c1e-9a2f-0123456789ab";
    // Warm the page, so the echo is checked on a hit, then on a HEAD.
    let _ = app.get("/").await;
    let hit = app.get_with("/", &[("X-Request-Id", uuid)]).await;
    assert_eq!(header(&hit, "X-Cache"), "HIT");
    assert_eq!(header(&hit, "X-Request-Id"), uuid);
    drop(hit);
    let head = app
        .request(Method::Head, "/", &[("X-Request-Id", "lb-42")])
        .await;
    assert_eq!(header(&head, "X-Request-Id"), "lb-42");
    drop(head);
    let too_long = "a".repeat(129);
    for bad in ["has spaces in it", "quote\"d", too_long.as_str()] {
        let response = app.get_with("/", &[("X-Request-Id", bad)]).await;
        let id = header(&response, "X-Request-Id");
        assert!(is_generated(&id), "{bad:?} was answered with {id:?}");
    }
}
