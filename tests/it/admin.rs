//! The admin: configuration and secret key at start, login and sessions, what an
//! admin sees (and that no visitor ever does), and the cache page.

use rocket::http::Method;
use serde_json::json;

use crate::support::admin::{hash_of, secret_key, ADMIN_PASSWORD, ADMIN_USER, API_TOKEN};
use crate::support::{header, invalidations_arrive, AppBuilder, TestApp};

async fn x_cache(app: &TestApp, uri: &str) -> String {
    header(&app.get(uri).await, "X-Cache")
}

/// Whether the app refuses to launch (its reason is logged, not returned).
async fn refused(builder: AppBuilder) -> bool {
    match builder.try_start().await {
        Ok(_) => false,
        Err(error) => {
            // Rocket insists that a launch error be looked at.
            let _ = error.kind();
            true
        }
    }
}

#[rocket::async_test]
async fn release_without_admin_credentials_starts_out_of_the_box() {
    let app = AppBuilder::new().with_profile("release").start().await;
    assert_eq!(app.get_text("/").await.0, 200);
}

#[rocket::async_test]
async fn release_with_a_login_but_no_secret_key_refuses_to_start() {
    let without_key = AppBuilder::new()
        .with_profile("release")
        .with("admin.username", ADMIN_USER)
        .with("admin.password_hash", hash_of(ADMIN_PASSWORD));
    assert!(refused(without_key).await);
    let with_key = AppBuilder::new().with_profile("release").with_admin();
    assert!(!refused(with_key).await, "with ROCKET_SECRET_KEY it starts");
    let token_only = AppBuilder::new()
        .with_profile("release")
        .with("admin.api_token", API_TOKEN);
    assert!(
        !refused(token_only).await,
        "the API token needs no secret key"
    );
}

#[rocket::async_test]
async fn a_secret_key_of_the_wrong_length_stops_the_launch_with_a_line_naming_it() {
    use crate::support::process::{server_command, Process};
    use crate::support::TestDb;
    // 48 random bytes in base64: 64 characters, which Rocket reads as neither.
    let key = "q3Zk1c9yJm0bX2v8R7tLwP4nE6sA5dGfH1jK0lZxC3vB9nM2qW8eR7tY6uI5oP4a";
    assert_eq!(key.len(), 64);
    let db = TestDb::new();
    let mut server = Process::spawn(server_command(&[
        ("ROCKET_PROFILE", "release".to_owned()),
        ("ROCKET_LOG_LEVEL", "critical".to_owned()),
        ("ROCKET_SECRET_KEY", key.to_owned()),
        (
            "ROCKET_DATABASES",
            format!("{{main={{url=\"{}\"}}}}", db.url()),
        ),
    ]));
    let status = server.wait_exit(std::time::Duration::from_mins(1)).await;
    let output = server.output();
    assert!(!status.success(), "{output}");
    assert!(
        output.contains("invalid `secret_key` (ROCKET_SECRET_KEY)")
            && output.contains("has 64 characters")
            && output.contains("44 or 88 base64 characters or 64 hex characters"),
        "{output}"
    );
    assert!(
        !output.contains(key),
        "the key itself is never logged: {output}"
    );
    assert!(!db.exists(), "refused before migrating: {output}");
}

#[rocket::async_test]
async fn a_wrong_admin_setting_stops_the_launch() {
    let settings = [
        ("admin.password_hash", json!("plain-text-password")),
        (
            "admin.password_hash",
            json!("$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA"),
        ),
        ("admin.api_token", json!("short")),
        // An empty username is unset, which leaves the hash alone.
        ("admin.username", json!("")),
        ("admin.session_ttl_secs", json!(0)),
        ("admin.unknown_key", json!(true)),
    ];
    for (key, value) in settings {
        let builder = AppBuilder::new().with_admin().with(key, &value);
        assert!(refused(builder).await, "{key} = {value}");
    }
}

#[rocket::async_test]
async fn a_wrong_password_is_401_and_no_session() {
    let app = AppBuilder::new().with_admin().start().await;
    for (username, password) in [(ADMIN_USER, "wrong"), ("root", ADMIN_PASSWORD), ("", "")] {
        let response = app.try_login(username, password).await;
        assert_eq!(response.status().code, 401, "{username}/{password}");
        assert_eq!(header(&response, "Cache-Control"), "private, no-store");
        let page = response.into_string().await.unwrap();
        assert!(page.contains("Wrong username or password."));
    }
    assert_eq!(app.get("/users/new").await.status().code, 303);
}

#[rocket::async_test]
async fn the_login_form_needs_its_own_csrf_token() {
    let app = AppBuilder::new().with_admin().start().await;
    app.get("/admin/login").await;
    for csrf in [None, Some("forged")] {
        let mut fields = vec![("username", ADMIN_USER), ("password", ADMIN_PASSWORD)];
        if let Some(csrf) = csrf {
            fields.push(("csrf", csrf));
        }
        let response = app.post_form("/admin/login", &fields).await;
        assert_eq!(response.status().code, 403, "{csrf:?}");
    }
    assert_eq!(
        app.get("/users/new").await.status().code,
        303,
        "not logged in"
    );
}

#[rocket::async_test]
async fn login_comes_back_to_the_page_asked_for_but_never_elsewhere() {
    let app = AppBuilder::new().with_admin().start().await;
    for (next, expected) in [
        ("/users/1/edit", "/users/1/edit"),
        ("https://evil.example/", "/"),
    ] {
        let uri = format!(
            "/admin/login?next={}",
            url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        );
        let (_, page) = app.get_text(&uri).await;
        let csrf = crate::support::admin::field_value(&page, "csrf").unwrap();
        let next_field = crate::support::admin::field_value(&page, "next").unwrap();
        let response = app
            .post_form(
                "/admin/login",
                &[
                    ("username", ADMIN_USER),
                    ("password", ADMIN_PASSWORD),
                    ("csrf", &csrf),
                    ("next", &next_field),
                ],
            )
            .await;
        assert_eq!(response.status().code, 303);
        assert_eq!(header(&response, "Location"), expected);
        drop(response);
        let csrf = app.csrf().await;
        app.post_form("/admin/logout", &[("csrf", &csrf)]).await;
    }
}

#[rocket::async_test]
async fn logout_needs_the_token_and_ends_the_session() {
    let app = AppBuilder::new().with_admin().start().await;
    app.login().await;
    assert_eq!(app.get("/users/new").await.status().code, 200);
    let forced = app.post_form("/admin/logout", &[]).await;
    assert_eq!(forced.status().code, 403, "no logout from another site");
    drop(forced);
    assert_eq!(app.get("/users/new").await.status().code, 200);
    let csrf = app.csrf().await;
    let response = app.post_form("/admin/logout", &[("csrf", &csrf)]).await;
    assert_eq!(response.status().code, 303);
    assert_eq!(header(&response, "Location"), "/admin/login");
    drop(response);
    assert_eq!(app.get("/users/new").await.status().code, 303);
}

/// The session cookie as the browser holds it.
fn session_cookie(app: &TestApp) -> String {
    let jar = app.client.cookies();
    let cookie = jar.get("rc_session").expect("logged in");
    format!("rc_session={}", cookie.value())
}

#[rocket::async_test]
async fn a_session_works_on_every_instance_with_the_key_and_ends_with_the_password() {
    let a = AppBuilder::new().with_admin().start().await;
    a.login().await;
    let cookie = session_cookie(&a);
    let b = a.peer().with_admin().start().await;
    let response = b.get_with("/users/new", &[("Cookie", &cookie)]).await;
    assert_eq!(response.status().code, 200, "another instance, same key");
    drop(response);

    let other_key = a
        .peer()
        .with_admin()
        .with("secret_key", "11".repeat(32))
        .start()
        .await;
    let response = other_key
        .get_with("/users/new", &[("Cookie", &cookie)])
        .await;
    assert_eq!(response.status().code, 303, "another key cannot read it");
    drop(response);

    let new_password = a
        .peer()
        .with_admin()
        .with("admin.password_hash", hash_of("a new password"))
        .start()
        .await;
    let response = new_password
        .get_with("/users/new", &[("Cookie", &cookie)])
        .await;
    assert_eq!(
        response.status().code,
        303,
        "a new password ends old sessions"
    );
    let _ = secret_key();
}

#[rocket::async_test]
async fn an_admin_sees_edit_buttons_and_visitors_never_do() {
    let a = AppBuilder::new().with_admin().start().await;
    let visitor = a.peer().with_admin().start().await;
    a.login().await;
    for uri in ["/", "/users/1"] {
        let response = a.get(uri).await;
        assert_eq!(header(&response, "X-Cache"), "BYPASS", "{uri}");
        assert_eq!(header(&response, "Cache-Control"), "private, no-store");
        let page = response.into_string().await.unwrap();
        assert!(page.contains("/users/1/edit"), "{uri}: {page}");
        assert!(page.contains("Log out"));

        let (status, page) = visitor.get_text(uri).await;
        assert_eq!(status, 200);
        assert!(!page.contains("/users/1/edit"), "{uri}: {page}");
        assert!(!page.contains("Log out"));
        assert!(!page.contains("csrf"));
    }
}

#[rocket::async_test]
async fn an_admins_get_is_never_stored_and_never_served_from_the_cache() {
    let a = AppBuilder::new().with_admin().start().await;
    let visitor = a.peer().with_admin().start().await;
    a.login().await;
    // Not stored: the admin renders first, the visitor still misses.
    assert_eq!(x_cache(&a, "/users/1").await, "BYPASS");
    assert_eq!(x_cache(&visitor, "/users/1").await, "MISS");
    assert_eq!(x_cache(&visitor, "/users/1").await, "HIT");
    // Not served: the page is cached, yet the admin's request renders (from
    // the shared fragment of the user's details, around the admin's own page).
    let response = a.get("/users/1").await;
    assert_eq!(header(&response, "X-Cache"), "BYPASS");
    assert!(response.into_string().await.unwrap().contains("Log out"));
    let keys = a.namespace.keys();
    assert_eq!(
        keys.iter()
            .filter(|k| k.ends_with(":localhost:/users/1"))
            .count(),
        1,
        "one entry, the visitor's: {keys:?}"
    );
}

#[rocket::async_test]
async fn the_cache_page_shows_what_is_stored_and_what_happened() {
    let app = AppBuilder::new().with_admin().start().await;
    let visitor = app.peer().with_admin().start().await;
    assert_eq!(
        app.get("/admin/cache").await.status().code,
        303,
        "login first"
    );
    visitor.get("/").await;
    visitor.get("/users/1").await;
    app.get("/").await;
    app.login().await;
    let response = app.get("/admin/cache").await;
    assert_eq!(response.status().code, 200);
    assert_eq!(header(&response, "Cache-Control"), "private, no-store");
    let page = response.into_string().await.unwrap();
    assert!(page.contains(&app.namespace.name), "{page}");
    assert!(page.contains("cache.generation"));
    assert!(
        page.contains("<tr><th scope=\"row\">Hits from Redis</th><td>1</td></tr>"),
        "{page}"
    );

    let (status, status_json) = app.api_json(Method::Get, "/api/admin/cache", None).await;
    assert_eq!(status, 200);
    assert_eq!(status_json["namespace"], app.namespace.name.as_str());
    assert!(status_json["usage"]["keys"].as_u64().unwrap() >= 2);
    assert!(status_json["usage"]["bytes"].as_u64().unwrap() > 0);
    assert_eq!(status_json["usage"]["complete"], true);
    assert!(status_json["stats"]["hits"].as_u64().unwrap() >= 1);
    assert_eq!(status_json["store"]["status"], "up");
    let (_, bounded) = app
        .api_json(Method::Get, "/api/admin/cache?limit=1", None)
        .await;
    assert_eq!(bounded["usage"]["limit"], 1);

    let refused = app.api(Method::Get, "/api/admin/cache", None, None).await;
    assert_eq!(refused.status().code, 401);
}

#[rocket::async_test]
async fn purge_by_tag_path_and_everything_leaves_other_namespaces_alone() {
    let app = AppBuilder::new().with_admin().start().await;
    let other = TestApp::spawn().await;
    app.insert_users(2);
    for uri in ["/", "/users/1", "/users/2", "/api/users/2"] {
        app.get(uri).await;
    }
    other.get("/").await;

    let (status, answer) = app
        .api_json(
            Method::Post,
            "/api/admin/cache",
            Some(&json!({ "tag": "db:user:row:2" })),
        )
        .await;
    assert_eq!(status, 200);
    // User 2's page, its API item and the list that shows it.
    assert_eq!(
        answer,
        json!({ "tag": "db:user:row:2", "soft": false, "purged": 3 })
    );
    assert_eq!(x_cache(&app, "/users/1").await, "HIT");
    assert_eq!(x_cache(&app, "/users/2").await, "MISS");
    assert_eq!(x_cache(&app, "/").await, "MISS", "the list shows user 2");

    let (_, answer) = app
        .api_json(
            Method::Post,
            "/api/admin/cache",
            Some(&json!({ "path": "/users/1?x=1" })),
        )
        .await;
    assert_eq!(
        answer,
        json!({ "path": "/users/1", "soft": false, "purged": 1 })
    );
    assert_eq!(x_cache(&app, "/users/1").await, "MISS");
    assert_eq!(x_cache(&app, "/").await, "HIT");

    let (status, answer) = app
        .api_json(
            Method::Post,
            "/api/admin/cache",
            Some(&json!({ "all": true, "soft": true })),
        )
        .await;
    assert_eq!(status, 422, "everything is never soft");
    assert!(answer["error"]["fields"]["soft"].is_string());
    let (status, _) = app
        .api_json(
            Method::Post,
            "/api/admin/cache",
            Some(&json!({ "tag": "db:user", "path": "/" })),
        )
        .await;
    assert_eq!(status, 422, "one target at a time");

    let (status, answer) = app
        .api_json(
            Method::Post,
            "/api/admin/cache",
            Some(&json!({ "all": true })),
        )
        .await;
    assert_eq!(status, 200);
    assert!(answer["purged"].as_u64().unwrap() > 0);
    assert_eq!(x_cache(&app, "/").await, "MISS");
    assert_eq!(
        x_cache(&other, "/").await,
        "HIT",
        "another namespace untouched"
    );
}

#[rocket::async_test]
async fn the_cache_page_purges_through_its_forms_with_the_csrf_token() {
    let app = AppBuilder::new().with_admin().start().await;
    let visitor = app.peer().with_admin().start().await;
    app.login().await;
    let csrf = app.csrf().await;
    visitor.get("/").await;
    visitor.get("/users/1").await;

    let refused = app.post_form("/admin/cache", &[("purge", "all")]).await;
    assert_eq!(refused.status().code, 403, "no token");
    drop(refused);
    assert_eq!(x_cache(&visitor, "/").await, "HIT");

    let response = app
        .post_form(
            "/admin/cache",
            &[("purge", "tag"), ("tag", "db:user:rows"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(response.status().code, 303);
    drop(response);
    let (_, page) = app.get_text("/admin/cache").await;
    // The visitor's list page, the memoised total, and the list fragment the
    // admin's own page was made of.
    assert!(
        page.contains("Purged tag db:user:rows: 3 key(s) removed."),
        "{page}"
    );
    // The visitor is another instance: its near cache drops what was purged
    // when the invalidation arrives.
    invalidations_arrive().await;
    assert_eq!(
        x_cache(&visitor, "/").await,
        "MISS",
        "list and count memo purged"
    );
    assert_eq!(x_cache(&visitor, "/users/1").await, "HIT");

    app.post_form(
        "/admin/cache",
        &[("purge", "path"), ("path", "/users/1"), ("csrf", &csrf)],
    )
    .await;
    invalidations_arrive().await;
    assert_eq!(x_cache(&visitor, "/users/1").await, "MISS");

    app.post_form("/admin/cache", &[("purge", "all"), ("csrf", &csrf)])
        .await;
    invalidations_arrive().await;
    assert_eq!(x_cache(&visitor, "/users/1").await, "MISS");
    assert_eq!(x_cache(&visitor, "/").await, "MISS");
}

#[rocket::async_test]
async fn a_soft_purge_serves_the_old_page_while_one_request_refreshes_it() {
    let app = AppBuilder::new()
        .with_admin()
        .with_test_routes()
        .start()
        .await;
    assert_eq!(x_cache(&app, "/test/user/1").await, "MISS");
    app.db
        .execute("UPDATE `user` SET name = 'Renamed' WHERE id = 1");
    let (_, answer) = app
        .api_json(
            Method::Post,
            "/api/admin/cache",
            Some(&json!({ "tag": "db:user:row:1", "soft": true })),
        )
        .await;
    assert_eq!(answer["purged"], 1);

    let gate = app.gate();
    gate.arm();
    let refresh = app.get("/test/user/1");
    let meanwhile = async {
        gate.reached().await;
        // While the refresh is held, others get the old page at once.
        let stale = app.get("/test/user/1").await;
        let seen = (
            header(&stale, "X-Cache"),
            stale.into_string().await.unwrap_or_default(),
        );
        gate.release();
        seen
    };
    let (refresh, (x_cache_seen, body_seen)) = tokio::join!(refresh, meanwhile);
    assert_eq!(
        (x_cache_seen.as_str(), body_seen.as_str()),
        ("STALE", "Soumitra")
    );
    assert!(header(&refresh, "Cache-Status").contains("fwd=stale"));
    assert_eq!(refresh.into_string().await.as_deref(), Some("Renamed"));
    let fresh = app.get("/test/user/1").await;
    assert_eq!(header(&fresh, "X-Cache"), "HIT");
    assert_eq!(fresh.into_string().await.as_deref(), Some("Renamed"));
}

/// `hash-password` run with `args` and `stdin`: (exit code, stdout, stderr).
fn run_hash_password(args: &[&str], stdin: &[u8]) -> (Option<i32>, String, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hash-password"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("hash-password runs");
    // A tool that does not read stdin may have exited already: a broken pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    let output = child.wait_with_output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn hash_password_help_explains_itself_without_reading_stdin() {
    for flag in ["--help", "-h"] {
        let (code, stdout, stderr) = run_hash_password(&[flag], b"short\n");
        assert_eq!(code, Some(0), "{flag}: {stderr}");
        assert!(
            stdout.starts_with("Usage: hash-password"),
            "{flag}: {stdout}"
        );
        assert!(stdout.contains("admin.password_hash"), "{stdout}");
        assert!(!stderr.contains("at least 8"), "{flag}: {stderr}");
    }
    let (code, stdout, stderr) = run_hash_password(&["--pasword"], b"long enough secret\n");
    assert_eq!(code, Some(2), "{stdout}");
    assert!(stdout.is_empty(), "no hash for a mistyped flag: {stdout}");
    assert!(
        stderr.contains("unexpected argument `--pasword`"),
        "{stderr}"
    );
}

#[rocket::async_test]
async fn hash_password_prints_a_hash_that_verifies() {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hash-password"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("hash-password runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long enough password\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let hash = String::from_utf8(output.stdout).unwrap();
    let hash = hash.trim();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(rocket_cache::web::auth::verify_password(hash, "a long enough password").await);
    assert!(!rocket_cache::web::auth::verify_password(hash, "a long enough password\n").await);
    let app = AppBuilder::new()
        .with_admin()
        .with("admin.password_hash", hash)
        .start()
        .await;
    let response = app.try_login(ADMIN_USER, "a long enough password").await;
    assert_eq!(response.status().code, 303);
}
