//! What any client can send without switching the cache off for its requests: a
//! session cookie that is junk or names no session, credentials on a public
//! page, a fully qualified host. Each is served from the cache, and `MySQL` sees
//! no statement; a live session still bypasses.

use rocket::http::uri::Host;
use rocket::http::{Cookie, Header};

use crate::support::{AppBuilder, Reply, TestApp};

/// The pages any visitor may ask for, stored by two plain GETs each.
const PAGES: &[&str] = &["/", "/users/1", "/api/users", "/api/users/1"];

async fn warmed_app() -> TestApp {
    let app = AppBuilder::new().with_admin().start().await;
    for host in ["localhost:8000", "127.0.0.1:8000"] {
        for uri in PAGES {
            app.get_with(uri, &[("Host", host)]).await;
            let reply = Reply::read(app.get_with(uri, &[("Host", host)]).await).await;
            assert_eq!(reply.x_cache(), "HIT", "{host}{uri}");
        }
    }
    app
}

/// GET `uri` with the session cookie `token`, encrypted as the app encrypts it:
/// a cookie that decrypts, as only the app itself can have made.
async fn get_with_sealed_session(app: &TestApp, uri: &str, token: &str) -> Reply {
    let mut request = app
        .client
        .get(uri.to_owned())
        .header(Header::new("Host", "localhost:8000"))
        .private_cookie(Cookie::new("rc_session", token.to_owned()));
    request
        .inner_mut()
        .set_host(Host::parse("localhost:8000").expect("a host"));
    Reply::read(request.dispatch().await).await
}

#[rocket::async_test]
async fn junk_cookies_credentials_and_a_trailing_dot_are_hits_that_never_reach_mysql() {
    let app = warmed_app().await;
    let strangers: &[&[(&str, &str)]] = &[
        &[("Cookie", "rc_session=x")],
        &[(
            "Cookie",
            "rc_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )],
        &[("Authorization", "Bearer x")],
        &[("Authorization", "Basic YWRtaW46eA==")],
        &[("Host", "localhost.:8000")],
        &[("Host", "127.0.0.1.")],
        &[
            ("Cookie", "rc_session=x"),
            ("Authorization", "Bearer x"),
            ("Host", "LOCALHOST."),
        ],
    ];
    let before = app.queries();
    for headers in strangers {
        for uri in PAGES {
            let reply = Reply::read(app.get_with(uri, headers).await).await;
            assert_eq!(reply.status, 200, "{uri} {headers:?}");
            assert_eq!(reply.x_cache(), "HIT", "{uri} {headers:?}");
        }
    }
    assert_eq!(app.queries(), before, "MySQL saw no statement");
}

#[rocket::async_test]
async fn credentials_never_fill_the_cache() {
    let app = AppBuilder::new().with_admin().start().await;
    let credentials = [("Authorization", "Bearer x")];
    for _ in 0..2 {
        let reply = Reply::read(app.get_with("/users/1", &credentials).await).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.x_cache(), "BYPASS", "not stored, so not served");
        assert_eq!(reply.header("cache-control"), Some("private"));
    }
    assert_eq!(app.fetch("/users/1").await.x_cache(), "MISS");
}

#[rocket::async_test]
async fn a_sealed_cookie_of_no_session_costs_one_lookup_per_instance_then_none() {
    let app = warmed_app().await;
    let token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let before = app.queries();
    let first = get_with_sealed_session(&app, "/", token).await;
    assert_eq!(first.x_cache(), "HIT");
    // The lookup, and the pool's check of the connection it took.
    let looked_up = app.queries();
    assert!(
        (before + 1..=before + 2).contains(&looked_up),
        "one lookup of the session: {} statements",
        looked_up - before
    );
    for uri in PAGES {
        let again = get_with_sealed_session(&app, uri, token).await;
        assert_eq!(again.x_cache(), "HIT", "{uri}");
    }
    assert_eq!(app.queries(), looked_up, "the ended token is remembered");
}

#[rocket::async_test]
async fn a_live_session_still_bypasses_and_its_logout_makes_the_cookie_anonymous() {
    let app = warmed_app().await;
    app.login().await;
    let cookie = app
        .client
        .cookies()
        .get_private("rc_session")
        .expect("logged in");
    let token = cookie.value().to_owned();
    let reply = get_with_sealed_session(&app, "/", &token).await;
    assert_eq!(reply.x_cache(), "BYPASS", "the admin's own page");
    assert!(reply.body.contains("Log out"), "{}", reply.body);
    // Logged out (the row is gone, the cache's copy of it purged): the same
    // cookie is anonymous now. A row deleted outside the app goes within the
    // copy's few seconds (`logins::a_session_row_deleted_outside_the_app...`).
    let csrf = app.csrf().await;
    let logout = app.post_form("/admin/logout", &[("csrf", &csrf)]).await;
    assert_eq!(logout.status().code, 303);
    drop(logout);
    let reply = get_with_sealed_session(&app, "/", &token).await;
    assert_eq!(reply.x_cache(), "HIT");
    assert!(!reply.body.contains("Log out"));
}
