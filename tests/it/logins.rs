//! Admin sessions and logins: sessions that end everywhere at logout and expire
//! server-side, CSRF tokens that die with them, `next` values that cannot break
//! the login, and wrong passwords that cannot exhaust memory or be guessed fast.

use std::net::SocketAddr;
use std::time::Duration;

use rocket::http::{ContentType, Header};
use test_support::{eventually, free_port};

use crate::support::admin::{field_value, form_body, ADMIN_PASSWORD, ADMIN_USER};
use crate::support::process::{server_command, Process};
use crate::support::{header, invalidations_arrive, AppBuilder, TestApp, TestDb, TestNamespace};
use rocket_cache::web::auth::SESSION_MEMO_TTL;

/// The session cookie as the browser holds it.
fn session_cookie(app: &TestApp) -> String {
    let jar = app.client.cookies();
    let cookie = jar.get("rc_session").expect("logged in");
    format!("rc_session={}", cookie.value())
}

fn session_rows(app: &TestApp) -> u64 {
    app.db
        .query_one("SELECT COUNT(*) FROM `admin_session`")
        .parse()
        .expect("a count")
}

/// POSTs a form with `cookie` as the only cookie, as a replaying client would.
async fn post_with_cookie(app: &TestApp, uri: &str, cookie: &str, fields: &[(&str, &str)]) -> u16 {
    app.client
        .post(uri.to_owned())
        .header(ContentType::Form)
        .header(Header::new("Host", "localhost:8000"))
        .header(Header::new("Cookie", cookie.to_owned()))
        .body(form_body(fields))
        .dispatch()
        .await
        .status()
        .code
}

#[rocket::async_test]
async fn after_logout_the_old_cookie_and_csrf_token_work_on_no_instance() {
    let a = AppBuilder::new().with_admin().start().await;
    let b = a.peer().with_admin().start().await;
    a.login().await;
    let cookie = session_cookie(&a);
    let csrf = a.csrf().await;
    let on_b = b.get_with("/admin/cache", &[("Cookie", &cookie)]).await;
    assert_eq!(on_b.status().code, 200, "the session works on the peer");
    drop(on_b);
    assert_eq!(session_rows(&a), 1);

    let logout = a.post_form("/admin/logout", &[("csrf", &csrf)]).await;
    assert_eq!(logout.status().code, 303);
    drop(logout);
    assert_eq!(session_rows(&a), 0, "logout deletes the session row");
    // The peer kept the session (it served it): the logout's purge reaches its
    // near cache with Redis's invalidation, as a write's reaches pages.
    invalidations_arrive().await;

    for app in [&a, &b] {
        let page = app.get_with("/admin/cache", &[("Cookie", &cookie)]).await;
        assert_eq!(
            page.status().code,
            303,
            "replayed cookie: to the login page"
        );
        assert!(header(&page, "Location").starts_with("/admin/login"));
    }
    let users = a.user_count();
    let fields = [
        ("csrf", csrf.as_str()),
        ("name", "Mallory"),
        ("email", "mallory@example.com"),
        ("phone", ""),
        ("address", "Elsewhere"),
    ];
    // 401: the "your login has ended" page, with a link to log in again.
    assert_eq!(
        post_with_cookie(&b, "/users/new", &cookie, &fields).await,
        401
    );
    assert_eq!(
        post_with_cookie(&a, "/users/new", &cookie, &fields).await,
        401
    );
    assert_eq!(a.user_count(), users, "no row written with the old token");
}

#[rocket::async_test]
async fn each_login_has_a_new_csrf_token_and_the_old_one_is_refused() {
    let app = AppBuilder::new().with_admin().start().await;
    app.login().await;
    let first = app.csrf().await;
    let logout = app.post_form("/admin/logout", &[("csrf", &first)]).await;
    assert_eq!(logout.status().code, 303);
    drop(logout);
    app.login().await;
    let second = app.csrf().await;
    assert_ne!(first, second, "the CSRF token rotates at login");
    let users = app.user_count();
    let response = app
        .post_form(
            "/users/new",
            &[
                ("csrf", &first),
                ("name", "Mallory"),
                ("email", "mallory@example.com"),
                ("address", "Elsewhere"),
            ],
        )
        .await;
    assert_eq!(response.status().code, 403, "the last session's token");
    drop(response);
    assert_eq!(app.user_count(), users);
    let stored: String = app
        .db
        .query_one("SELECT HEX(token_hash) FROM `admin_session`");
    assert_eq!(stored.len(), 64, "a SHA-256, not the token");
}

#[rocket::async_test]
async fn an_expired_session_is_refused_and_its_row_deleted_at_the_next_login() {
    let app = AppBuilder::new().with_admin().start().await;
    app.login().await;
    let cookie = session_cookie(&app);
    assert_eq!(app.get("/users/new").await.status().code, 200);
    // Expire it server-side, whatever the cookie says: a change made outside
    // the app, seen once the cache's copy of the row has lived its few seconds.
    app.db
        .execute("UPDATE `admin_session` SET expires_at = UNIX_TIMESTAMP() - 1");
    eventually(
        SESSION_MEMO_TTL + Duration::from_secs(5),
        "the expired session refused",
        || async { (app.get("/users/new").await.status().code == 303).then_some(()) },
    )
    .await;

    let other = app.peer().with_admin().start().await;
    other.login().await;
    assert_eq!(session_rows(&app), 1, "the expired row was deleted");
    let replay = other.get_with("/users/new", &[("Cookie", &cookie)]).await;
    assert_eq!(replay.status().code, 303);
}

#[rocket::async_test]
async fn live_sessions_are_capped_and_the_oldest_ends_first() {
    let app = AppBuilder::new().with_admin().start().await;
    // 120 live sessions from other browsers, created at 1000000 + i.
    let others: Vec<String> = (0..120)
        .map(|i| {
            format!(
                "(UNHEX(SHA2('other {i}', 256)), 'admin', 'x', REPEAT('0', 64), \
                 1000000 + {i}, UNIX_TIMESTAMP() + 10000)"
            )
        })
        .collect();
    app.db.execute(&format!(
        "INSERT INTO `admin_session` VALUES {}",
        others.join(", ")
    ));
    app.login().await;
    assert_eq!(session_rows(&app), 100, "at most 100 live sessions");
    assert_eq!(
        app.db
            .query_one("SELECT MIN(created_at) FROM `admin_session` WHERE fingerprint = 'x'"),
        "1000021",
        "the 21 oldest ended"
    );
    assert_eq!(
        app.get("/users/new").await.status().code,
        200,
        "the new one lives"
    );
}

#[rocket::async_test]
async fn the_session_cookie_and_the_server_side_session_end_together() {
    let app = AppBuilder::new()
        .with_admin()
        .with("admin.session_ttl_secs", 1800)
        .start()
        .await;
    let response = app.try_login(ADMIN_USER, ADMIN_PASSWORD).await;
    assert_eq!(response.status().code, 303);
    let set_cookie = response
        .headers()
        .get("Set-Cookie")
        .find(|value| value.starts_with("rc_session="))
        .expect("a session cookie")
        .to_owned();
    drop(response);
    let cookie = rocket::http::Cookie::parse(set_cookie.clone()).expect("a cookie");
    assert_eq!(
        cookie.max_age(),
        Some(rocket::time::Duration::seconds(1800)),
        "{set_cookie}"
    );
    let expires = cookie.expires_datetime().expect("an Expires");
    let lifetime = expires - rocket::time::OffsetDateTime::now_utc();
    assert!(
        (1790..=1800).contains(&lifetime.whole_seconds()),
        "Expires agrees with Max-Age: {set_cookie}"
    );
    assert_eq!(
        app.db
            .query_one("SELECT expires_at - created_at FROM `admin_session`"),
        "1800"
    );
}

#[rocket::async_test]
async fn a_next_that_is_not_a_uri_falls_back_to_the_home_page() {
    let app = AppBuilder::new().with_admin().start().await;
    for next in ["/a b", "/<x>", "/é"] {
        let response = app
            .try_login_with(ADMIN_USER, ADMIN_PASSWORD, &[("next", next)])
            .await;
        assert_eq!(response.status().code, 303, "{next}");
        assert_eq!(header(&response, "Location"), "/", "{next}");
        drop(response);

        // Logged in, the form sends the admin straight on.
        let encoded: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
        let response = app.get(&format!("/admin/login?next={encoded}")).await;
        assert_eq!(response.status().code, 303, "{next}");
        assert_eq!(header(&response, "Location"), "/", "{next}");
        drop(response);
        let csrf = app.csrf().await;
        app.post_form("/admin/logout", &[("csrf", &csrf)]).await;
    }
}

/// A login attempt from `remote` (a client address), with the form's CSRF token.
pub(crate) async fn login_from(
    app: &TestApp,
    remote: &str,
    username: &str,
    password: &str,
) -> (u16, String) {
    let remote: SocketAddr = remote.parse().expect("an address");
    let (_, page) = app.get_text("/admin/login").await;
    let csrf = field_value(&page, "csrf").unwrap();
    let response = app
        .client
        .post("/admin/login")
        .remote(remote)
        .header(ContentType::Form)
        .header(Header::new("Host", "localhost:8000"))
        .body(form_body(&[
            ("username", username),
            ("password", password),
            ("csrf", &csrf),
        ]))
        .dispatch()
        .await;
    let retry_after = header(&response, "Retry-After");
    (response.status().code, retry_after)
}

#[rocket::async_test]
async fn repeated_failures_lock_out_the_address_and_the_username_with_retry_after() {
    let app = AppBuilder::new()
        .with_admin()
        .with("admin.login_failures_allowed", 1)
        .start()
        .await;
    let (a, b) = ("192.0.2.1:4000", "192.0.2.2:4000");
    // The address: two failures with different usernames lock it out.
    assert_eq!(login_from(&app, a, "u1", "x").await.0, 401);
    assert_eq!(login_from(&app, a, "u2", "x").await.0, 401);
    let (status, retry_after) = login_from(&app, a, "u3", "x").await;
    assert_eq!(status, 429);
    assert!(
        retry_after.parse::<u64>().is_ok_and(|s| s >= 1),
        "{retry_after:?}"
    );
    assert_eq!(
        login_from(&app, b, "u3", "x").await.0,
        401,
        "another address"
    );

    // The username: failures from many addresses lock it out for everyone.
    assert_eq!(
        login_from(&app, "192.0.2.3:1", ADMIN_USER, "x").await.0,
        401
    );
    assert_eq!(
        login_from(&app, "192.0.2.4:1", ADMIN_USER, "x").await.0,
        401
    );
    let (status, retry_after) = login_from(&app, "192.0.2.5:1", ADMIN_USER, ADMIN_PASSWORD).await;
    assert_eq!(status, 429, "even the right password waits out the lockout");
    assert!(!retry_after.is_empty());
    assert_eq!(
        app.get("/users/new").await.status().code,
        303,
        "not logged in"
    );
}

/// A hash with argon2's production parameters (19 MiB per check), unlike the
/// cheap one the other tests use.
fn production_hash(password: &str) -> String {
    rocket_cache::web::auth::hash_password(password).expect("a hash")
}

/// The peak resident memory of a process, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// The login form's CSRF token and cookie, as a browser would get them.
async fn login_form(client: &reqwest::Client, base: &str) -> (String, String) {
    let response = client
        .get(format!("{base}/admin/login"))
        .send()
        .await
        .expect("the login form");
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("rc_login="))
        .and_then(|value| value.split(';').next())
        .expect("the login cookie")
        .to_owned();
    let page = response.text().await.expect("the page");
    (field_value(&page, "csrf").expect("a CSRF token"), cookie)
}

#[rocket::async_test]
async fn concurrent_wrong_logins_keep_memory_bounded_and_the_right_password_works() {
    const ATTEMPTS: usize = 150;
    const LIMIT_KIB: u64 = 400 * 1024;
    let db = TestDb::new();
    let namespace = TestNamespace::new();
    let port = free_port();
    let admin = format!(
        "{{username=\"{ADMIN_USER}\", password_hash=\"{}\", login_failures_allowed=100000}}",
        production_hash(ADMIN_PASSWORD)
    );
    let mut server = Process::spawn(server_command(&[
        ("ROCKET_PORT", port.to_string()),
        (
            "ROCKET_DATABASES",
            format!("{{main={{url=\"{}\"}}}}", db.url()),
        ),
        (
            "ROCKET_CACHE",
            format!("{{namespace=\"{}\"}}", namespace.name),
        ),
        ("ROCKET_ADMIN", admin),
        (
            "ROCKET_SECRET_KEY",
            crate::support::admin::secret_key().to_owned(),
        ),
    ]));
    let base = format!("http://127.0.0.1:{port}");
    server
        .wait_answer(&format!("{base}/health/live"), Duration::from_mins(1))
        .await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_mins(1))
        .build()
        .expect("HTTP client");
    let (csrf, cookie) = login_form(&client, &base).await;
    let attempt = |password: &'static str| {
        let request = client
            .post(format!("{base}/admin/login"))
            .header("Cookie", &cookie)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form_body(&[
                ("username", ADMIN_USER),
                ("password", password),
                ("csrf", &csrf),
            ]));
        async move { request.send().await.map(|r| r.status().as_u16()) }
    };
    let statuses =
        futures::future::join_all((0..ATTEMPTS).map(|_| attempt("wrong password"))).await;
    let (mut wrong, mut busy) = (0, 0);
    for status in statuses {
        match status.expect("an answer") {
            401 => wrong += 1,
            429 => busy += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    let peak = peak_rss_kib(server.pid());
    println!("{ATTEMPTS} concurrent wrong logins: {wrong} checked (401), {busy} turned away (429), peak RSS {} MiB", peak / 1024);
    assert!(wrong >= 2, "some were checked");
    assert!(peak < LIMIT_KIB, "peak RSS {} MiB", peak / 1024);
    assert_eq!(
        attempt(ADMIN_PASSWORD).await.expect("an answer"),
        303,
        "the right password still logs in"
    );
}

/// The `Set-Cookie` lines of a login through `headers`, after its form.
async fn login_cookies(app: &TestApp, headers: &[(&str, &str)]) -> Vec<String> {
    let mut form = app
        .client
        .get("/admin/login")
        .header(Header::new("Host", "localhost:8000"));
    for (name, value) in headers {
        form.add_header(Header::new((*name).to_owned(), (*value).to_owned()));
    }
    let form = form.dispatch().await;
    let mut set: Vec<String> = form
        .headers()
        .get("Set-Cookie")
        .map(str::to_owned)
        .collect();
    let page = form.into_string().await.unwrap_or_default();
    let csrf = field_value(&page, "csrf").expect("the login form");
    let mut post = app
        .client
        .post("/admin/login")
        .header(ContentType::Form)
        .header(Header::new("Host", "localhost:8000"))
        .body(form_body(&[
            ("username", ADMIN_USER),
            ("password", ADMIN_PASSWORD),
            ("csrf", &csrf),
        ]));
    for (name, value) in headers {
        post.add_header(Header::new((*name).to_owned(), (*value).to_owned()));
    }
    let response = post.dispatch().await;
    assert_eq!(response.status().code, 303);
    set.extend(response.headers().get("Set-Cookie").map(str::to_owned));
    set
}

#[rocket::async_test]
async fn behind_tls_the_login_cookies_are_secure_and_over_plain_http_they_work() {
    let app = AppBuilder::new().with_admin().start().await;
    let over_tls = login_cookies(&app, &[("X-Forwarded-Proto", "https")]).await;
    for name in ["rc_login=", "rc_session=", "rc_device="] {
        let line = over_tls
            .iter()
            .find(|line| line.starts_with(name))
            .unwrap_or_else(|| panic!("{name} set: {over_tls:?}"));
        assert!(line.contains("; Secure"), "{line}");
        assert!(line.contains("HttpOnly"), "{line}");
    }
    // A second browser (this client now holds a session), over plain HTTP.
    let app = app.peer().with_admin().start().await;
    let plain = login_cookies(&app, &[]).await;
    let session = plain
        .iter()
        .find(|line| line.starts_with("rc_session="))
        .expect("a session");
    assert!(!session.contains("Secure"), "{session}");
}

#[rocket::async_test]
async fn an_admins_session_is_read_from_mysql_once_then_kept_by_the_cache() {
    let app = AppBuilder::new().with_admin().start().await;
    let peer = app.peer().with_admin().start().await;
    app.login().await;
    let cookie = session_cookie(&app);
    let statements = |app: &TestApp| app.statements_besides_pings();
    for instance in [&app, &peer] {
        instance
            .get_with("/users/new", &[("Cookie", &cookie)])
            .await;
        for _ in 0..3 {
            let before = statements(instance);
            let page = instance
                .get_with("/users/new", &[("Cookie", &cookie)])
                .await;
            assert_eq!(page.status().code, 200);
            assert_eq!(
                statements(instance),
                before,
                "the session comes from the cache, not MySQL"
            );
        }
    }
}

#[rocket::async_test]
async fn a_session_row_deleted_outside_the_app_is_refused_within_the_memo_ttl() {
    let app = AppBuilder::new().with_admin().start().await;
    app.login().await;
    assert_eq!(app.get("/users/new").await.status().code, 200);
    let deleted = std::time::Instant::now();
    app.db.execute("DELETE FROM `admin_session`");
    eventually(
        SESSION_MEMO_TTL + Duration::from_secs(5),
        "the deleted session refused",
        || async { (app.get("/users/new").await.status().code == 303).then_some(()) },
    )
    .await;
    assert!(
        deleted.elapsed() <= SESSION_MEMO_TTL + Duration::from_secs(1),
        "refused {:?} after the delete",
        deleted.elapsed()
    );
}
