//! Exact invalidation across instances: a write purges what it changed, after the
//! commit, for every instance at once; other pages stay cached; a render that read
//! the old row before the commit is never stored after the purge.

use std::time::Duration;

use rocket::http::Method;
use serde_json::{json, Value};
use test_support::{eventually, redis_addr};

use crate::support::admin::API_TOKEN;
use crate::support::proxy::{FaultProxy, Mode};
use crate::support::{header, invalidations_arrive, AppBuilder, TestApp};

/// A full record for `PUT /api/users/<id>` with a new name and `email` (the
/// user's own, or one nobody has).
fn renamed(name: &str, email: &str) -> Value {
    json!({ "name": name, "email": email, "phone": "555 0001", "address": "1 Test Street" })
}

const SAMPLE_EMAIL: &str = "soumitra@roytuts.com";

/// Two instances on one database and namespace, three users besides the sample
/// row (ids 2, 3, 4).
async fn pair() -> (TestApp, TestApp) {
    let a = AppBuilder::new().with_admin().start().await;
    a.insert_users(3);
    let b = a.peer().with_admin().start().await;
    (a, b)
}

const PAGES: [&str; 8] = [
    "/",
    "/api/users",
    "/users/2",
    "/api/users/2",
    "/users/3",
    "/api/users/3",
    "/users/1",
    "/api/users/1",
];

/// Warms every page on `app` and checks it is now a hit there.
async fn warm(app: &TestApp) {
    for uri in PAGES {
        app.fetch(uri).await;
        assert_eq!(app.fetch(uri).await.x_cache(), "HIT", "{uri}");
    }
}

#[rocket::async_test]
async fn a_form_edit_on_one_instance_shows_at_once_on_the_other_and_nothing_else_moves() {
    let (a, b) = pair().await;
    warm(&b).await;
    a.login().await;
    let csrf = a.csrf().await;
    let response = a
        .post_form(
            "/users/3/edit",
            &[
                ("csrf", &csrf),
                ("name", "Renamed Three"),
                ("email", "user1@example.com"),
                ("phone", "555 0001"),
                ("address", "1 Test Street"),
            ],
        )
        .await;
    assert_eq!(response.status().code, 303);
    drop(response);
    invalidations_arrive().await;

    for uri in ["/", "/api/users", "/users/3", "/api/users/3"] {
        let reply = b.fetch(uri).await;
        let (x_cache, body) = (reply.x_cache(), reply.body.as_str());
        assert_eq!(x_cache, "MISS", "{uri} was purged");
        assert!(body.contains("Renamed Three"), "{uri}: {body}");
    }
    let queries = b.queries();
    for uri in ["/users/2", "/api/users/2", "/users/1", "/api/users/1"] {
        let reply = b.fetch(uri).await;
        let (x_cache, body) = (reply.x_cache(), reply.body.as_str());
        assert_eq!(x_cache, "HIT", "{uri} stays cached");
        assert!(!body.contains("Renamed"), "{uri}");
    }
    assert_eq!(b.queries(), queries, "no other page reached MySQL");
}

#[rocket::async_test]
async fn an_api_edit_on_one_instance_shows_at_once_on_the_other_in_json_and_html() {
    let (a, b) = pair().await;
    warm(&b).await;
    let (status, _) = a
        .api_json(
            Method::Put,
            "/api/users/2",
            Some(&renamed("Two, renamed", "user0@example.com")),
        )
        .await;
    assert_eq!(status, 200);
    invalidations_arrive().await;
    let (_, item) = b.get_json("/api/users/2").await;
    assert_eq!(item["name"], "Two, renamed");
    let (_, list) = b.get_json("/api/users").await;
    assert_eq!(list["items"][1]["name"], "Two, renamed");
    assert_eq!(list["total"], 4);
    assert!(b.fetch("/users/2").await.body.contains("Two, renamed"));
    assert!(b.fetch("/").await.body.contains("Two, renamed"));
    assert_eq!(b.fetch("/users/3").await.x_cache(), "HIT");
    assert_eq!(b.fetch("/api/users/1").await.x_cache(), "HIT");
}

#[rocket::async_test]
async fn a_new_user_shows_in_the_lists_and_replaces_its_cached_404() {
    let (a, b) = pair().await;
    warm(&b).await;
    assert_eq!(b.get("/users/5").await.status().code, 404);
    assert_eq!(
        b.fetch("/users/5").await.x_cache(),
        "HIT",
        "the 404 is cached"
    );
    assert_eq!(b.get("/api/users/5").await.status().code, 404);

    let (status, created) = a
        .api_json(
            Method::Post,
            "/api/users",
            Some(&json!({ "name": "Fifth", "email": "fifth@example.com", "address": "Five Road" })),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(created["id"], 5);
    invalidations_arrive().await;
    let (status, page) = b.get_text("/users/5").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Fifth"));
    assert_eq!(b.get_json("/api/users/5").await.1["name"], "Fifth");
    let (_, list) = b.get_json("/api/users").await;
    assert_eq!(list["total"], 5, "the count memo was purged too");
    assert!(b.fetch("/").await.body.contains("5 users in all"));
    assert_eq!(b.fetch("/users/2").await.x_cache(), "HIT");
}

#[rocket::async_test]
async fn a_deleted_user_is_gone_from_every_instance_at_once() {
    let (a, b) = pair().await;
    warm(&b).await;
    warm(&a).await;
    let response = a
        .api(Method::Delete, "/api/users/2", Some(API_TOKEN), None)
        .await;
    assert_eq!(response.status().code, 204);
    drop(response);
    invalidations_arrive().await;
    for app in [&a, &b] {
        assert_eq!(app.get("/users/2").await.status().code, 404);
        assert_eq!(app.get("/api/users/2").await.status().code, 404);
        let (_, list) = app.get_json("/api/users").await;
        assert_eq!(list["total"], 3);
        assert!(!app.fetch("/").await.body.contains("User 0"));
        assert_eq!(app.fetch("/users/3").await.x_cache(), "HIT");
    }
}

#[rocket::async_test]
async fn a_render_paused_between_its_read_and_its_store_is_not_stored_after_a_write() {
    let a = AppBuilder::new()
        .with_admin()
        .with_test_routes()
        .start()
        .await;
    let b = a.peer().with_admin().start().await;
    let gate = a.gate();
    gate.arm();

    let paused = a.get("/test/user/1");
    let write_then_release = async {
        gate.reached().await;
        // The render has read "Soumitra" and waits; the write commits and purges.
        let (status, _) = b
            .api_json(
                Method::Put,
                "/api/users/1",
                Some(&renamed("Written", SAMPLE_EMAIL)),
            )
            .await;
        assert_eq!(status, 200);
        // A request of the same instance arriving now waits for the paused render
        // (single flight). It must not be handed that render's old data.
        let waiter = a.get("/test/user/1");
        tokio::pin!(waiter);
        let early = tokio::time::timeout(Duration::from_millis(300), &mut waiter).await;
        assert!(
            early.is_err(),
            "the second request waits for the first render"
        );
        gate.release();
        let answer = waiter.await;
        let x_cache = header(&answer, "X-Cache");
        (x_cache, answer.into_string().await.unwrap_or_default())
    };
    let (paused, (waiter_cache, waiter_body)) = tokio::join!(paused, write_then_release);

    assert_eq!(
        paused.into_string().await.as_deref(),
        Some("Soumitra"),
        "the paused render answers what it read"
    );
    assert_eq!(waiter_body, "Written", "the waiter rendered the new row");
    assert_eq!(waiter_cache, "MISS");
    let reply = a.fetch("/test/user/1").await;
    let (x_cache, body) = (reply.x_cache(), reply.body.as_str());
    assert_eq!((x_cache, body), ("HIT", "Written"));
}

#[rocket::async_test]
async fn a_render_that_read_the_old_row_says_it_was_purged_during_render() {
    let a = AppBuilder::new()
        .with_admin()
        .with_test_routes()
        .start()
        .await;
    let gate = a.gate();
    gate.arm();
    let paused = a.get("/test/user/1");
    let write_then_release = async {
        gate.reached().await;
        let (status, _) = a
            .api_json(
                Method::Put,
                "/api/users/1",
                Some(&renamed("Written", SAMPLE_EMAIL)),
            )
            .await;
        assert_eq!(status, 200);
        gate.release();
    };
    let (paused, ()) = tokio::join!(paused, write_then_release);
    assert_eq!(
        header(&paused, "Cache-Status"),
        "rocket-cache; fwd=uri-miss; detail=purged-during-render"
    );
    assert_eq!(paused.into_string().await.as_deref(), Some("Soumitra"));
    let reply = a.fetch("/test/user/1").await;
    let (x_cache, body) = (reply.x_cache(), reply.body.as_str());
    assert_eq!((x_cache, body), ("MISS", "Written"));
    assert_eq!(a.fetch("/test/user/1").await.x_cache(), "HIT");
}

#[rocket::async_test]
async fn with_soft_purge_on_write_pages_are_kept_stale_and_refreshed() {
    let a = AppBuilder::new()
        .with_admin()
        .with("cache.soft_purge_on_write", true)
        .start()
        .await;
    let b = a
        .peer()
        .with_admin()
        .with("cache.soft_purge_on_write", true)
        .start()
        .await;
    assert_eq!(b.fetch("/users/1").await.x_cache(), "MISS");
    let (status, _) = a
        .api_json(
            Method::Put,
            "/api/users/1",
            Some(&renamed("Softly", SAMPLE_EMAIL)),
        )
        .await;
    assert_eq!(status, 200);
    // Kept but stale: the next request refreshes it (others meanwhile would get
    // the stale copy, see admin::a_soft_purge_serves_the_old_page_...).
    let response = b.get("/users/1").await;
    assert!(
        header(&response, "Cache-Status").starts_with("rocket-cache; fwd=stale"),
        "{:?}",
        header(&response, "Cache-Status")
    );
    assert!(response.into_string().await.unwrap().contains("Softly"));
    assert_eq!(b.fetch("/users/1").await.x_cache(), "HIT");
}

#[rocket::async_test]
async fn a_soft_purge_never_corrupts_a_memo_value() {
    let app = TestApp::spawn().await;
    let cache = app.cache();
    let ttl = Duration::from_mins(1);
    // Long enough that the entry stamp would land inside it.
    let first: u64 = cache
        .get_or_compute("big", ttl, &["numbers"], async {
            Ok::<_, std::convert::Infallible>(123_456_789)
        })
        .await
        .unwrap();
    assert_eq!(first, 123_456_789);
    cache
        .purge_tags(&["numbers".to_owned()], true)
        .await
        .unwrap();
    let second: u64 = cache
        .get_or_compute("big", ttl, &["numbers"], async {
            Ok::<_, std::convert::Infallible>(42)
        })
        .await
        .unwrap();
    assert_eq!(second, 42, "recomputed, not read back rewritten");
}

#[rocket::async_test]
async fn a_failed_purge_never_fails_the_committed_write_and_is_retried() {
    let proxy = FaultProxy::start(redis_addr()).await;
    let a = AppBuilder::new()
        .with_admin()
        .with("cache.url", format!("redis://127.0.0.1:{}/", proxy.port()))
        .start()
        .await;
    let b = a.peer().with_admin().start().await;
    assert_eq!(b.fetch("/users/1").await.x_cache(), "MISS");
    assert_eq!(b.fetch("/users/1").await.x_cache(), "HIT");

    proxy.switch(Mode::Cut).await;
    let response = a
        .api(
            Method::Put,
            "/api/users/1",
            Some(API_TOKEN),
            Some(&renamed("Committed", SAMPLE_EMAIL)),
        )
        .await;
    assert_eq!(response.status().code, 200, "the write is not an error");
    assert_eq!(header(&response, "X-Cache-Purge"), "pending");
    drop(response);
    assert_eq!(a.user_column(1, "name"), "Committed");

    proxy.set(Mode::Pass);
    let what = "the background retry purged the page";
    eventually(Duration::from_secs(15), what, || async {
        b.fetch("/users/1")
            .await
            .body
            .contains("Committed")
            .then_some(())
    })
    .await;
}
