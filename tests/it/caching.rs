//! The shared page cache: hits that never reach `MySQL`, what is and is not stored,
//! HTTP validators, and failing open when Redis misbehaves.

use std::io::Read;
use std::time::{Duration, Instant};

use rocket::http::Method;
use serde_json::json;
use test_support::{eventually, free_port, redis_addr};

use crate::support::admin::API_TOKEN;
use crate::support::proxy::{garbage_listener, silent_listener, FaultProxy, Mode};
use crate::support::{header, redis_conn, AppBuilder, Reply, TestApp};

async fn test_app() -> TestApp {
    AppBuilder::new().with_test_routes().start().await
}

/// The first answer of `uri` whose `X-Cache` is not `label`, within `limit`.
async fn until_not(app: &TestApp, uri: &str, label: &str, limit: Duration) -> Reply {
    let what = format!("{uri} stops answering {label}");
    eventually(limit, &what, || async {
        let reply = app.fetch(uri).await;
        (reply.x_cache() != label).then_some(reply)
    })
    .await
}

#[rocket::async_test]
async fn a_cached_page_is_served_fifty_times_without_touching_mysql() {
    let app = AppBuilder::new()
        .with_rule(json!({ "path": "/", "ttl": 1 }))
        .start()
        .await;
    let reply = app.fetch("/").await;
    let (status, x_cache, first) = (reply.status, reply.x_cache(), reply.body.as_str());
    assert_eq!((status, x_cache), (200, "MISS"));
    let queries = app.queries();
    for _ in 0..50 {
        let reply = app.fetch("/").await;
        let (status, x_cache, body) = (reply.status, reply.x_cache(), reply.body.as_str());
        assert_eq!((status, x_cache), (200, "HIT"));
        assert_eq!(body, first, "byte-identical body");
    }
    assert_eq!(
        app.queries(),
        queries,
        "no statement reached MySQL on a hit"
    );

    let reply = until_not(&app, "/", "HIT", Duration::from_secs(5)).await;
    let (x_cache, body) = (reply.x_cache(), reply.body.as_str());
    assert_eq!(x_cache, "MISS", "rendered again after the 1 s lifetime");
    assert_eq!(body, first);
    assert!(app.queries() > queries);
}

#[rocket::async_test]
async fn a_page_rendered_by_one_instance_is_a_hit_on_another() {
    let a = TestApp::spawn().await;
    let b = a.peer().start().await;
    assert_eq!(a.fetch("/users/1").await.x_cache(), "MISS");
    let before = b.queries();
    let reply = b.fetch("/users/1").await;
    let (status, x_cache, body) = (reply.status, reply.x_cache(), reply.body.as_str());
    assert_eq!((status, x_cache), (200, "HIT"));
    assert!(body.contains("Soumitra"));
    assert_eq!(b.queries(), before);
    let reply = b.fetch("/api/users/1").await;
    let (_, x_cache, _) = (reply.status, reply.x_cache(), reply.body.as_str());
    assert_eq!(x_cache, "MISS", "the JSON item has its own entry");
    assert_eq!(a.fetch("/api/users/1").await.x_cache(), "HIT");
}

#[rocket::async_test]
async fn hit_headers_say_what_happened() {
    let app = TestApp::spawn().await;
    let stored = Instant::now();
    let miss = app.get("/").await;
    assert_eq!(
        header(&miss, "Cache-Status"),
        "rocket-cache; fwd=uri-miss; stored"
    );
    assert_eq!(header(&miss, "Cache-Control"), "no-cache");
    let etag = header(&miss, "ETag");
    assert!(
        etag.starts_with('"') && etag.len() > 10,
        "strong ETag: {etag}"
    );
    let hit = app.get("/").await;
    assert_eq!(header(&hit, "X-Cache"), "HIT");
    assert!(header(&hit, "Cache-Status").starts_with("rocket-cache; hit; ttl="));
    // Whole seconds since it was stored: no more than have passed since the miss
    // began, however slow the machine.
    let age: u64 = header(&hit, "Age").parse().expect("Age in whole seconds");
    assert!(age <= stored.elapsed().as_secs(), "Age {age}");
    assert_eq!(header(&hit, "ETag"), etag);
    assert_eq!(header(&hit, "Content-Type"), "text/html; charset=utf-8");
}

#[rocket::async_test]
async fn a_matching_if_none_match_gives_304_on_hits_and_misses() {
    let app = TestApp::spawn().await;
    let etag = header(&app.get("/").await, "ETag");
    let hit = app.get_with("/", &[("If-None-Match", &etag)]).await;
    assert_eq!(hit.status().code, 304);
    assert_eq!(header(&hit, "X-Cache"), "HIT");
    assert!(hit.into_string().await.unwrap_or_default().is_empty());

    app.cache().purge_path("/", false).await.unwrap();
    let miss = app
        .get_with("/", &[("If-None-Match", &format!("\"other\", {etag}"))])
        .await;
    assert_eq!(header(&miss, "X-Cache"), "MISS");
    assert_eq!(miss.status().code, 304);

    let other = app.get_with("/", &[("If-None-Match", "\"nope\"")]).await;
    assert_eq!(other.status().code, 200);
}

#[rocket::async_test]
async fn a_users_page_hit_served_as_br_decodes_to_the_html_identity_clients_get() {
    let app = TestApp::spawn().await;
    app.insert_users(99);
    let page = "/?per_page=100";
    let miss = app.fetch(page).await;
    assert_eq!((miss.status, miss.x_cache()), (200, "MISS"));
    let queries = app.queries();

    // The miss stored identity only (no coding asked): the first hit that
    // asks for br adds it, and the hits after it are served in it.
    let browser = [("Accept-Encoding", "gzip, deflate, br, zstd")];
    let compressed = eventually(Duration::from_secs(5), "br added", || async {
        let br = app.get_with(page, &browser).await;
        assert_eq!(header(&br, "X-Cache"), "HIT");
        let vary = header(&br, "Vary").to_ascii_lowercase();
        assert!(vary.contains("accept-encoding"), "Vary: {vary}");
        if br.headers().get_one("Content-Encoding") != Some("br") {
            return None;
        }
        br.into_bytes().await
    })
    .await;
    let identity = app.fetch(page).await;
    assert_eq!(identity.x_cache(), "HIT");
    assert_eq!(identity.header("content-encoding"), None);

    let mut html = String::new();
    brotli::Decompressor::new(&compressed[..], 4096)
        .read_to_string(&mut html)
        .expect("valid br");
    assert_eq!(html, identity.body, "br decodes to the identity page");
    assert_eq!(html, miss.body);
    assert!(html.contains("User 98"), "all 100 users");
    assert!(
        compressed.len() * 4 < html.len(),
        "{} bytes of br for {} of HTML",
        compressed.len(),
        html.len()
    );
    assert_eq!(app.queries(), queries, "neither hit reached MySQL");
}

#[rocket::async_test]
async fn head_is_answered_from_the_get_entry_without_a_body() {
    let app = TestApp::spawn().await;
    let get = app.get("/users/1").await;
    let length = header(&get, "Content-Length");
    drop(get);
    let queries = app.queries();
    let head = app.request(Method::Head, "/users/1", &[]).await;
    assert_eq!(head.status().code, 200);
    assert_eq!(header(&head, "X-Cache"), "HIT");
    assert_eq!(header(&head, "Content-Length"), length);
    assert!(head.into_bytes().await.unwrap_or_default().is_empty());
    assert_eq!(app.queries(), queries);
}

#[rocket::async_test]
async fn a_head_miss_stores_the_page_for_later_gets() {
    let app = TestApp::spawn().await;
    let head = app.request(Method::Head, "/", &[]).await;
    assert_eq!(header(&head, "X-Cache"), "MISS");
    drop(head);
    let reply = app.fetch("/").await;
    let (_, x_cache, body) = (reply.status, reply.x_cache(), reply.body.as_str());
    assert_eq!(x_cache, "HIT");
    assert!(body.contains("Soumitra"));
}

#[rocket::async_test]
async fn unknown_query_parameters_share_the_entry() {
    let app = TestApp::spawn().await;
    assert_eq!(app.fetch("/?per_page=10").await.x_cache(), "MISS");
    assert_eq!(
        app.fetch("/?utm_source=x&per_page=10").await.x_cache(),
        "HIT"
    );
    assert_eq!(app.fetch("/?per_page=10&random=9").await.x_cache(), "HIT");
    assert_eq!(
        app.fetch("/?per_page=5").await.x_cache(),
        "MISS",
        "declared parameters count"
    );
}

#[rocket::async_test]
async fn requests_with_authorization_read_public_pages_but_never_fill_the_cache() {
    let app = TestApp::spawn().await;
    // On a cold page: the answer comes from MySQL and is never stored.
    let before = app.queries();
    let response = app.get_with("/", &[("Authorization", "Bearer x")]).await;
    assert_eq!(header(&response, "X-Cache"), "BYPASS");
    assert_eq!(
        header(&response, "Cache-Status"),
        "rocket-cache; fwd=bypass; detail=authorization"
    );
    assert_eq!(header(&response, "Cache-Control"), "private");
    drop(response);
    assert!(app.queries() > before, "the answer reached MySQL");
    // The user count behind the page is memoised on its own; no page is stored.
    let keys = app.namespace.keys();
    assert!(
        keys.iter()
            .all(|k| k.contains(":memo:") || k.contains(":tag:")),
        "nothing stored: {keys:?}"
    );
    // On a stored page (the pages are public, RFC 9111 section 3.5): served from
    // the cache, as to anyone.
    assert_eq!(app.fetch("/").await.x_cache(), "MISS");
    let before = app.queries();
    let reply = Reply::read(app.get_with("/", &[("Authorization", "Bearer x")]).await).await;
    assert_eq!(reply.x_cache(), "HIT");
    assert_eq!(app.queries(), before, "MySQL saw nothing");
}

#[rocket::async_test]
async fn a_redis_that_hangs_mid_connection_costs_a_hit_a_lease_a_write_and_a_purge_the_50_ms_budget(
) {
    let proxy = FaultProxy::start(redis_addr()).await;
    let app = AppBuilder::new()
        .with_admin()
        .with("cache.url", format!("redis://127.0.0.1:{}/", proxy.port()))
        .with("cache.op_timeout_ms", 50)
        .start()
        .await;
    // The production default, which the test harness otherwise loosens.
    assert_eq!(
        app.cache().config().op_timeout,
        std::time::Duration::from_millis(50)
    );
    assert_eq!(app.fetch("/users/1").await.x_cache(), "MISS");
    assert_eq!(app.fetch("/users/1").await.x_cache(), "HIT");
    // Redis answered until now; from here its open connections hang, and so do new ones.
    proxy.switch(Mode::Freeze).await;
    // A few budgets plus a render, and far under the 2 s lock timeout a request
    // waiting on Redis would fall back to.
    let bound = Duration::from_millis(50 + 500);
    let timed = |started: Instant, what: &str| {
        let took = started.elapsed();
        assert!(took < bound, "{what} took {took:?}");
    };

    let started = Instant::now();
    let hit = app.fetch("/users/1").await;
    timed(started, "a hit");
    assert_eq!(hit.status, 200);
    assert!(hit.body.contains("Soumitra"), "{}", hit.body);

    let started = Instant::now();
    let cold = app.fetch("/users/2").await;
    timed(started, "a lease for a cold key");
    assert_eq!(cold.status, 404);

    let started = Instant::now();
    let write = Reply::read(
        app.api(
            Method::Put,
            "/api/users/1",
            Some(API_TOKEN),
            Some(&json!({ "name": "Frozen", "email": "soumitra@roytuts.com", "phone": "555 0001", "address": "1 Test Street" })),
        )
        .await,
    )
    .await;
    timed(started, "a write and its purge");
    assert_eq!(write.status, 200, "{}", write.body);
    assert_eq!(write.header("x-cache-purge"), Some("pending"));

    let started = Instant::now();
    let purge = app.cache().purge_path("/users/1", false).await;
    timed(started, "a purge");
    assert!(purge.is_err(), "a hung store cannot have purged: {purge:?}");
    proxy.switch(Mode::Pass).await;
}

#[rocket::async_test]
async fn junk_session_cookies_and_other_cookies_do_not_bypass_the_cache() {
    let app = TestApp::spawn().await;
    app.fetch("/").await;
    let response = app.get_with("/", &[("Cookie", "rc_session=abc")]).await;
    assert_eq!(
        header(&response, "X-Cache"),
        "HIT",
        "a session cookie that does not decrypt is no session"
    );
    let other_cookie = app.get_with("/", &[("Cookie", "theme=dark")]).await;
    assert_eq!(
        header(&other_cookie, "X-Cache"),
        "HIT",
        "only session cookies make a request private"
    );
}

#[rocket::async_test]
async fn other_hosts_are_not_cached() {
    let app = TestApp::spawn().await;
    for _ in 0..2 {
        let response = app.get_with("/", &[("Host", "evil.example")]).await;
        assert_eq!(header(&response, "X-Cache"), "BYPASS");
        assert_eq!(
            header(&response, "Cache-Status"),
            "rocket-cache; fwd=bypass; detail=host"
        );
    }
    let allowed = app.get_with("/", &[("Host", "127.0.0.1:9999")]).await;
    assert_eq!(
        header(&allowed, "X-Cache"),
        "MISS",
        "allowed host, any port"
    );
}

#[rocket::async_test]
async fn post_is_never_cached() {
    let app = test_app().await;
    for _ in 0..2 {
        let response = app.request(Method::Post, "/test/plain", &[]).await;
        assert!(response.headers().get_one("X-Cache").is_none());
    }
    assert_eq!(app.test_renders(), 2);
    assert_eq!(app.fetch("/test/plain").await.x_cache(), "MISS");
}

/// Two GETs of a test route: both render, the first says why it was not stored.
async fn assert_not_stored(uri: &str, detail: &str) {
    let app = test_app().await;
    let first = app.get(uri).await;
    assert_eq!(header(&first, "X-Cache"), "MISS", "{uri}");
    let status = header(&first, "Cache-Status");
    assert!(
        status.contains(&format!("detail={detail}")),
        "{uri}: {status}"
    );
    drop(first);
    let second = app.get(uri).await;
    assert_eq!(header(&second, "X-Cache"), "MISS", "{uri}");
    assert_eq!(app.test_renders(), 2, "{uri} rendered each time");
}

#[rocket::async_test]
async fn a_response_with_set_cookie_is_not_stored() {
    assert_not_stored("/test/cookie", "set-cookie").await;
}

#[rocket::async_test]
async fn a_private_response_is_not_stored() {
    assert_not_stored("/test/private", "private").await;
}

#[rocket::async_test]
async fn a_no_store_response_is_not_stored() {
    assert_not_stored("/test/no-store", "no-store").await;
}

#[rocket::async_test]
async fn a_response_varying_on_everything_is_not_stored() {
    assert_not_stored("/test/vary-star", "vary").await;
}

#[rocket::async_test]
async fn a_body_over_the_size_limit_is_not_stored() {
    assert_not_stored("/test/big", "too-large").await;
}

#[rocket::async_test]
async fn a_server_error_is_not_stored() {
    let app = test_app().await;
    for _ in 0..2 {
        let response = app.get("/test/fail").await;
        assert_eq!(response.status().code, 500);
        assert_eq!(header(&response, "X-Cache"), "MISS");
        assert!(response.headers().get_one("Retry-After").is_some());
    }
    assert_eq!(app.test_renders(), 2);
}

#[rocket::async_test]
async fn a_handler_can_set_its_own_shared_lifetime() {
    let app = test_app().await;
    assert_eq!(app.fetch("/test/short").await.x_cache(), "MISS");
    assert_eq!(app.fetch("/test/short").await.x_cache(), "HIT");
    let reply = until_not(&app, "/test/short", "HIT", Duration::from_secs(5)).await;
    let (x_cache, _) = (reply.x_cache(), reply.body.as_str());
    assert_ne!(x_cache, "HIT", "s-maxage=1 expired");
}

#[rocket::async_test]
async fn binary_bodies_come_back_byte_for_byte() {
    let app = test_app().await;
    let first = app.get("/test/binary").await.into_bytes().await.unwrap();
    let hit = app.get("/test/binary").await;
    assert_eq!(header(&hit, "X-Cache"), "HIT");
    assert_eq!(hit.into_bytes().await.unwrap(), first);
    assert_eq!(app.test_renders(), 1);
}

#[rocket::async_test]
async fn a_missing_user_is_cached_as_a_404_for_a_short_time() {
    let app = TestApp::spawn().await;
    let reply = app.fetch("/users/999").await;
    let (status, x_cache, _) = (reply.status, reply.x_cache(), reply.body.as_str());
    assert_eq!((status, x_cache), (404, "MISS"));
    let queries = app.queries();
    let reply = app.fetch("/users/999").await;
    let (status, x_cache, body) = (reply.status, reply.x_cache(), reply.body.as_str());
    assert_eq!((status, x_cache), (404, "HIT"));
    assert!(body.contains("There is no user 999"));
    assert_eq!(app.queries(), queries);
    let response = app.get("/users/999").await;
    let status = header(&response, "Cache-Status");
    let ttl: i64 = status
        .split("; ")
        .find_map(|field| field.strip_prefix("ttl="))
        .unwrap_or_else(|| panic!("no ttl in {status}"))
        .parse()
        .unwrap();
    assert!(
        ttl <= 30,
        "404s live cache.not_found_ttl (30 s), not 300: {ttl}"
    );
}

#[rocket::async_test]
async fn bad_requests_are_not_stored() {
    let app = TestApp::spawn().await;
    let start = app.queries();
    let mut queries = Vec::new();
    for _ in 0..3 {
        let reply = app.fetch("/?after=abc").await;
        let (status, x_cache, _) = (reply.status, reply.x_cache(), reply.body.as_str());
        assert_eq!((status, x_cache), (400, "BYPASS"));
        queries.push(app.queries());
    }
    // The message needs no count of the users: nothing is read, even the first time.
    assert_eq!(queries[0], start, "refused without a query");
    assert_eq!(queries[2], start, "refused without a query");
}

#[rocket::async_test]
async fn a_corrupt_entry_is_a_miss_and_is_overwritten() {
    let app = TestApp::spawn().await;
    app.fetch("/").await;
    let key = format!("{}localhost:/", app.cache().key_base());
    let mut conn = redis_conn().unwrap();
    for garbage in [
        &b"garbage"[..],
        b"RCE\x09 future format",
        b"RCE\x01\x00\x00",
    ] {
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg(garbage)
            .query(&mut conn)
            .unwrap();
        // The near cache may still hold the good page until Redis's
        // invalidation arrives, within its bound of 50 ms.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let reply = app.fetch("/").await;
        let (status, x_cache, body) = (reply.status, reply.x_cache(), reply.body.as_str());
        assert_eq!((status, x_cache), (200, "MISS"));
        assert!(body.contains("Soumitra"));
        assert_eq!(
            app.fetch("/").await.x_cache(),
            "HIT",
            "overwritten by a good entry"
        );
    }
}

#[rocket::async_test]
async fn a_rule_with_ttl_zero_turns_caching_off_for_a_path() {
    let app = AppBuilder::new()
        .with_rule(json!({ "path": "/users/<id>", "ttl": 0 }))
        .start()
        .await;
    for _ in 0..2 {
        let response = app.get("/users/1").await;
        assert_eq!(header(&response, "X-Cache"), "BYPASS");
        assert_eq!(
            header(&response, "Cache-Status"),
            "rocket-cache; fwd=bypass; detail=off"
        );
    }
    assert_eq!(
        app.fetch("/").await.x_cache(),
        "MISS",
        "other paths still cached"
    );
}

#[rocket::async_test]
async fn health_is_never_cached() {
    let app = TestApp::spawn().await;
    for _ in 0..2 {
        let response = app.get("/health/ready").await;
        assert!(response.headers().get_one("X-Cache").is_none());
        assert_eq!(header(&response, "Cache-Control"), "no-store");
    }
}

#[rocket::async_test]
async fn the_internal_hit_route_is_not_reachable_directly() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/__rocket-cache/hit").await.status().code, 404);
}

/// With the cache at `redis_url` (50 ms budget), five GETs of `uri` are served from
/// MySQL, marked BYPASS, each within one budget plus the render and a generous
/// margin for a busy CI machine.
async fn assert_served_around_a_broken_redis(redis_url: String, uri: &str) {
    let app = AppBuilder::new()
        .with("cache.url", redis_url)
        .with("cache.op_timeout_ms", 50)
        .start()
        .await;
    for _ in 0..5 {
        let started = Instant::now();
        let reply = app.fetch(uri).await;
        let (status, x_cache, body) = (reply.status, reply.x_cache(), reply.body.as_str());
        assert_eq!((status, x_cache), (200, "BYPASS"));
        assert!(body.contains("Soumitra"));
        let took = started.elapsed();
        assert!(took < Duration::from_millis(750), "{took:?}");
    }
}

#[rocket::async_test]
async fn redis_at_a_closed_port_means_bypass_from_mysql_within_budget() {
    assert_served_around_a_broken_redis(format!("redis://127.0.0.1:{}/", free_port()), "/").await;
}

#[rocket::async_test]
async fn redis_that_never_answers_costs_at_most_the_budget() {
    let (addr, _listener) = silent_listener().await;
    assert_served_around_a_broken_redis(format!("redis://{addr}/"), "/users/1").await;
}

#[rocket::async_test]
async fn redis_answering_garbage_means_bypass_from_mysql() {
    let (addr, _listener) = garbage_listener().await;
    assert_served_around_a_broken_redis(format!("redis://{addr}/"), "/").await;
}

#[rocket::async_test]
async fn caching_resumes_by_itself_when_redis_comes_back() {
    let proxy = FaultProxy::start(redis_addr()).await;
    let app = AppBuilder::new()
        .with("cache.url", format!("redis://127.0.0.1:{}/", proxy.port()))
        .start()
        .await;
    assert_eq!(app.fetch("/").await.x_cache(), "MISS");
    assert_eq!(app.fetch("/").await.x_cache(), "HIT");
    proxy.switch(Mode::Cut).await;
    let reply = app.fetch("/").await;
    let (status, x_cache, _) = (reply.status, reply.x_cache(), reply.body.as_str());
    assert_eq!((status, x_cache), (200, "BYPASS"));
    proxy.set(Mode::Pass);
    let reply = until_not(&app, "/", "BYPASS", Duration::from_secs(10)).await;
    let (x_cache, _) = (reply.x_cache(), reply.body.as_str());
    assert_eq!(
        x_cache, "HIT",
        "the entry stored before the cut is served again"
    );
}

#[rocket::async_test]
async fn the_memory_backend_caches_in_process() {
    let app = AppBuilder::new()
        .with("cache.backend", "memory")
        .start()
        .await;
    assert_eq!(app.fetch("/").await.x_cache(), "MISS");
    let queries = app.queries();
    assert_eq!(app.fetch("/").await.x_cache(), "HIT");
    assert_eq!(app.queries(), queries);
    assert!(app.namespace.keys().is_empty(), "nothing written to Redis");
}

#[rocket::async_test]
async fn the_none_backend_renders_every_time() {
    let app = AppBuilder::new()
        .with("cache.backend", "none")
        .start()
        .await;
    for _ in 0..2 {
        let response = app.get("/").await;
        assert_eq!(header(&response, "X-Cache"), "BYPASS");
        assert_eq!(
            header(&response, "Cache-Status"),
            "rocket-cache; fwd=bypass; detail=disabled"
        );
    }
}

#[rocket::async_test]
async fn the_memo_computes_once_and_recomputes_after_a_tag_purge() {
    let app = TestApp::spawn().await;
    let cache = app.cache();
    let calls = std::sync::atomic::AtomicU32::new(0);
    let compute = || async {
        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok::<_, std::convert::Infallible>(vec![1_u32, 2, 3])
    };
    let ttl = Duration::from_mins(1);
    assert_eq!(
        cache
            .get_or_compute("numbers", ttl, &["numbers"], compute())
            .await
            .unwrap(),
        vec![1, 2, 3]
    );
    assert_eq!(
        cache
            .get_or_compute("numbers", ttl, &["numbers"], compute())
            .await
            .unwrap(),
        vec![1, 2, 3]
    );
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    cache
        .purge_tags(&["numbers".to_owned()], false)
        .await
        .unwrap();
    cache
        .get_or_compute("numbers", ttl, &["numbers"], compute())
        .await
        .unwrap();
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[rocket::async_test]
async fn the_users_count_is_memoised_across_pages() {
    let app = TestApp::spawn().await;
    app.insert_users(30);
    app.fetch("/").await;
    let before = app.statements_besides_pings();
    app.fetch("/?after=20").await;
    let second_page = app.statements_besides_pings() - before;
    app.fetch("/api/users?after=20").await;
    let api_page = app.statements_besides_pings() - before - second_page;
    // A render costs one statement (the page's rows and the ids around it):
    // the count comes from the memo.
    assert_eq!(second_page, 1, "the page with the ids around it");
    assert_eq!(api_page, 1);
}

#[rocket::async_test]
async fn clearing_by_path_and_namespace_leaves_other_namespaces_alone() {
    let app = TestApp::spawn().await;
    let other = TestApp::spawn().await;
    app.fetch("/").await;
    app.fetch("/?per_page=5").await;
    app.fetch("/users/1").await;
    other.fetch("/").await;
    let removed = app.cache().purge_path("/", false).await.unwrap();
    assert_eq!(removed, 2, "both variants of /");
    assert_eq!(app.fetch("/users/1").await.x_cache(), "HIT");
    assert!(app.cache().clear_all().await.unwrap() > 0);
    let left = app.namespace.keys();
    assert!(
        !left.is_empty()
            && left
                .iter()
                .all(|key| key.contains(":tgen:") || key.ends_with(":purge-seq")),
        "only purge marks and the purge sequence are kept (the purge above made them): {left:?}"
    );
    assert_eq!(
        other.fetch("/").await.x_cache(),
        "HIT",
        "another namespace untouched"
    );
}
