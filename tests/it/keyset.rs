//! List pages named by the user they start after (issue 18): a walk by the pages'
//! own links sees each user once however the table changes under it, every link
//! leads to a page, and a page costs a few seeks at any position.

use std::collections::HashSet;

use crate::support::TestApp;

/// The link with `rel` on an HTML list page, unescaped.
fn link(body: &str, rel: &str) -> Option<String> {
    let marker = format!("rel=\"{rel}\" href=\"");
    let start = body.find(&marker)? + marker.len();
    let end = body[start..].find('"')? + start;
    Some(body[start..end].replace("&amp;", "&"))
}

/// The ids of the users a list page shows, in order.
fn shown_ids(body: &str) -> Vec<u32> {
    body.split("<a href=\"/users/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next()?.parse().ok())
        .collect()
}

/// `count` more users (up to a million), by one statement that any SQL console
/// could send (no purge reaches the cache). Two joined runs of 1,000 stay within
/// `MariaDB`'s default `max_recursive_iterations`.
fn bulk_insert(app: &TestApp, count: u32) {
    app.db.execute(&format!(
        "INSERT INTO `user` (name, email, phone, address) \
         WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999) \
         SELECT CONCAT('Bulk ', k), CONCAT('bulk', k, '-', UUID_SHORT(), '@example.com'), \
         '555', 'Street' FROM (SELECT a.i * 1000 + b.i AS k FROM n a JOIN n b) t \
         WHERE k < {count} ORDER BY k"
    ));
}

#[rocket::async_test]
async fn walking_every_page_visits_each_user_once_while_users_come_and_go() {
    let app = TestApp::spawn().await;
    app.insert_users(199);
    let mut seen = Vec::new();
    let mut deleted = HashSet::new();
    let mut next_new = 0;
    let mut uri = "/?per_page=10".to_owned();
    for step in 0u32.. {
        let (status, body) = app.get_text(&uri).await;
        assert_eq!(status, 200, "{uri}: {body}");
        let ids = shown_ids(&body);
        seen.extend(&ids);
        // Behind the walk: a user already seen goes. Ahead of it: one not yet
        // seen goes, and a new user arrives at the end.
        let behind = ids[0];
        let ahead = 2 * step + 120;
        for id in [behind, ahead] {
            app.db
                .execute(&format!("DELETE FROM `user` WHERE id = {id}"));
            deleted.insert(id);
        }
        if next_new < 15 {
            app.db.execute(&format!(
                "INSERT INTO `user` (name, email, phone, address) \
                 VALUES ('New {next_new}', 'new{next_new}@example.com', '1', 'x')"
            ));
            next_new += 1;
        }
        match link(&body, "next") {
            Some(next) => uri = next,
            None => break,
        }
        assert!(step < 100, "the walk ends");
    }
    let unique: HashSet<u32> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "nobody twice: {seen:?}");
    let kept: Vec<u32> = (1..=215).filter(|id| !deleted.contains(id)).collect();
    for id in &kept {
        assert!(unique.contains(id), "user {id} was never shown");
    }
    assert!(
        unique.contains(&215),
        "the users added during the walk are reached"
    );
}

#[rocket::async_test]
async fn a_page_number_is_refused_with_a_page_that_says_how_pages_are_named_without_mysql() {
    let app = TestApp::spawn().await;
    app.insert_users(45);
    let before = app.queries();
    for uri in ["/?page=2", "/?page=1&per_page=10", "/?page=abc"] {
        let page = app.fetch(uri).await;
        assert_eq!(page.status, 400, "{uri}: {}", page.body);
        assert!(page.is_html());
        assert!(
            page.body.contains("named by the user it starts after"),
            "{uri}: {}",
            page.body
        );
    }
    assert_eq!(app.queries(), before, "refused without a statement");
}

#[rocket::async_test]
async fn a_stale_total_never_turns_a_valid_page_into_an_error() {
    let app = TestApp::spawn().await;
    app.insert_users(45);
    let (_, first) = app.get_text("/").await;
    assert!(first.contains("46 users in all"), "{first}");
    // Rows arrive by SQL, behind the memoised total's back.
    bulk_insert(&app, 100);
    let mut uri = link(&first, "next").expect("a next page");
    let mut pages = 1;
    loop {
        let (status, body) = app.get_text(&uri).await;
        assert_eq!(status, 200, "{uri}: {body}");
        pages += 1;
        match link(&body, "next") {
            Some(next) => uri = next,
            None => break,
        }
    }
    assert_eq!(pages, 8, "146 users at 20 a page, whatever the total said");
    let (status, _) = app.get_text("/?after=140").await;
    assert_eq!(status, 200, "a page past the memoised total");
}

#[rocket::async_test]
async fn the_last_page_is_one_click_from_the_first_and_ends_the_list() {
    let app = TestApp::spawn().await;
    app.insert_users(1_000);
    let (_, first) = app.get_text("/").await;
    let last = link(&first, "last").expect("a last link on the first page");
    assert_eq!(last, "/?after=1000");
    let (status, body) = app.get_text(&last).await;
    assert_eq!(status, 200);
    assert_eq!(shown_ids(&body), vec![1001]);
    assert!(body.contains("Page 51 of 51"), "{body}");
    assert!(body.contains("showing 1,001."), "{body}");
    assert_eq!(link(&body, "next"), None);
    assert_eq!(link(&body, "prev").as_deref(), Some("/?after=980"));
}

#[rocket::async_test]
async fn pages_near_the_current_one_are_linked_by_number() {
    let app = TestApp::spawn().await;
    app.insert_users(99);
    let (_, body) = app.get_text("/?after=40&per_page=10").await;
    assert!(body.contains("Page 5 of 10"), "{body}");
    for (number, href) in [
        (3, "/?after=20&amp;per_page=10"),
        (4, "/?after=30&amp;per_page=10"),
        (6, "/?after=50&amp;per_page=10"),
        (7, "/?after=60&amp;per_page=10"),
    ] {
        assert!(
            body.contains(&format!(
                "<a href=\"{href}\" aria-label=\"Page {number}\">{number}</a>"
            )),
            "page {number}: {body}"
        );
    }
    assert!(
        body.contains("<span aria-current=\"page\">5</span>"),
        "{body}"
    );
    // Near the first page, the numbers stop at 1.
    let (_, body) = app.get_text("/?after=10&per_page=10").await;
    assert!(
        body.contains("<a href=\"/?per_page=10\" aria-label=\"Page 1\">1</a>"),
        "{body}"
    );
    assert!(!body.contains("aria-label=\"Page 0\""), "{body}");
}

#[rocket::async_test]
async fn a_cursor_that_names_no_user_redirects_to_the_page_of_the_same_users() {
    let app = TestApp::spawn().await;
    app.insert_users(45);
    app.db.execute("DELETE FROM `user` WHERE id IN (1, 20)");
    for (uri, to) in [
        ("/?after=20", "/?after=19"),
        ("/?after=5000&per_page=5", "/?after=46&per_page=5"),
        ("/?after=1", "/"),
        ("/api/users?after=20", "/api/users?after=19"),
    ] {
        let reply = app.fetch(uri).await;
        assert_eq!(reply.status, 307, "{uri}: {}", reply.body);
        assert_eq!(reply.header("location"), Some(to), "{uri}");
        assert_ne!(reply.x_cache(), "HIT", "{uri}");
        assert_ne!(app.fetch(uri).await.x_cache(), "HIT", "{uri} is not stored");
    }
}

#[rocket::async_test]
async fn a_large_table_shows_an_estimated_total_and_any_page_costs_a_few_seeks() {
    let app = TestApp::spawn().await;
    bulk_insert(&app, 12_000);
    app.db.execute("ANALYZE TABLE `user`");
    let (status, first) = app.get_text("/").await;
    assert_eq!(status, 200);
    assert!(first.contains("About "), "{first}");
    assert!(first.contains("users in all, showing 1–20."), "{first}");
    assert!(first.contains("Page 1 of about "), "{first}");
    let (_, list) = app.get_json("/api/users").await;
    assert_eq!(list["total_is_exact"], false, "{list}");
    assert!(list["total"].as_u64().unwrap() > 10_000, "{list}");

    // Each page from a cold cache: one statement for its
    // rows and the ids around it and, for a numbered page, a bounded count,
    // wherever it is (the total comes from the memo filled above).
    for (uri, numbered, last) in [
        ("/?after=100", true, Some("/?after=11981")),
        ("/?after=6000", false, Some("/?after=11981")),
        ("/?after=11990", false, None),
    ] {
        let before = app.statements_besides_pings();
        let (status, body) = app.get_text(uri).await;
        assert_eq!(status, 200, "{uri}");
        let statements = app.statements_besides_pings() - before;
        let expected = if numbered { 2 } else { 1 };
        assert_eq!(statements, expected, "{uri}");
        assert_eq!(body.contains("aria-current=\"page\""), numbered, "{uri}");
        assert_eq!(link(&body, "last").as_deref(), last, "{uri}");
    }
}

#[rocket::async_test]
async fn the_page_after_the_last_user_is_empty_and_links_back() {
    let app = TestApp::spawn().await;
    app.insert_users(45);
    let (status, body) = app.get_text("/?after=46").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("No users after this one."), "{body}");
    assert!(body.contains("After the last page"), "{body}");
    assert!(!body.contains("aria-current"), "no number for it: {body}");
    assert_eq!(link(&body, "prev").as_deref(), Some("/?after=26"));
    assert_eq!(link(&body, "next"), None);
}
