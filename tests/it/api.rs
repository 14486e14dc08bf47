//! The JSON API: its shapes, its pagination, and its errors in JSON.

use serde_json::json;

use crate::support::{Reply, TestApp};

/// Asserts the JSON error envelope `{"error":{"status","reason","message"}}`.
fn assert_json_error(reply: &Reply, status: u16, reason: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert!(reply.is_json(), "{:?}", reply.headers);
    let body = reply.json();
    assert_eq!(body["error"]["status"], status, "{body}");
    assert_eq!(body["error"]["reason"], reason, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(
        body.as_object().map(serde_json::Map::len),
        Some(1),
        "{body}"
    );
    // Errors are never stored, but for 404s: the page cache keeps those briefly.
    if status != 404 {
        assert_eq!(reply.header("cache-control"), Some("no-store"));
    }
}

fn ids(list: &serde_json::Value) -> Vec<u64> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|u| u["id"].as_u64().expect("numeric id"))
        .collect()
}

#[rocket::async_test]
async fn the_users_list_api_gives_items_the_total_and_the_next_cursor() {
    let app = TestApp::spawn().await;
    let reply = app.fetch("/api/users").await;
    assert_eq!(reply.status, 200);
    assert!(reply.is_json(), "{:?}", reply.headers);
    assert_eq!(
        reply.json(),
        json!({
            "items": [{
                "id": 1,
                "name": "Soumitra",
                "email": "soumitra@roytuts.com",
                "phone": "43256789",
                "address": "Earth"
            }],
            "per_page": 20,
            "after": null,
            "next": null,
            "total": 1,
            "total_is_exact": true
        })
    );
    assert_eq!(reply.header("link"), None, "one page links nowhere");
}

#[rocket::async_test]
async fn the_users_list_api_pages_through_every_user_once_by_its_next_cursor() {
    let app = TestApp::spawn().await;
    app.insert_users(45);
    let mut seen = Vec::new();
    let mut uri = "/api/users?per_page=10".to_owned();
    let mut pages = 0;
    loop {
        let (status, list) = app.get_json(&uri).await;
        assert_eq!(status, 200, "{uri}: {list}");
        assert_eq!(list["total"], 46);
        assert_eq!(list["per_page"], 10);
        seen.extend(ids(&list));
        pages += 1;
        match list["next"].as_u64() {
            Some(next) => uri = format!("/api/users?after={next}&per_page=10"),
            None => break,
        }
    }
    assert_eq!(pages, 5);
    assert_eq!(seen, (1..=46).collect::<Vec<u64>>());
    let (_, last) = app.get_json("/api/users?after=40&per_page=10").await;
    assert_eq!(ids(&last), vec![41, 42, 43, 44, 45, 46]);
    assert_eq!(last["items"][5]["name"], "User 44");
    assert_eq!(last["after"], 40);
    assert_eq!(last["next"], json!(null));
}

#[rocket::async_test]
async fn the_users_list_api_links_the_first_previous_next_and_last_pages() {
    let app = TestApp::spawn().await;
    app.insert_users(45);
    let first = app.fetch("/api/users?per_page=10").await;
    assert_eq!(
        first.header("link"),
        Some(
            "</api/users?after=10&per_page=10>; rel=\"next\", \
             </api/users?after=40&per_page=10>; rel=\"last\""
        )
    );
    let middle = app.fetch("/api/users?after=20&per_page=10").await;
    assert_eq!(
        middle.header("link"),
        Some(
            "</api/users?per_page=10>; rel=\"first\", \
             </api/users?after=10&per_page=10>; rel=\"prev\", \
             </api/users?after=30&per_page=10>; rel=\"next\", \
             </api/users?after=40&per_page=10>; rel=\"last\""
        )
    );
    let last = app.fetch("/api/users?after=40&per_page=10").await;
    assert_eq!(
        last.header("link"),
        Some(
            "</api/users?per_page=10>; rel=\"first\", \
             </api/users?after=30&per_page=10>; rel=\"prev\""
        )
    );
}

#[rocket::async_test]
async fn the_users_list_api_refuses_per_page_above_one_hundred() {
    let app = TestApp::spawn().await;
    app.insert_users(120);
    let (status, list) = app.get_json("/api/users?per_page=100").await;
    assert_eq!(status, 200);
    assert_eq!(ids(&list).len(), 100);
    let (status, error) = app.get_json("/api/users?per_page=101").await;
    assert_eq!(status, 400);
    assert!(
        error.to_string().contains("per_page"),
        "the reason names the parameter: {error}"
    );
}

#[rocket::async_test]
async fn the_users_list_api_of_an_empty_table_is_an_empty_first_page() {
    let app = TestApp::spawn().await;
    app.db.execute("DELETE FROM `user`");
    let (status, list) = app.get_json("/api/users").await;
    assert_eq!(status, 200);
    assert_eq!(
        list,
        json!({"items": [], "per_page": 20, "after": null, "next": null, "total": 0, "total_is_exact": true})
    );
}

#[rocket::async_test]
async fn one_user_is_served_as_a_json_object() {
    let app = TestApp::spawn().await;
    let reply = app.fetch("/api/users/1").await;
    assert_eq!(reply.status, 200);
    assert!(reply.is_json());
    assert_eq!(
        reply.json(),
        json!({
            "id": 1,
            "name": "Soumitra",
            "email": "soumitra@roytuts.com",
            "phone": "43256789",
            "address": "Earth"
        })
    );
}

#[rocket::async_test]
async fn json_keeps_markup_as_data_for_the_client_to_escape() {
    let app = TestApp::spawn().await;
    app.db.execute(
        "INSERT INTO `user` (name, email, phone, address) \
         VALUES ('<script>alert(1)</script>', 'x@example.com', '1', 'a \"b\"')",
    );
    let (_, user) = app.get_json("/api/users/2").await;
    assert_eq!(user["name"], "<script>alert(1)</script>");
    assert_eq!(user["address"], "a \"b\"");
}

#[rocket::async_test]
async fn an_unknown_user_id_under_the_api_is_a_json_404() {
    let app = TestApp::spawn().await;
    for uri in ["/api/users/999", "/api/users/abc", "/api/users/0"] {
        let reply = app.fetch(uri).await;
        assert_json_error(&reply, 404, "Not Found");
    }
}

#[rocket::async_test]
async fn a_bad_page_under_the_api_is_a_json_400() {
    let app = TestApp::spawn().await;
    for query in [
        "after=0",
        "after=-1",
        "after=abc",
        "after=",
        "after=01",
        "per_page=0",
        "page=2",
        "after=1&after=1",
    ] {
        let reply = app.fetch(&format!("/api/users?{query}")).await;
        assert_json_error(&reply, 400, "Bad Request");
    }
    let reply = app.fetch("/api/users?after=abc").await;
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is not a user id to start after"),
        "{}",
        reply.body
    );
    let reply = app.fetch("/api/users?page=2").await;
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("named by the user it starts after (`?after=40`)"),
        "{}",
        reply.body
    );
}

#[rocket::async_test]
async fn an_unknown_path_under_the_api_is_a_json_404() {
    let app = TestApp::spawn().await;
    for uri in ["/api/whatever", "/api", "/api/users/1/extra"] {
        let reply = app.fetch(uri).await;
        assert_json_error(&reply, 404, "Not Found");
    }
}

#[rocket::async_test]
async fn a_path_that_only_starts_like_the_api_gets_an_html_404() {
    let app = TestApp::spawn().await;
    let reply = app.fetch("/apis").await;
    assert_eq!(reply.status, 404);
    assert!(reply.is_html(), "{:?}", reply.headers);
}
