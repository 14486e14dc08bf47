//! Admin pages built from cached fragments: the list's body and a user's details
//! are rendered once for every admin (two instances, two admins, one Redis) and
//! purged with their rows; the page around them (the admin's name, CSRF token,
//! flash message) is each admin's own and is never stored. Proven by the
//! statements that reach MySQL.

use rocket::http::Method;

use crate::support::admin::{field_value, ADMIN_PASSWORD};
use crate::support::{AppBuilder, Reply, TestApp};

/// Two instances on one database and Redis, each with its own admin
/// (`alice`, `bob`) logged in, and 100 users (the sample row and 99 more).
async fn two_admins() -> (TestApp, TestApp) {
    let alice = AppBuilder::new()
        .with_admin()
        .with("admin.username", "alice")
        .start()
        .await;
    alice.insert_users(99);
    let bob = alice
        .peer()
        .with_admin()
        .with("admin.username", "bob")
        .start()
        .await;
    for (app, name) in [(&alice, "alice"), (&bob, "bob")] {
        let login = app.try_login(name, ADMIN_PASSWORD).await;
        assert_eq!(login.status().code, 303, "{name} logs in");
    }
    (alice, bob)
}

const LIST: &str = "/?per_page=100";

/// Statements an admin page costs when it reads nothing but the admin's session
/// (the new-user form): one lookup, or none while the cache keeps the session.
async fn session_only(app: &TestApp) -> u64 {
    let before = app.statements_besides_pings();
    let (status, _) = app.get_text("/users/new").await;
    assert_eq!(status, 200);
    app.statements_besides_pings() - before
}

/// The page at `uri` and the statements its view sent to MySQL beyond what a
/// page reading only the admin's session cost just before it.
async fn counted(app: &TestApp, uri: &str) -> (Reply, u64) {
    let session = session_only(app).await;
    let before = app.statements_besides_pings();
    let reply = app.fetch(uri).await;
    assert_eq!(reply.status, 200, "{uri}: {}", reply.body);
    let statements = app.statements_besides_pings() - before;
    (reply, statements.saturating_sub(session))
}

#[rocket::async_test]
async fn a_second_admins_view_of_the_list_reads_no_user_from_mysql_and_shows_only_their_own() {
    let (alice, bob) = two_admins().await;

    let (first, _) = counted(&alice, LIST).await;
    let alice_csrf = field_value(&first.body, "csrf").expect("alice's logout form");
    assert!(first
        .body
        .contains("Signed in as <span class=\"who\">alice"));
    assert!(
        first.body.contains("/users/100/delete"),
        "100 rows with actions"
    );

    for view in ["first", "repeat"] {
        let (page, statements) = counted(&bob, LIST).await;
        assert_eq!(statements, 0, "bob's {view} view reads no user");
        assert_eq!(page.header("cache-control"), Some("private, no-store"));
        let bob_csrf = field_value(&page.body, "csrf").expect("bob's logout form");
        assert_ne!(bob_csrf, alice_csrf);
        assert!(!page.body.contains(&alice_csrf), "alice's token: {view}");
        assert!(!page.body.contains("alice"), "alice's name: {view}");
        assert!(page.body.contains("Signed in as <span class=\"who\">bob"));
        assert!(page.body.contains("/users/100/edit"), "the shared rows");
    }
    let response = bob.get(LIST).await;
    let size = response
        .body()
        .preset_size()
        .expect("a rendered page's size is known");
    assert!(size > 4096, "larger than one default chunk");
    assert!(
        response.body().max_chunk_size() >= size,
        "the page goes to the connection in one piece"
    );
    drop(response);
    let (_, metrics) = bob.get_text("/metrics").await;
    assert!(
        metrics.contains("page_cache_fragment_hits_total 3"),
        "{metrics}"
    );
    let (again, _) = counted(&alice, LIST).await;
    assert!(
        !again.body.contains("bob"),
        "nothing of bob's in alice's page"
    );
    assert!(again.body.contains(&alice_csrf));
}

#[rocket::async_test]
async fn a_write_purges_the_fragment_at_once_and_its_flash_stays_with_the_writer() {
    let (alice, bob) = two_admins().await;
    counted(&bob, LIST).await;
    counted(&bob, "/users/30").await;

    let csrf = alice.csrf().await;
    let saved = alice
        .post_form(
            "/users/30/edit",
            &[
                ("name", "Thirty, renamed"),
                ("email", "thirty@example.com"),
                ("phone", "555 0030"),
                ("address", "30 Test Street"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(saved.status().code, 303);

    for uri in [LIST, "/users/30"] {
        let (page, statements) = counted(&bob, uri).await;
        assert!(
            page.body.contains("Thirty, renamed"),
            "{uri}: fresh at once"
        );
        assert!(
            statements > 0,
            "{uri}: the purged fragment renders from MySQL"
        );
        let (_, statements) = counted(&bob, uri).await;
        assert_eq!(statements, 0, "{uri}: then it is cached again");
    }
    // Alice's next page carries her flash message, around the shared fragment;
    // Bob's never does.
    let (alices, _) = counted(&alice, "/users/30").await;
    assert!(alices.body.contains("class=\"flash"), "{}", alices.body);
    let (bobs, statements) = counted(&bob, "/users/30").await;
    assert_eq!(statements, 0);
    assert!(!bobs.body.contains("class=\"flash"), "alice's flash");
}

#[rocket::async_test]
async fn a_users_page_for_admins_reads_the_user_once_for_all_of_them() {
    let (alice, bob) = two_admins().await;
    let (page, _) = counted(&alice, "/users/42").await;
    assert!(page
        .body
        .contains("<title>User 40 · Users directory</title>"));
    assert!(page.body.contains("/users/42/delete"));
    let (page, statements) = counted(&bob, "/users/42").await;
    assert_eq!(statements, 0, "bob's view reads no user");
    assert!(page
        .body
        .contains("<title>User 40 · Users directory</title>"));
    assert!(
        page.body.contains("/users/42/edit"),
        "with the admin's actions"
    );
    assert!(!page.body.contains("alice"));

    let (status, _) = bob.api_json(Method::Delete, "/api/users/42", None).await;
    assert_eq!(status, 204);
    let (status, _) = bob.get_text("/users/42").await;
    assert_eq!(status, 404, "the deleted user's fragment went with the row");
}

#[rocket::async_test]
async fn visitors_pages_stay_cached_whole_and_never_show_the_admins_fragment() {
    let (alice, _bob) = two_admins().await;
    counted(&alice, LIST).await;
    counted(&alice, "/users/7").await;
    let fragments = fragment_keys(&alice);
    assert_eq!(
        fragments.len(),
        2,
        "the admin's list and user fragments are in the shared store: {fragments:?}"
    );

    let visitor = alice.peer().untracked().start().await;
    for uri in [LIST, "/users/7"] {
        let first = visitor.fetch(uri).await;
        assert_eq!(first.x_cache(), "MISS", "{uri}");
        let before = visitor.queries();
        let hit = visitor.fetch(uri).await;
        assert_eq!(hit.x_cache(), "HIT", "{uri}: the whole page, as before");
        assert_eq!(visitor.queries(), before);
        assert!(!hit.body.contains("/edit"), "{uri}: no admin links");
        assert!(!hit.body.contains("csrf"), "{uri}");
    }
    assert_eq!(
        fragment_keys(&alice).len(),
        2,
        "visitors' pages make no fragments"
    );
}

/// The fragment keys of the test's namespace.
fn fragment_keys(app: &TestApp) -> Vec<String> {
    app.namespace
        .keys()
        .into_iter()
        .filter(|key| key.contains(":frag:"))
        .collect()
}

#[rocket::async_test]
async fn admin_pages_render_from_mysql_when_fragments_are_switched_off() {
    let alice = AppBuilder::new()
        .with_admin()
        .with("cache.fragments", false)
        .start()
        .await;
    alice.insert_users(99);
    alice.login().await;
    counted(&alice, LIST).await;
    let (page, statements) = counted(&alice, LIST).await;
    assert!(statements > 0, "every view reads the rows");
    assert!(page.body.contains("/users/100/delete"));
}
