//! What a browser and a probe are told: readiness without the driver's reason,
//! security headers on every answer (hits too), duplicate `Host` headers refused,
//! and API bodies that are not JSON, too large, or hold invisible characters.

use std::time::Duration;

use rocket::http::{ContentType, Header, Method};
use serde_json::{json, Value};
use test_support::{eventually, mysql_addr};

use crate::support::admin::API_TOKEN;
use crate::support::proxy::{FaultProxy, Mode};
use crate::support::{AppBuilder, Reply, TestApp};

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Asserts the headers every answer carries, and no `Server` banner.
fn assert_security_headers(what: &str, reply: &Reply) {
    assert_eq!(reply.header("content-security-policy"), Some(CSP), "{what}");
    assert_eq!(
        reply.header("referrer-policy"),
        Some("strict-origin-when-cross-origin"),
        "{what}"
    );
    assert_eq!(
        reply.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    // Rocket's default Shield headers, now written with ours.
    assert_eq!(
        reply.header("x-frame-options"),
        Some("SAMEORIGIN"),
        "{what}"
    );
    assert_eq!(
        reply.header("permissions-policy"),
        Some("interest-cohort=()"),
        "{what}"
    );
    assert_eq!(reply.header("server"), None, "{what}: {:?}", reply.headers);
    // Plain HTTP: HSTS would be ignored by browsers and is not sent.
    assert_eq!(reply.header("strict-transport-security"), None, "{what}");
}

/// Asserts a page the policy would not break: no inline script or style (a
/// `<script src=...>` from this site is allowed by `script-src 'self'`).
fn assert_no_inline_code(what: &str, body: &str) {
    for needle in ["<style", " style=", " onclick=", "javascript:"] {
        assert!(!body.contains(needle), "{what} holds {needle:?}");
    }
    for script in body.split("<script").skip(1) {
        let tag = script.split('>').next().unwrap_or_default();
        assert!(
            tag.contains("src=\"/static/"),
            "{what} holds an inline script: <script{tag}>"
        );
    }
}

#[rocket::async_test]
async fn a_miss_a_hit_an_error_page_and_a_404_all_carry_the_security_headers() {
    let app = TestApp::spawn().await;
    let cases = [
        ("/", "MISS", 200),
        ("/", "HIT", 200),
        ("/users/404", "MISS", 404),
        ("/users/404", "HIT", 404),
        ("/no/such/page", "", 404),
        ("/?page=zero", "", 400),
        ("/api/users", "MISS", 200),
        ("/health/ready", "", 200),
    ];
    for (uri, cache, status) in cases {
        let reply = app.fetch(uri).await;
        let what = format!("{uri} ({cache})");
        assert_eq!(reply.status, status, "{what}: {}", reply.body);
        if !cache.is_empty() {
            assert_eq!(reply.header("x-cache"), Some(cache), "{what}");
        }
        assert_security_headers(&what, &reply);
        if reply.is_html() {
            assert_no_inline_code(&what, &reply.body);
        }
    }
}

#[rocket::async_test]
async fn hsts_is_sent_only_when_the_request_came_over_tls() {
    let app = TestApp::spawn().await;
    let plain = app.fetch("/").await;
    assert_eq!(plain.header("strict-transport-security"), None);
    // Behind a proxy that ended TLS; a hit, so the cache wrote the answer first.
    let response = app.get_with("/", &[("X-Forwarded-Proto", "https")]).await;
    assert_eq!(response.headers().get_one("X-Cache"), Some("HIT"));
    assert_eq!(
        response.headers().get_one("Strict-Transport-Security"),
        Some("max-age=31536000; includeSubDomains")
    );
}

/// Sends `method uri` with two `Host` headers (the local client keeps both).
async fn with_two_hosts(app: &TestApp, method: Method, uri: &str, body: Option<&str>) -> Reply {
    let mut request = app
        .client
        .req(method, uri.to_owned())
        .header(Header::new("Host", "localhost:8000"))
        .header(Header::new("Host", "evil.example"))
        .header(Header::new("Authorization", format!("Bearer {API_TOKEN}")));
    if let Some(body) = body {
        request = request.header(ContentType::JSON).body(body);
    }
    let response = request.dispatch().await;
    Reply {
        status: response.status().code,
        headers: response
            .headers()
            .iter()
            .map(|h| (h.name().as_str().to_ascii_lowercase(), h.value().to_owned()))
            .collect(),
        body: response.into_string().await.unwrap_or_default(),
    }
}

#[rocket::async_test]
async fn two_host_headers_get_a_400_page_and_reach_neither_the_cache_nor_a_route() {
    let app = AppBuilder::new().with_admin().start().await;
    let keys_before = app.namespace.keys().len();
    let queries_before = app.queries();
    let users_before = app.user_count();

    for method in [Method::Get, Method::Head] {
        let reply = with_two_hosts(&app, method, "/", None).await;
        assert_eq!(reply.status, 400, "{method}: {}", reply.body);
        assert_eq!(reply.header("x-cache"), None, "{method}: the cache saw it");
        assert_security_headers("two hosts", &reply);
        if method == Method::Get {
            assert!(reply.is_html(), "{:?}", reply.headers);
            assert!(
                reply.body.contains("more than one Host header"),
                "{}",
                reply.body
            );
        }
    }
    let body = json!({ "name": "Eve", "email": "eve@example.com", "address": "x" }).to_string();
    let reply = with_two_hosts(&app, Method::Post, "/api/users", Some(&body)).await;
    assert_eq!(reply.status, 400, "{}", reply.body);

    assert_eq!(app.queries(), queries_before, "a route reached MySQL");
    assert_eq!(
        app.namespace.keys().len(),
        keys_before,
        "the cache stored something"
    );
    assert_eq!(app.user_count(), users_before, "a user was written");
    // One Host is fine, and the refusal route is not reachable on its own.
    assert_eq!(app.get_text("/").await.0, 200);
    assert_eq!(app.get_text("/__rocket-cache/bad-host").await.0, 404);
}

/// An app whose `MySQL` goes through a fault proxy, with the admin API on.
async fn app_behind_proxy() -> (TestApp, FaultProxy) {
    let proxy = FaultProxy::start(mysql_addr()).await;
    let builder = AppBuilder::new().with_admin();
    let url = format!(
        "mysql://root@127.0.0.1:{}/{}?prefer_socket=false",
        proxy.port(),
        builder.db().name
    );
    let app = builder
        .with("databases.main.url", url)
        .with("databases.main.pool_size", 2)
        .with("databases.main.acquire_timeout_ms", 500)
        .with("cache.backend", "none")
        .start()
        .await;
    (app, proxy)
}

#[rocket::async_test]
async fn readiness_says_only_down_when_mysql_is_gone_and_the_admin_sees_why() {
    let (app, proxy) = app_behind_proxy().await;
    proxy.switch(Mode::Cut).await;
    let reply = eventually(Duration::from_secs(10), "readiness says 503", || async {
        let reply = app.fetch("/health/ready").await;
        (reply.status == 503).then_some(reply)
    })
    .await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(
        reply.json(),
        json!({
            "status": "unavailable",
            "database": { "status": "down" },
            "cache": { "status": "disabled" },
        })
    );
    let port = proxy.port().to_string();
    for secret in [
        "error",
        "os error",
        "Connection",
        &port,
        "127.0.0.1",
        "root",
    ] {
        assert!(!reply.body.contains(secret), "{secret:?} in {}", reply.body);
    }

    let (status, admin) = app.api_json(Method::Get, "/api/admin/cache", None).await;
    assert_eq!(status, 200, "{admin}");
    assert_eq!(admin["database"]["status"], "down", "{admin}");
    let reason = admin["database"]["error"].as_str().unwrap_or_default();
    assert!(!reason.is_empty(), "the admin sees the reason: {admin}");

    proxy.switch(Mode::Pass).await;
}

/// POSTs `body` to the users API with the token and `content_type`.
async fn post_users(app: &TestApp, content_type: Option<ContentType>, body: String) -> Reply {
    let mut request = app
        .client
        .post("/api/users")
        .header(Header::new("Authorization", format!("Bearer {API_TOKEN}")))
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header(content_type);
    }
    let response = request.dispatch().await;
    Reply {
        status: response.status().code,
        headers: response
            .headers()
            .iter()
            .map(|h| (h.name().as_str().to_ascii_lowercase(), h.value().to_owned()))
            .collect(),
        body: response.into_string().await.unwrap_or_default(),
    }
}

fn ada() -> Value {
    json!({ "name": "Ada Lovelace", "email": "ada@example.com", "phone": "", "address": "12 Analytical Row" })
}

/// Asserts a JSON error with `status` whose message holds `says`.
fn assert_json_error(reply: &Reply, status: u16, says: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert!(reply.is_json(), "{:?}", reply.headers);
    let body = reply.json();
    assert_eq!(body["error"]["status"], status, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "{body}");
}

#[rocket::async_test]
async fn json_sent_as_text_plain_or_without_a_type_is_a_415_and_nothing_is_written() {
    let app = AppBuilder::new().with_admin().start().await;
    let before = app.table_snapshot();
    let reply = post_users(&app, Some(ContentType::Plain), ada().to_string()).await;
    assert_json_error(&reply, 415, "application/json");
    assert!(reply.body.contains("text/plain"), "{}", reply.body);
    let reply = post_users(&app, None, ada().to_string()).await;
    assert_json_error(&reply, 415, "no Content-Type");
    assert_eq!(app.table_snapshot(), before);
    // `+json` types are JSON.
    let vendor = ContentType::new("application", "vnd.api+json");
    assert_eq!(
        post_users(&app, Some(vendor), ada().to_string())
            .await
            .status,
        201
    );
}

#[rocket::async_test]
async fn a_body_over_limits_json_is_a_413_and_nothing_is_written() {
    let app = AppBuilder::new().with_admin().start().await;
    let before = app.table_snapshot();
    let mut huge = ada();
    huge["name"] = json!("a".repeat(10 * 1024 * 1024));
    let reply = post_users(&app, Some(ContentType::JSON), huge.to_string()).await;
    assert_json_error(&reply, 413, "16KiB");
    assert_eq!(app.table_snapshot(), before);

    // The limit is Rocket's `limits.json`.
    let app = AppBuilder::new()
        .with_admin()
        .with("limits.json", "200 B")
        .start()
        .await;
    let mut padded = ada();
    padded["address"] = json!("x".repeat(200));
    let reply = post_users(&app, Some(ContentType::JSON), padded.to_string()).await;
    assert_json_error(&reply, 413, "200B");
    assert_eq!(
        post_users(&app, Some(ContentType::JSON), ada().to_string())
            .await
            .status,
        201
    );
}

/// Names a reader could not tell apart from another (or from nothing).
fn invisible_names() -> Vec<String> {
    vec![
        "\u{200B}\u{200B}\u{200B}".to_owned(),
        "\u{2060}\u{FEFF}".to_owned(),
        "Ada\u{202E}ecalevoL".to_owned(),
        "\u{2067}Ada\u{2069}".to_owned(),
        "\u{3164}".to_owned(),
    ]
}

#[rocket::async_test]
async fn invisible_or_direction_changing_names_are_a_422_naming_the_field_in_the_api() {
    let app = AppBuilder::new().with_admin().start().await;
    let before = app.table_snapshot();
    for name in invisible_names() {
        let mut body = ada();
        body["name"] = json!(name);
        for (method, uri) in [(Method::Post, "/api/users"), (Method::Put, "/api/users/1")] {
            let (status, answer) = app.api_json(method, uri, Some(&body)).await;
            assert_eq!(status, 422, "{method} {name:?}: {answer}");
            let fields = answer["error"]["fields"].as_object().expect("fields");
            assert_eq!(fields.keys().collect::<Vec<_>>(), ["name"], "{answer}");
            assert!(fields["name"].as_str().unwrap().contains("invisible"));
        }
    }
    assert_eq!(app.table_snapshot(), before, "nothing written");
    let mut body = ada();
    body["name"] = json!("José O'Brien-Núñez 山田");
    let (status, answer) = app.api_json(Method::Post, "/api/users", Some(&body)).await;
    assert_eq!(status, 201, "{answer}");
}

#[rocket::async_test]
async fn invisible_or_direction_changing_names_are_a_422_form_in_the_html_pages() {
    let app = AppBuilder::new().with_admin().start().await;
    app.login().await;
    let csrf = app.csrf().await;
    let before = app.table_snapshot();
    for name in invisible_names() {
        let response = app
            .post_form(
                "/users/new",
                &[
                    ("csrf", &csrf),
                    ("name", &name),
                    ("email", "ada@example.com"),
                    ("phone", ""),
                    ("address", "12 Analytical Row"),
                ],
            )
            .await;
        assert_eq!(response.status().code, 422, "{name:?}");
        let page = response.into_string().await.unwrap_or_default();
        assert!(
            page.contains("invisible or formatting characters"),
            "{page}"
        );
    }
    assert_eq!(app.table_snapshot(), before, "nothing written");
}
