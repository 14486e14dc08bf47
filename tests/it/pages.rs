//! The HTML pages: the users list, its pagination, one user, escaping.

use crate::support::{AppBuilder, TestApp};

/// Rows of the users table on a list page (each row links to its user).
fn rows(body: &str) -> usize {
    body.matches("<a href=\"/users/").count()
}

#[rocket::async_test]
async fn the_users_list_shows_the_tutorial_sample_row() {
    let app = TestApp::spawn().await;
    let page = app.fetch("/").await;
    assert_eq!(page.status, 200);
    assert!(page.is_html(), "{:?}", page.headers);
    let body = &page.body;
    assert!(body.starts_with("<!DOCTYPE html>"), "{body}");
    assert!(body.contains("<a href=\"/users/1\">Soumitra</a>"), "{body}");
    assert!(body.contains("soumitra@roytuts.com"));
    assert!(body.contains("43256789"));
    assert!(body.contains("Earth"));
    assert!(body.contains("1 user in all"));
    assert_eq!(rows(body), 1);
}

#[rocket::async_test]
async fn a_user_name_with_markup_is_shown_as_text() {
    let app = TestApp::spawn().await;
    app.db.execute(
        "INSERT INTO `user` (name, email, phone, address) \
         VALUES ('<script>alert(1)</script>', 'x@example.com', '1', '\"&''')",
    );
    let (_, body) = app.get_text("/").await;
    assert!(!body.contains("<script>alert(1)</script>"), "{body}");
    assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let (_, detail) = app.get_text("/users/2").await;
    assert!(detail.contains("&lt;script&gt;"));
    assert!(!detail.contains("<script>"));
}

#[rocket::async_test]
async fn markup_in_every_field_is_escaped_on_the_list_and_the_user_page() {
    let app = TestApp::spawn().await;
    app.db.execute(
        "INSERT INTO `user` (id, name, email, phone, address) VALUES \
         (7, '<b>name</b>', '<i>mail</i>\"@x', '<u>1</u>', '<em>addr</em> & ''co''')",
    );
    for uri in ["/", "/users/7"] {
        let (status, body) = app.get_text(uri).await;
        assert_eq!(status, 200, "{uri}");
        for raw in ["<b>", "<i>", "<u>", "<em>", "\"@x", "& 'co'"] {
            assert!(
                !body.contains(raw),
                "{uri} shows {raw:?} unescaped:\n{body}"
            );
        }
        for escaped in [
            "&lt;b&gt;name&lt;/b&gt;",
            "&lt;i&gt;mail&lt;/i&gt;&quot;@x",
            "&lt;u&gt;1&lt;/u&gt;",
            "&lt;em&gt;addr&lt;/em&gt; &amp; &#x27;co&#x27;",
        ] {
            assert!(body.contains(escaped), "{uri} lacks {escaped:?}:\n{body}");
        }
    }
    // The page title is escaped too.
    let (_, body) = app.get_text("/users/7").await;
    assert!(
        body.contains("<title>&lt;b&gt;name&lt;/b&gt; · Users directory</title>"),
        "{body}"
    );
}

#[rocket::async_test]
async fn the_list_shows_twenty_users_per_page_by_default_with_the_total() {
    let app = TestApp::spawn().await;
    app.insert_users(45);
    let (status, body) = app.get_text("/").await;
    assert_eq!(status, 200);
    assert!(body.contains("46 users in all, showing 1–20."), "{body}");
    assert!(body.contains("Page 1 of 3"), "{body}");
    assert_eq!(rows(&body), 20);
    assert!(body.contains("<a href=\"/users/20\">"));
    assert!(!body.contains("<a href=\"/users/21\">"));
    assert!(body.contains("rel=\"next\" href=\"/?after=20\""), "{body}");
    assert!(body.contains("rel=\"last\" href=\"/?after=40\""), "{body}");
    assert!(!body.contains("rel=\"prev\""), "{body}");
    assert!(!body.contains("rel=\"first\""), "{body}");
}

#[rocket::async_test]
async fn pages_of_the_list_hold_consecutive_slices_of_users() {
    let app = TestApp::spawn().await;
    app.insert_users(45);
    let (_, body) = app.get_text("/?after=20").await;
    assert!(body.contains("showing 21–40."), "{body}");
    assert!(body.contains("Page 2 of 3"), "{body}");
    assert_eq!(rows(&body), 20);
    assert!(body.contains("<a href=\"/users/21\">User 19</a>"), "{body}");
    assert!(body.contains("<a href=\"/users/40\">User 38</a>"), "{body}");
    assert!(body.contains("rel=\"first\" href=\"/\""), "{body}");
    assert!(body.contains("rel=\"prev\" href=\"/\""), "{body}");
    assert!(body.contains("rel=\"next\" href=\"/?after=40\""), "{body}");
    assert!(body.contains("href=\"/api/users?after=20\">This page as JSON"));

    let (status, last) = app.get_text("/?after=40").await;
    assert_eq!(status, 200);
    assert!(last.contains("showing 41–46."), "{last}");
    assert!(last.contains("Page 3 of 3"), "{last}");
    assert_eq!(rows(&last), 6);
    assert!(last.contains("<a href=\"/users/46\">User 44</a>"));
    assert!(last.contains("rel=\"prev\" href=\"/?after=20\""), "{last}");
    assert!(!last.contains("rel=\"next\""), "{last}");
    assert!(!last.contains("rel=\"last\""), "{last}");
}

#[rocket::async_test]
async fn per_page_above_one_hundred_is_a_bad_request_and_one_hundred_is_the_largest_page() {
    let app = TestApp::spawn().await;
    app.insert_users(120);
    let (status, body) = app.get_text("/?per_page=100").await;
    assert_eq!(status, 200);
    assert!(body.contains("121 users in all, showing 1–100."), "{body}");
    assert_eq!(rows(&body), 100);
    assert!(
        body.contains("rel=\"next\" href=\"/?after=100&amp;per_page=100\""),
        "{body}"
    );
    let (status, body) = app.get_text("/?per_page=1000").await;
    assert_eq!(status, 400);
    assert!(body.contains("per_page"), "{body}");
}

#[rocket::async_test]
async fn a_page_size_the_list_does_not_offer_is_a_400_page_that_names_those_it_does_without_mysql()
{
    let app = TestApp::spawn().await;
    for size in [5, 10, 50, 100] {
        assert_eq!(app.fetch(&format!("/?per_page={size}")).await.status, 200);
    }
    assert_eq!(
        app.fetch("/?per_page=20").await.status,
        308,
        "the default size's address leaves it out"
    );
    let before = app.queries();
    for size in ["1", "7", "21", "99", "101"] {
        let page = app.fetch(&format!("/?per_page={size}")).await;
        assert_eq!(page.status, 400, "{size}: {}", page.body);
        assert!(page.is_html(), "{size}: {:?}", page.headers);
        assert!(
            page.body.contains("give 5, 10, 20, 50 or 100"),
            "{size}: {}",
            page.body
        );
        let (status, json) = app.get_json(&format!("/api/users?per_page={size}")).await;
        assert_eq!(status, 400, "{json}");
        assert!(
            json["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("give 5, 10, 20, 50 or 100")),
            "{json}"
        );
    }
    assert_eq!(app.queries(), before, "MySQL saw no statement");
    assert!(
        app.namespace
            .keys()
            .iter()
            .all(|k| !k.contains("per_page=7") && !k.contains("per_page=21")),
        "nothing stored for sizes not offered"
    );
}

#[rocket::async_test]
async fn a_cursor_that_is_not_a_user_id_written_plainly_is_a_400_page() {
    let app = TestApp::spawn().await;
    for query in [
        "after=0",
        "after=-1",
        "after=abc",
        "after=",
        "after=1.5",
        "after=01",
        "after=4294967296",
        "per_page=0",
        "per_page=x",
    ] {
        let page = app.fetch(&format!("/?{query}")).await;
        assert_eq!(page.status, 400, "{query}: {}", page.body);
        assert!(page.is_html(), "{query}: {:?}", page.headers);
        assert!(
            page.body.contains("400 · Bad Request"),
            "{query}: {}",
            page.body
        );
        assert!(
            page.body.contains("is not a user id to start after")
                || page.body.contains("users per page"),
            "{query}: {}",
            page.body
        );
        assert_eq!(page.header("cache-control"), Some("no-store"), "{query}");
    }
}

#[rocket::async_test]
async fn the_first_page_of_an_empty_table_is_a_200_saying_there_are_no_users() {
    let app = TestApp::spawn().await;
    app.db.execute("DELETE FROM `user`");
    let (status, body) = app.get_text("/").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("0 users in all."), "{body}");
    assert!(body.contains("No users yet."), "{body}");
    assert!(!body.contains("class=\"pager\""), "{body}");
    assert_eq!(rows(&body), 0);
}

#[rocket::async_test]
async fn a_user_page_shows_every_field_of_that_user() {
    let app = TestApp::spawn().await;
    let page = app.fetch("/users/1").await;
    assert_eq!(page.status, 200);
    assert!(page.is_html());
    let body = &page.body;
    assert!(body.contains("<h1>Soumitra</h1>"), "{body}");
    assert!(
        body.contains("<a href=\"mailto:soumitra@roytuts.com\">"),
        "{body}"
    );
    assert!(body.contains(">43256789</dd>"));
    assert!(body.contains("<dd>Earth</dd>"));
}

#[rocket::async_test]
async fn an_unknown_user_id_is_a_404_page() {
    let app = TestApp::spawn().await;
    for uri in ["/users/999", "/users/0", "/users/4294967296"] {
        let page = app.fetch(uri).await;
        assert_eq!(page.status, 404, "{uri}");
        assert!(page.is_html(), "{uri}");
        assert!(
            page.body.contains("404 · Not Found"),
            "{uri}: {}",
            page.body
        );
        assert!(
            page.body.contains("There is no user"),
            "{uri}: {}",
            page.body
        );
    }
}

#[rocket::async_test]
async fn a_non_numeric_user_id_is_a_404_page_without_asking_mysql() {
    let app = TestApp::spawn().await;
    let before = app.queries();
    for uri in ["/users/abc", "/users/-1", "/users/1.0", "/users/%20"] {
        let page = app.fetch(uri).await;
        assert_eq!(page.status, 404, "{uri}");
        assert!(page.is_html(), "{uri}");
        assert!(page.body.contains("404 · Not Found"), "{uri}");
    }
    assert_eq!(app.queries(), before);
}

#[rocket::async_test]
async fn an_unknown_path_is_a_404_page() {
    let app = TestApp::spawn().await;
    let page = app.fetch("/no/such/page").await;
    assert_eq!(page.status, 404);
    assert!(page.is_html(), "{:?}", page.headers);
    assert!(page.body.starts_with("<!DOCTYPE html>"));
    assert!(
        page.body.contains("There is nothing at this address."),
        "{}",
        page.body
    );
}

#[rocket::async_test]
async fn a_route_failing_with_500_gets_the_html_error_page_that_nobody_stores() {
    let app = AppBuilder::new().with_test_routes().start().await;
    let page = app.fetch("/test/fail").await;
    assert_eq!(page.status, 500);
    assert!(page.is_html(), "{:?}", page.headers);
    assert!(
        page.body.contains("500 · Internal Server Error"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Something went wrong on our side."));
    assert_eq!(page.header("cache-control"), Some("no-store"));
}

#[rocket::async_test]
async fn head_requests_get_the_status_and_headers_without_a_body() {
    let app = TestApp::spawn().await;
    let response = app.client.head("/").dispatch().await;
    assert_eq!(response.status().code, 200);
    assert!(response
        .headers()
        .get_one("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(response.into_string().await.unwrap_or_default(), "");
}

#[rocket::async_test]
async fn the_stylesheet_is_served_with_a_long_browser_lifetime() {
    let app = TestApp::spawn().await;
    let css = app.fetch("/static/style.css").await;
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(css.header("cache-control"), Some("public, max-age=3600"));
    assert!(css.body.contains("body {"));
}
