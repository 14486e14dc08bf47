//! Writes through the HTML forms and the JSON API: what they do, every rule they
//! enforce, and that a refused write writes nothing.

use rocket::http::Method;
use serde_json::{json, Value};
use test_support::redis_addr;

use crate::support::admin::{field_value, API_TOKEN};
use crate::support::proxy::{FaultProxy, Mode};
use crate::support::{header, AppBuilder, TestApp};

async fn admin_app() -> TestApp {
    AppBuilder::new().with_admin().start().await
}

fn ada() -> Value {
    json!({ "name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44 20 7946", "address": "12 Analytical Row" })
}

#[rocket::async_test]
async fn the_api_creates_a_user_with_201_location_and_body() {
    let app = admin_app().await;
    let response = app
        .api(Method::Post, "/api/users", Some(API_TOKEN), Some(&ada()))
        .await;
    assert_eq!(response.status().code, 201);
    assert_eq!(header(&response, "Location"), "/api/users/2");
    assert_eq!(header(&response, "X-Cache-Purge"), "done");
    assert_eq!(header(&response, "Cache-Control"), "no-store");
    let body: Value = serde_json::from_str(&response.into_string().await.unwrap()).unwrap();
    assert_eq!(body["id"], 2);
    assert_eq!(body["name"], "Ada Lovelace");
    assert_eq!(app.user_column(2, "email"), "ada@example.com");
}

#[rocket::async_test]
async fn the_api_replaces_and_deletes_users() {
    let app = admin_app().await;
    let (status, body) = app
        .api_json(Method::Put, "/api/users/1", Some(&ada()))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({ "id": 1, "name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44 20 7946", "address": "12 Analytical Row" })
    );
    assert_eq!(app.user_column(1, "name"), "Ada Lovelace");
    let (status, _) = app
        .api_json(Method::Put, "/api/users/1", Some(&ada()))
        .await;
    assert_eq!(status, 200, "saving unchanged values is not a 404");

    let response = app
        .api(Method::Delete, "/api/users/1", Some(API_TOKEN), None)
        .await;
    assert_eq!(response.status().code, 204);
    assert_eq!(app.user_count(), 0);
}

#[rocket::async_test]
async fn input_is_trimmed_and_phone_is_optional() {
    let app = admin_app().await;
    let (status, body) = app
        .api_json(
            Method::Post,
            "/api/users",
            Some(&json!({ "name": "  Grace  ", "email": " grace@example.com ", "address": " Navy " })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["name"], "Grace");
    assert_eq!(body["phone"], "");
    assert_eq!(app.user_column(2, "email"), "grace@example.com");
}

#[rocket::async_test]
async fn each_rule_is_a_422_naming_the_field_and_nothing_is_written() {
    let app = admin_app().await;
    let before = app.table_snapshot();
    let cases: Vec<(&str, Value)> = vec![
        ("name", json!({ "name": "" })),
        ("name", json!({ "name": "   " })),
        ("name", json!({ "name": "n".repeat(51) })),
        ("email", json!({ "email": "" })),
        ("email", json!({ "email": "not-an-address" })),
        (
            "email",
            json!({ "email": format!("{}@example.com", "e".repeat(250)) }),
        ),
        ("phone", json!({ "phone": "1".repeat(16) })),
        ("phone", json!({ "phone": "555-CALL-NOW" })),
        ("address", json!({ "address": "" })),
        ("address", json!({ "address": "a".repeat(256) })),
    ];
    for (field, change) in cases {
        let mut body = ada();
        for (key, value) in change.as_object().unwrap() {
            body[key] = value.clone();
        }
        for (method, uri) in [(Method::Post, "/api/users"), (Method::Put, "/api/users/1")] {
            let (status, answer) = app.api_json(method, uri, Some(&body)).await;
            assert_eq!(status, 422, "{method} {uri} {body}: {answer}");
            let fields = answer["error"]["fields"].as_object().unwrap();
            assert_eq!(
                fields.keys().collect::<Vec<_>>(),
                [field],
                "{body}: {answer}"
            );
            assert!(!fields[field].as_str().unwrap().is_empty());
        }
    }
    assert_eq!(app.table_snapshot(), before, "nothing written");
}

#[rocket::async_test]
async fn names_are_counted_in_characters_not_bytes() {
    let app = admin_app().await;
    let mut body = ada();
    body["name"] = json!("é".repeat(50));
    let (status, answer) = app.api_json(Method::Post, "/api/users", Some(&body)).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(app.user_column(2, "name"), "é".repeat(50));
}

#[rocket::async_test]
async fn a_duplicate_email_is_a_422_on_create_and_update_whatever_its_case() {
    let app = admin_app().await;
    let before = app.table_snapshot();
    let mut body = ada();
    body["email"] = json!("Soumitra@RoyTuts.com");
    let (status, answer) = app.api_json(Method::Post, "/api/users", Some(&body)).await;
    assert_eq!(status, 422);
    assert_eq!(answer["error"]["fields"]["email"], "email already in use");
    assert_eq!(app.table_snapshot(), before);

    let (status, created) = app.api_json(Method::Post, "/api/users", Some(&ada())).await;
    assert_eq!(status, 201);
    let before = app.table_snapshot();
    let uri = format!("/api/users/{}", created["id"]);
    let (status, answer) = app.api_json(Method::Put, &uri, Some(&body)).await;
    assert_eq!(status, 422);
    assert_eq!(answer["error"]["fields"]["email"], "email already in use");
    assert_eq!(app.table_snapshot(), before, "Ada unchanged");
}

#[rocket::async_test]
async fn unknown_ids_are_404_for_every_write() {
    let app = admin_app().await;
    app.login().await;
    let csrf = app.csrf().await;
    let before = app.table_snapshot();
    let mut bad = ada();
    bad["email"] = json!("nope");
    for body in [ada(), bad] {
        let (status, answer) = app
            .api_json(Method::Put, "/api/users/99", Some(&body))
            .await;
        assert_eq!(status, 404, "{answer}");
    }
    assert_eq!(
        app.api_json(Method::Delete, "/api/users/99", None).await.0,
        404
    );
    assert_eq!(
        app.api_json(Method::Put, "/api/users/abc", Some(&ada()))
            .await
            .0,
        404
    );
    for uri in ["/users/99/edit", "/users/99/delete", "/users/x/edit"] {
        assert_eq!(app.get(uri).await.status().code, 404, "GET {uri}");
        let response = app
            .post_form(
                uri,
                &[
                    ("csrf", &csrf),
                    ("name", "N"),
                    ("email", "n@example.com"),
                    ("address", "A"),
                ],
            )
            .await;
        assert_eq!(response.status().code, 404, "POST {uri}");
    }
    assert_eq!(app.table_snapshot(), before);
}

#[rocket::async_test]
async fn malformed_json_is_a_400_that_says_why() {
    let app = admin_app().await;
    let response = app
        .api(Method::Post, "/api/users", Some(API_TOKEN), None)
        .await;
    assert_eq!(response.status().code, 400);
    let (status, answer) = app
        .api_json(Method::Post, "/api/users", Some(&json!({ "nmae": "typo" })))
        .await;
    assert_eq!(status, 400);
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("nmae"));
    assert_eq!(app.user_count(), 1);
}

#[rocket::async_test]
async fn the_api_refuses_missing_and_wrong_tokens_and_writes_nothing() {
    let app = admin_app().await;
    let before = app.table_snapshot();
    for token in [None, Some("wrong-token-0123456789abcdef"), Some("")] {
        for (method, uri, body) in [
            (Method::Post, "/api/users", Some(ada())),
            (Method::Put, "/api/users/1", Some(ada())),
            (Method::Delete, "/api/users/1", None),
        ] {
            let response = app.api(method, uri, token, body.as_ref()).await;
            assert_eq!(response.status().code, 401, "{method} {uri} {token:?}");
            assert!(header(&response, "WWW-Authenticate").starts_with("Bearer"));
        }
    }
    let response = app
        .client
        .delete("/api/users/1")
        .header(rocket::http::Header::new(
            "Authorization",
            format!("Basic {API_TOKEN}"),
        ))
        .dispatch()
        .await;
    assert_eq!(response.status().code, 401, "only the Bearer scheme");
    assert_eq!(app.table_snapshot(), before);
}

#[rocket::async_test]
async fn with_no_admin_configured_writes_are_refused_and_pages_still_served() {
    let app = TestApp::spawn().await;
    let before = app.table_snapshot();
    let (status, answer) = app.api_json(Method::Post, "/api/users", Some(&ada())).await;
    assert_eq!(status, 403);
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("admin.api_token"), "{message}");
    assert!(message.contains("ROCKET_ADMIN"), "{message}");
    let response = app
        .post_form("/users/new", &[("name", "x"), ("email", "x@example.com")])
        .await;
    assert_eq!(response.status().code, 403);
    assert_eq!(app.get("/users/new").await.status().code, 403);
    let (status, page) = app.get_text("/admin/login").await;
    assert_eq!(status, 200);
    assert!(page.contains("No admin login is configured"), "{page}");
    assert_eq!(
        app.post_form("/admin/login", &[("username", "admin"), ("password", "x")])
            .await
            .status()
            .code,
        403
    );
    assert_eq!(app.get_text("/").await.0, 200);
    assert_eq!(app.table_snapshot(), before);
}

#[rocket::async_test]
async fn the_form_creates_a_user_and_redirects_to_its_page_with_a_message() {
    let app = admin_app().await;
    app.login().await;
    let (status, form) = app.get_text("/users/new").await;
    assert_eq!(status, 200);
    let csrf = field_value(&form, "csrf").unwrap();
    let response = app
        .post_form(
            "/users/new",
            &[
                ("csrf", &csrf),
                ("name", "Ada Lovelace"),
                ("email", "ada@example.com"),
                ("phone", ""),
                ("address", "12 Analytical Row"),
            ],
        )
        .await;
    assert_eq!(response.status().code, 303);
    assert_eq!(header(&response, "Location"), "/users/2");
    assert_eq!(header(&response, "Cache-Control"), "private, no-store");
    drop(response);
    let (status, page) = app.get_text("/users/2").await;
    assert_eq!(status, 200);
    assert!(page.contains("Created Ada Lovelace (user 2)."), "{page}");
    let (_, again) = app.get_text("/users/2").await;
    assert!(!again.contains("Created Ada"), "a flash is shown once");
}

#[rocket::async_test]
async fn an_invalid_form_is_shown_again_with_the_values_and_a_message_per_field() {
    let app = admin_app().await;
    app.login().await;
    let csrf = app.csrf().await;
    let before = app.table_snapshot();
    let response = app
        .post_form(
            "/users/1/edit",
            &[
                ("csrf", &csrf),
                ("name", "<b>Bold</b> & \"quoted\""),
                ("email", "not an email"),
                ("phone", "12345678901234567"),
                ("address", ""),
            ],
        )
        .await;
    assert_eq!(response.status().code, 422);
    assert_eq!(header(&response, "Cache-Control"), "private, no-store");
    let page = response.into_string().await.unwrap();
    assert!(
        page.contains("value=\"&lt;b&gt;Bold&lt;/b&gt; &amp; &quot;quoted&quot;\""),
        "the typed value, escaped: {page}"
    );
    assert!(!page.contains("<b>Bold</b>"));
    for message in [
        "is not an email address",
        "Phone must be at most 15 characters",
        "Address is required.",
    ] {
        assert!(page.contains(message), "{message}: {page}");
    }
    assert!(page.contains("aria-invalid=\"true\""));
    assert_eq!(app.table_snapshot(), before, "nothing written");

    let duplicate = app
        .post_form(
            "/users/new",
            &[
                ("csrf", &csrf),
                ("name", "Copy"),
                ("email", "SOUMITRA@roytuts.com"),
                ("address", "Here"),
            ],
        )
        .await;
    assert_eq!(duplicate.status().code, 422);
    assert!(duplicate
        .into_string()
        .await
        .unwrap()
        .contains("email already in use"));
    assert_eq!(app.table_snapshot(), before);
}

#[rocket::async_test]
async fn edit_and_delete_through_the_forms() {
    let app = admin_app().await;
    app.login().await;
    let (status, form) = app.get_text("/users/1/edit").await;
    assert_eq!(status, 200);
    assert!(form.contains("value=\"soumitra@roytuts.com\""), "prefilled");
    let csrf = field_value(&form, "csrf").unwrap();
    let response = app
        .post_form(
            "/users/1/edit",
            &[
                ("csrf", &csrf),
                ("name", "Soumitra R."),
                ("email", "soumitra@roytuts.com"),
                ("phone", "43256789"),
                ("address", "Mars"),
            ],
        )
        .await;
    assert_eq!(response.status().code, 303);
    assert_eq!(header(&response, "Location"), "/users/1");
    drop(response);
    assert_eq!(app.user_column(1, "address"), "Mars");

    let (status, confirm) = app.get_text("/users/1/delete").await;
    assert_eq!(status, 200);
    assert!(confirm.contains("Delete Soumitra R.?"), "{confirm}");
    assert_eq!(app.user_count(), 1, "the confirm page deletes nothing");
    let response = app.post_form("/users/1/delete", &[("csrf", &csrf)]).await;
    assert_eq!(response.status().code, 303);
    assert_eq!(header(&response, "Location"), "/");
    drop(response);
    assert_eq!(app.user_count(), 0);
    let (_, list) = app.get_text("/").await;
    assert!(list.contains("Deleted user 1."), "{list}");
}

#[rocket::async_test]
async fn forms_without_a_session_are_refused_or_sent_to_login() {
    let app = admin_app().await;
    let before = app.table_snapshot();
    for uri in ["/users/new", "/users/1/edit", "/users/1/delete"] {
        let response = app.get(uri).await;
        assert_eq!(response.status().code, 303, "GET {uri}");
        let next: String = url::form_urlencoded::byte_serialize(uri.as_bytes()).collect();
        assert_eq!(
            header(&response, "Location"),
            format!("/admin/login?next={next}")
        );
        let response = app
            .post_form(
                uri,
                &[
                    ("name", "X"),
                    ("email", "x@example.com"),
                    ("address", "Y"),
                    ("csrf", "guess"),
                ],
            )
            .await;
        // The login ended while the form was open: nothing is written, the page
        // links the login (which comes back to the form) and shows what was typed.
        assert_eq!(response.status().code, 401, "POST {uri}");
        // Handlebars writes `=` in attributes as `&#x3D;`; a browser reads it back.
        let page = response
            .into_string()
            .await
            .unwrap_or_default()
            .replace("&#x3D;", "=");
        let next: String = url::form_urlencoded::byte_serialize(uri.as_bytes()).collect();
        assert!(
            page.contains(&format!(
                "<a href=\"/admin/login?next={next}\">Log in again</a>"
            )),
            "POST {uri}: {page}"
        );
        if !uri.ends_with("/delete") {
            assert!(page.contains("x@example.com"), "POST {uri}: {page}");
        }
    }
    // A forged or foreign session cookie is no session.
    let response = app
        .request(
            Method::Get,
            "/users/new",
            &[("Cookie", "rc_session=forged-value")],
        )
        .await;
    assert_eq!(response.status().code, 303);
    assert_eq!(app.table_snapshot(), before);
}

#[rocket::async_test]
async fn a_missing_or_wrong_csrf_token_is_403_and_writes_nothing() {
    let app = admin_app().await;
    app.login().await;
    let before = app.table_snapshot();
    let fields = [
        ("name", "Mallory"),
        ("email", "mallory@example.com"),
        ("address", "Elsewhere"),
    ];
    for uri in ["/users/new", "/users/1/edit", "/users/1/delete"] {
        let missing = app.post_form(uri, &fields).await;
        assert_eq!(missing.status().code, 403, "{uri} without a token");
        let mut forged = fields.to_vec();
        forged.push((
            "csrf",
            "0000000000000000000000000000000000000000000000000000000000000000",
        ));
        let wrong = app.post_form(uri, &forged).await;
        assert_eq!(wrong.status().code, 403, "{uri} with a wrong token");
        let body = wrong.into_string().await.unwrap();
        assert!(body.contains("did not come from this site"), "{body}");
    }
    assert_eq!(app.table_snapshot(), before);
}

#[rocket::async_test]
async fn a_failed_edit_reports_a_taken_email_with_the_other_mistakes_and_keeps_the_heading() {
    let app = admin_app().await;
    app.login().await;
    let csrf = app.csrf().await;
    let created = app
        .api(Method::Post, "/api/users", Some(API_TOKEN), Some(&ada()))
        .await;
    assert_eq!(created.status().code, 201);
    let before = app.table_snapshot();
    // An empty name and someone else's address, sent at once.
    let response = app
        .post_form(
            "/users/2/edit",
            &[
                ("csrf", &csrf),
                ("name", ""),
                ("email", "SOUMITRA@roytuts.com"),
                ("address", "Here"),
            ],
        )
        .await;
    assert_eq!(response.status().code, 422);
    let page = response.into_string().await.unwrap();
    assert!(page.contains("email already in use"), "{page}");
    assert!(page.contains("id=\"name-error\""), "{page}");
    assert!(page.contains("<h1>Edit Ada Lovelace</h1>"), "{page}");
    assert_eq!(app.table_snapshot(), before, "nothing written");

    // A user keeping their own address is not told it is taken.
    let own = app
        .post_form(
            "/users/2/edit",
            &[
                ("csrf", &csrf),
                ("name", ""),
                ("email", "ada@example.com"),
                ("address", "Here"),
            ],
        )
        .await;
    assert_eq!(own.status().code, 422);
    let page = own.into_string().await.unwrap();
    assert!(!page.contains("email already in use"), "{page}");
}

#[rocket::async_test]
async fn x_cache_purge_says_what_the_store_answered() {
    let proxy = FaultProxy::start(redis_addr()).await;
    let app = AppBuilder::new()
        .with_admin()
        .with("cache.url", format!("redis://127.0.0.1:{}/", proxy.port()))
        .start()
        .await;
    assert_eq!(app.fetch("/users/1").await.x_cache(), "MISS");
    assert_eq!(app.fetch("/users/1").await.x_cache(), "HIT");
    let renamed = |name: &str| json!({ "name": name, "email": "soumitra@roytuts.com", "phone": "555 0001", "address": "1 Test Street" });

    // "done" is what the store did: the stored page is gone, the next read renders.
    let response = app
        .api(
            Method::Put,
            "/api/users/1",
            Some(API_TOKEN),
            Some(&renamed("Purged")),
        )
        .await;
    assert_eq!(response.status().code, 200);
    assert_eq!(header(&response, "X-Cache-Purge"), "done");
    drop(response);
    let before = app.queries();
    let reply = app.fetch("/users/1").await;
    assert_eq!(
        reply.x_cache(),
        "MISS",
        "a purge that said done removed the page"
    );
    assert!(reply.body.contains("Purged"), "{}", reply.body);
    assert!(
        app.queries() > before,
        "the page was rendered from MySQL again"
    );

    // With the store gone, the same write cannot say done.
    proxy.switch(Mode::Cut).await;
    let response = app
        .api(
            Method::Put,
            "/api/users/1",
            Some(API_TOKEN),
            Some(&renamed("Unpurged")),
        )
        .await;
    assert_eq!(response.status().code, 200, "the write is not an error");
    assert_eq!(header(&response, "X-Cache-Purge"), "pending");
}

/// A constraint that no rule of the app checks is a bug, not an outage: 500 (no
/// `Retry-After`), and nothing is written.
#[rocket::async_test]
async fn a_constraint_no_rule_catches_is_a_500_not_a_503() {
    let app = admin_app().await;
    app.db
        .execute("ALTER TABLE `user` ADD CONSTRAINT no_bugs CHECK (name <> 'Bug')");
    let before = app.table_snapshot();
    let mut bug = ada();
    bug["name"] = json!("Bug");
    let response = app
        .api(Method::Post, "/api/users", Some(API_TOKEN), Some(&bug))
        .await;
    assert_eq!(response.status().code, 500);
    assert!(response.headers().get_one("Retry-After").is_none());
    let body: Value = serde_json::from_str(&response.into_string().await.unwrap()).unwrap();
    assert_eq!(body["error"]["status"], 500, "{body}");
    assert_eq!(app.table_snapshot(), before);
}

#[rocket::async_test]
async fn a_put_without_every_field_is_a_422_naming_those_left_out_and_changes_nothing() {
    let app = admin_app().await;
    let before = app.table_snapshot();
    for left_out in ["phone", "address", "name"] {
        let mut body = ada();
        body.as_object_mut().unwrap().remove(left_out);
        let (status, answer) = app.api_json(Method::Put, "/api/users/1", Some(&body)).await;
        assert_eq!(status, 422, "{body}: {answer}");
        let fields = answer["error"]["fields"].as_object().unwrap();
        assert_eq!(fields.keys().collect::<Vec<_>>(), [left_out], "{answer}");
    }
    let (status, answer) = app
        .api_json(Method::Put, "/api/users/1", Some(&json!({})))
        .await;
    assert_eq!(status, 422);
    assert_eq!(answer["error"]["fields"].as_object().unwrap().len(), 4);
    assert_eq!(app.table_snapshot(), before, "nothing written");
    // Clearing a field is said out loud: empty or null.
    let mut body = ada();
    body["phone"] = Value::Null;
    let (status, answer) = app.api_json(Method::Put, "/api/users/1", Some(&body)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(app.user_column(1, "phone"), "");
}

#[rocket::async_test]
async fn a_json_body_that_is_not_an_object_is_a_400() {
    let app = admin_app().await;
    let before = app.table_snapshot();
    let array = json!(["Ada", "ada@example.com", "", "12 Analytical Row"]);
    for body in [array, json!("Ada"), json!(7), Value::Null] {
        for (method, uri) in [(Method::Post, "/api/users"), (Method::Put, "/api/users/1")] {
            let (status, answer) = app.api_json(method, uri, Some(&body)).await;
            assert_eq!(status, 400, "{method} {body}: {answer}");
            assert!(
                answer["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("expected a JSON object")),
                "{answer}"
            );
        }
    }
    assert_eq!(app.table_snapshot(), before, "nothing written");
}

#[rocket::async_test]
async fn a_form_with_a_field_twice_is_a_400_page_and_writes_nothing() {
    let app = admin_app().await;
    app.login().await;
    let before = app.table_snapshot();
    let (_, form) = app.get_text("/users/new").await;
    let csrf = field_value(&form, "csrf").unwrap();
    for uri in ["/users/new", "/users/1/edit"] {
        let response = app
            .post_form(
                uri,
                &[
                    ("csrf", &csrf),
                    ("name", "Ada"),
                    ("name", "Mallory"),
                    ("email", "ada@example.com"),
                    ("phone", ""),
                    ("address", "12 Analytical Row"),
                ],
            )
            .await;
        assert_eq!(response.status().code, 400, "{uri}");
        let page = response.into_string().await.unwrap_or_default();
        assert!(page.contains("<html"), "an HTML page: {page}");
        assert!(
            page.contains("the field “name” was sent more than once"),
            "{page}"
        );
    }
    assert_eq!(app.table_snapshot(), before, "nothing written");
}

#[rocket::async_test]
async fn a_form_over_the_limit_is_a_413_page_that_says_the_limit() {
    let app = AppBuilder::new()
        .with_admin()
        .with("limits.form", "1 KiB")
        .start()
        .await;
    app.login().await;
    let before = app.table_snapshot();
    let (_, form) = app.get_text("/users/new").await;
    let csrf = field_value(&form, "csrf").unwrap();
    let long = "a".repeat(2000);
    for uri in ["/users/new", "/users/1/edit", "/admin/login"] {
        let response = app
            .post_form(
                uri,
                &[("csrf", &csrf), ("name", &long), ("email", "a@example.com")],
            )
            .await;
        assert_eq!(response.status().code, 413, "{uri}");
        let page = response.into_string().await.unwrap_or_default();
        assert!(page.contains("<html"), "an HTML page: {page}");
        assert!(
            page.contains("1KiB") || page.contains("1 KiB"),
            "{uri}: {page}"
        );
    }
    assert_eq!(app.table_snapshot(), before, "nothing written");
}
