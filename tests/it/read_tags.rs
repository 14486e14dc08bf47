//! Pages are filed under what their render read: a write purges the pages that
//! showed the row it changed (and, for an insert or delete, those that depend on
//! which rows exist), and nothing else. Proven by what reaches MySQL.

use rocket::http::Method;
use serde_json::json;

use crate::support::{invalidations_arrive, AppBuilder, TestApp};

/// The sample row and 44 more (ids 2 to 45): list pages 1-20, 21-40, 41-45.
async fn directory() -> (TestApp, TestApp) {
    let writer = AppBuilder::new().with_admin().start().await;
    writer.insert_users(44);
    let reader = writer.peer().with_admin().start().await;
    (writer, reader)
}

/// Fetches each page twice on `app`: the second is a hit.
async fn warm(app: &TestApp, pages: &[&str]) {
    for uri in pages {
        app.fetch(uri).await;
        assert_eq!(app.fetch(uri).await.x_cache(), "HIT", "{uri}");
    }
}

fn record(name: &str, email: &str) -> serde_json::Value {
    json!({ "name": name, "email": email, "phone": "555 0001", "address": "1 Test Street" })
}

#[rocket::async_test]
async fn after_an_update_only_the_pages_that_show_the_user_render_again() {
    let (writer, reader) = directory().await;
    let showing = [
        "/?after=20",
        "/users/30",
        "/api/users/30",
        "/api/users?after=20",
    ];
    let not_showing = [
        "/",
        "/?after=40",
        "/users/7",
        "/api/users/7",
        "/api/users",
        "/api/users?after=40",
        "/users/99",
    ];
    warm(&reader, &showing).await;
    warm(&reader, &not_showing).await;

    let (status, _) = writer
        .api_json(
            Method::Put,
            "/api/users/30",
            Some(&record("Thirty, renamed", "user28@example.com")),
        )
        .await;
    assert_eq!(status, 200);
    invalidations_arrive().await;

    let queries = reader.queries();
    for uri in not_showing {
        let reply = reader.fetch(uri).await;
        assert_eq!(reply.x_cache(), "HIT", "{uri} does not show user 30");
    }
    assert_eq!(
        reader.queries(),
        queries,
        "no page without user 30 reached MySQL"
    );
    for uri in showing {
        let reply = reader.fetch(uri).await;
        assert_eq!(reply.x_cache(), "MISS", "{uri} shows user 30");
        assert!(
            reply.body.contains("Thirty, renamed"),
            "{uri}: {}",
            reply.body
        );
    }
}

#[rocket::async_test]
async fn an_insert_purges_the_lists_the_count_and_the_cached_404_of_its_id_only() {
    let (writer, reader) = directory().await;
    let lists = ["/", "/?after=40", "/api/users", "/users/46"];
    let items = ["/users/7", "/api/users/7", "/users/45"];
    warm(&reader, &lists).await;
    warm(&reader, &items).await;

    let (status, created) = writer
        .api_json(
            Method::Post,
            "/api/users",
            Some(&record("Forty-six", "new46@example.com")),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(created["id"], 46);
    invalidations_arrive().await;

    let queries = reader.queries();
    for uri in items {
        assert_eq!(reader.fetch(uri).await.x_cache(), "HIT", "{uri}");
    }
    assert_eq!(
        reader.queries(),
        queries,
        "rows that did not change stay cached"
    );
    let first = reader.fetch("/").await;
    assert_eq!(first.x_cache(), "MISS");
    assert!(first.body.contains("46 users in all"), "{}", first.body);
    let last = reader.fetch("/?after=40").await;
    assert!(last.body.contains("Forty-six"), "{}", last.body);
    let (status, page) = reader.get_text("/users/46").await;
    assert_eq!(status, 200, "the cached 404 went: {page}");
}

#[rocket::async_test]
async fn a_page_that_read_more_rows_than_allowed_is_purged_by_any_change_of_the_table() {
    let writer = AppBuilder::new()
        .with_admin()
        .with("cache.max_tags_per_entry", 5)
        .start()
        .await;
    writer.insert_users(44);
    warm(&writer, &["/", "/users/7", "/users/30"]).await;
    let (status, _) = writer
        .api_json(
            Method::Put,
            "/api/users/30",
            Some(&record("Thirty, renamed", "user28@example.com")),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        writer.fetch("/").await.x_cache(),
        "MISS",
        "page 1 read 20 rows, over the bound of 5: filed under the whole table"
    );
    assert_eq!(writer.fetch("/users/7").await.x_cache(), "HIT");
    assert_eq!(writer.fetch("/users/30").await.x_cache(), "MISS");
}
