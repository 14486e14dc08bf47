//! One page, one key: every spelling of a resource that the routes accept is the
//! same cache entry, and every other spelling is a 404 or a 400 that reads nothing
//! from MySQL and stores nothing. A write therefore reaches every spelling.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use rocket::http::Method;
use serde_json::json;

use crate::support::{AppBuilder, TestApp};

/// Users 2 to 11 besides the sample row, with the admin's API token.
async fn app_with_eleven_users() -> TestApp {
    let app = AppBuilder::new().with_admin().start().await;
    app.insert_users(10);
    app
}

/// Status, `X-Cache` and body of a GET.
async fn get(app: &TestApp, uri: &str) -> (u16, String, String) {
    let reply = app.fetch(uri).await;
    let x_cache = reply.header("x-cache").unwrap_or_default().to_owned();
    (reply.status, x_cache, reply.body)
}

/// Asserts that `uri` is refused with `status` without a MySQL statement and
/// without a new key in the namespace.
async fn assert_refused_untouched(app: &TestApp, uri: &str, status: u16) {
    let (queries, keys) = (app.queries(), app.namespace.keys().len());
    let (got, x_cache, _) = get(app, uri).await;
    assert_eq!(got, status, "{uri}");
    assert_ne!(x_cache, "HIT", "{uri} is never a cached page");
    assert_eq!(app.queries(), queries, "{uri} read nothing from MySQL");
    assert_eq!(app.namespace.keys().len(), keys, "{uri} stored nothing");
}

/// Asserts that `uri` is answered from the entry of an already cached page.
async fn assert_same_entry(app: &TestApp, uri: &str) -> String {
    let (queries, keys) = (app.queries(), app.namespace.keys().len());
    let (status, x_cache, body) = get(app, uri).await;
    assert_eq!((status, x_cache.as_str()), (200, "HIT"), "{uri}");
    assert_eq!(app.queries(), queries, "{uri} read nothing from MySQL");
    assert_eq!(app.namespace.keys().len(), keys, "{uri} made no key");
    body
}

#[rocket::async_test]
async fn other_spellings_of_a_user_id_are_404s_and_never_show_an_edited_or_deleted_user() {
    let app = app_with_eleven_users().await;
    let (status, _, page) = get(&app, "/users/11").await;
    assert_eq!(status, 200);
    assert!(page.contains("User 9"), "{page}");
    for same in ["/users/11", "/users/11/", "//users//11", "/users/%31%31"] {
        assert_same_entry(&app, same).await;
    }
    let misspelt = [
        "/users/011",
        "/users/+11",
        "/users/%2B11",
        "/users/0011",
        "/api/users/011",
        "/api/users/+11",
    ];
    for uri in misspelt {
        assert_refused_untouched(&app, uri, 404).await;
    }

    let renamed = json!({ "name": "Renamed Eleven", "email": "eleven@example.com",
        "phone": "555 0011", "address": "11 Test Street" });
    let (status, _) = app
        .api_json(Method::Put, "/api/users/11", Some(&renamed))
        .await;
    assert_eq!(status, 200);
    for uri in ["/users/11", "/users/11/", "/users/%31%31"] {
        let (_, _, body) = get(&app, uri).await;
        assert!(body.contains("Renamed Eleven"), "{uri} shows the edit");
        assert!(!body.contains("User 9"), "{uri} shows no old name");
    }

    let (status, _) = app.api_json(Method::Delete, "/api/users/11", None).await;
    assert_eq!(status, 204);
    for uri in ["/users/11", "/users/11/", "/users/%31%31", "/api/users/11"]
        .into_iter()
        .chain(misspelt)
    {
        let (status, _, body) = get(&app, uri).await;
        assert_eq!(status, 404, "{uri} after the delete");
        assert!(!body.contains("Renamed Eleven"), "{uri}");
    }
}

#[rocket::async_test]
async fn list_parameters_have_one_spelling_and_repeats_are_bad_requests() {
    let app = app_with_eleven_users().await;
    let (status, _, _) = get(&app, "/?after=2&per_page=5").await;
    assert_eq!(status, 200);
    for same in [
        "/?per_page=5&after=2",
        "/?after=2&per_page=5&utm_source=x",
        "/?after=%32&per_page=%35",
    ] {
        assert_same_entry(&app, same).await;
    }
    for misspelt in [
        "/?after=02&per_page=5",
        "/?after=2&per_page=05",
        "/?after=%2B2&per_page=5",
        "/?after=2&after=2&per_page=5",
        "/?after=2&per_page=5&per_page=5",
        "/?after=2&per_page=500",
        "/?after=0",
        "/?page=2",
        "/?page=1&after=2",
        "/api/users?after=02",
        "/api/users?after=1&after=1",
        "/api/users?page=1",
    ] {
        assert_refused_untouched(&app, misspelt, 400).await;
    }
}

#[rocket::async_test]
async fn the_default_page_size_written_out_redirects_to_the_address_without_it() {
    let app = app_with_eleven_users().await;
    for (uri, canonical) in [
        ("/?per_page=20", "/"),
        ("/?after=2&per_page=20", "/?after=2"),
        ("/api/users?per_page=20", "/api/users"),
        ("/api/users?per_page=20&after=5", "/api/users?after=5"),
    ] {
        let (queries, keys) = (app.queries(), app.namespace.keys().len());
        let reply = app.fetch(uri).await;
        assert_eq!(reply.status, 308, "{uri}");
        assert_eq!(reply.header("location"), Some(canonical), "{uri}");
        assert_eq!(app.queries(), queries, "{uri} read nothing from MySQL");
        assert_eq!(app.namespace.keys().len(), keys, "{uri} stored nothing");
    }
}

/// A spelling of user `id`: zero padding, a `+`, percent-encoded digits, doubled
/// and trailing slashes, an ignored query. Canonical when neither padded nor signed.
fn user_spelling() -> impl Strategy<Value = (u32, String, bool)> {
    (
        2u32..=11,
        0usize..3,
        any::<bool>(),
        proptest::collection::vec(any::<bool>(), 4),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(id, zeros, plus, encode, double, trailing, query)| {
            let digits: String =
                format!("{}{}{id}", if plus { "+" } else { "" }, "0".repeat(zeros));
            let segment: String = digits
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if encode[i % encode.len()] {
                        format!("%{:02X}", c as u32)
                    } else {
                        c.to_string()
                    }
                })
                .collect();
            let slash = if double { "//" } else { "/" };
            let uri = format!(
                "{slash}users{slash}{segment}{}{}",
                if trailing { "/" } else { "" },
                if query { "?utm=1" } else { "" }
            );
            (id, uri, zeros == 0 && !plus)
        })
}

/// A spelling of list page (`after`, `per_page`): padding, signs, encoding, order
/// and repeats. Canonical when none of those but order and encoding is used.
fn list_spelling() -> impl Strategy<Value = (String, bool)> {
    (
        prop_oneof![Just(2u32), Just(5u32)],
        prop_oneof![Just(5u32), Just(10u32)],
        0usize..2,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(after, per_page, zeros, plus, encode, swap, repeat)| {
            let pad = "0".repeat(zeros);
            let sign = if plus { "%2B" } else { "" };
            let after_value = if encode {
                format!("{sign}{pad}%{:02X}", u32::from(b'0') + after)
            } else {
                format!("{sign}{pad}{after}")
            };
            let mut pairs = vec![
                format!("after={after_value}"),
                format!("per_page={per_page}"),
            ];
            if swap {
                pairs.reverse();
            }
            if repeat {
                pairs.push(format!("per_page={per_page}"));
            }
            (
                format!("/?{}", pairs.join("&")),
                zeros == 0 && !plus && !repeat,
            )
        })
}

#[rocket::async_test]
async fn any_two_spellings_the_routes_read_as_one_resource_share_one_key() {
    let app = app_with_eleven_users().await;
    for id in 2..=11 {
        assert_eq!(get(&app, &format!("/users/{id}")).await.0, 200);
    }
    for after in [2, 5] {
        for per_page in [5, 10] {
            let uri = format!("/?after={after}&per_page={per_page}");
            assert_eq!(get(&app, &uri).await.0, 200);
        }
    }
    let mut runner = TestRunner::deterministic();
    let users = user_spelling();
    let lists = list_spelling();
    for _ in 0..64 {
        let (id, uri, canonical) = users.new_tree(&mut runner).unwrap().current();
        if canonical {
            let body = assert_same_entry(&app, &uri).await;
            assert!(body.contains(&format!("User {}", id - 2)), "{uri}");
        } else {
            assert_refused_untouched(&app, &uri, 404).await;
        }
        let (uri, canonical) = lists.new_tree(&mut runner).unwrap().current();
        if canonical {
            assert_same_entry(&app, &uri).await;
        } else {
            assert_refused_untouched(&app, &uri, 400).await;
        }
    }
}
