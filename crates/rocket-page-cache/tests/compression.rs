//! Compressed pages: a render is stored in the coding its requester prefers, a
//! coding a later hit asks for is added to the stored page (for every instance,
//! never over a newer version), a stored page is served in the coding the
//! request accepts, every coding decodes to the page as rendered, each coding
//! has its own ETag, and a revalidation that matches is answered from the
//! entry's head.

use std::io::Read;
use std::time::Duration;

use rocket_page_cache::ManualClock;
use serde_json::json;
use test_support::eventually;

use crate::support::app::{Reply, TestApp};
use crate::support::shared::Shared;

const PAGE: &str = "/html/page";

/// `bytes` decoded from `coding` (`br`, `gzip`; anything else is as it is).
fn decode(coding: Option<&str>, bytes: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::new();
    match coding {
        Some("br") => brotli::Decompressor::new(bytes, 4096)
            .read_to_end(&mut decoded)
            .expect("valid br"),
        Some("gzip") => flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut decoded)
            .expect("valid gzip"),
        _ => return bytes.to_vec(),
    };
    decoded
}

/// A stored page: its first (identity) answer, and the app.
async fn stored(path: &str, extra: serde_json::Value) -> (TestApp, Reply) {
    let app = TestApp::spawn(extra).await;
    let miss = app.get(path).await;
    assert_eq!((miss.status, miss.x_cache()), (200, "MISS"), "{miss:?}");
    (app, miss)
}

/// A stored page in br and gzip too: each asked for once, then served in it
/// once the coding was added.
async fn stored_in_every_coding(path: &str, extra: serde_json::Value) -> (TestApp, Reply) {
    let (app, miss) = stored(path, extra).await;
    for coding in ["br", "gzip"] {
        until_served_in(&app, path, coding).await;
    }
    (app, miss)
}

/// Asks for `path` in `coding` until a hit comes in it.
async fn until_served_in(app: &TestApp, path: &str, coding: &str) -> Reply {
    eventually(
        Duration::from_secs(5),
        &format!("{path} in {coding}"),
        || async {
            let reply = app.get_with(path, &accept(coding)).await;
            (reply.header("Content-Encoding") == Some(coding)).then_some(reply)
        },
    )
    .await
}

fn accept(coding: &str) -> [(&str, &str); 1] {
    [("Accept-Encoding", coding)]
}

fn vary_names(reply: &Reply) -> Vec<String> {
    reply
        .header("Vary")
        .unwrap_or_default()
        .split(',')
        .map(|name| name.trim().to_ascii_lowercase())
        .collect()
}

#[tokio::test]
async fn a_hit_asked_for_br_or_gzip_gets_it_and_it_decodes_to_the_identity_body() {
    let (app, miss) = stored_in_every_coding(PAGE, json!({})).await;
    let identity = app.get(PAGE).await;
    assert_eq!(identity.x_cache(), "HIT");
    assert_eq!(identity.header("Content-Encoding"), None);
    assert_eq!(identity.bytes, miss.bytes);

    for (asked, coding) in [
        ("br", "br"),
        ("gzip", "gzip"),
        ("gzip, deflate, br, zstd", "br"),
        ("br;q=0.5, gzip", "gzip"),
    ] {
        let reply = app.get_with(PAGE, &accept(asked)).await;
        assert_eq!(reply.x_cache(), "HIT", "{asked}: {reply:?}");
        assert_eq!(reply.header("Content-Encoding"), Some(coding), "{asked}");
        assert!(
            reply.bytes.len() < identity.bytes.len() / 4,
            "{asked}: compressed"
        );
        assert_eq!(reply.length, Some(reply.bytes.len()), "{asked}");
        assert_eq!(
            decode(Some(coding), &reply.bytes),
            identity.bytes,
            "{asked}"
        );
        assert_eq!(
            reply.header("Content-Type"),
            identity.header("Content-Type")
        );
    }
    assert_eq!(app.backend.renders(PAGE), 1, "compressed hits never render");
}

/// A hit's body is in memory: it goes to the connection in one piece, not in
/// Rocket's default 4 KiB chunks (each a copy and a task wake-up).
#[tokio::test]
async fn a_hits_body_is_handed_to_the_connection_in_one_piece() {
    let (app, miss) = stored_in_every_coding(PAGE, json!({})).await;
    assert!(
        miss.bytes.len() > 4096,
        "the page outgrows one default chunk"
    );
    for coding in ["identity", "br"] {
        let hit = app.get_with(PAGE, &accept(coding)).await;
        assert_eq!(hit.x_cache(), "HIT", "{coding}");
        assert!(
            hit.max_chunk >= hit.bytes.len(),
            "{coding}: chunks of {} for a body of {}",
            hit.max_chunk,
            hit.bytes.len()
        );
    }
}

#[tokio::test]
async fn a_client_that_accepts_no_coding_we_hold_gets_identity() {
    let (app, miss) = stored_in_every_coding(PAGE, json!({})).await;
    for asked in ["", "identity", "deflate, zstd", "br;q=0, gzip;q=0", "*;q=0"] {
        let reply = app.get_with(PAGE, &accept(asked)).await;
        assert_eq!(reply.x_cache(), "HIT", "{asked:?}");
        assert_eq!(reply.header("Content-Encoding"), None, "{asked:?}");
        assert_eq!(reply.bytes, miss.bytes, "{asked:?}");
    }
}

#[tokio::test]
async fn every_answer_of_a_compressed_page_varies_on_accept_encoding() {
    let (app, miss) = stored_in_every_coding(PAGE, json!({})).await;
    assert_eq!(vary_names(&miss), ["accept-encoding"], "{miss:?}");
    for asked in ["br", "gzip", "identity"] {
        let reply = app.get_with(PAGE, &accept(asked)).await;
        assert_eq!(vary_names(&reply), ["accept-encoding"], "{asked}");
    }

    let lang = [("Accept-Language", "fr"), ("Accept-Encoding", "br")];
    let first = app.get_with("/html-vary", &lang).await;
    let hit = app.get_with("/html-vary", &lang).await;
    assert_eq!(hit.x_cache(), "HIT", "{hit:?}");
    for reply in [&first, &hit] {
        assert_eq!(reply.header("Content-Encoding"), Some("br"), "{reply:?}");
        assert_eq!(
            vary_names(reply),
            ["accept-language", "accept-encoding"],
            "one Vary, the route's and ours"
        );
    }
    let identity = app.get_with("/html-vary", &lang[..1]).await;
    assert_eq!(decode(Some("br"), &hit.bytes), identity.bytes);
}

#[tokio::test]
async fn head_gets_the_content_length_of_the_coding_it_would_get() {
    let (app, _) = stored_in_every_coding(PAGE, json!({})).await;
    for asked in ["br", "gzip", "identity"] {
        let get = app.get_with(PAGE, &accept(asked)).await;
        let head = app.head_with(PAGE, &accept(asked)).await;
        assert_eq!((head.status, head.x_cache()), (200, "HIT"), "{asked}");
        assert!(head.bytes.is_empty(), "{asked}: no body");
        assert_eq!(head.length, Some(get.bytes.len()), "{asked}");
        assert_eq!(
            head.header("Content-Encoding"),
            get.header("Content-Encoding")
        );
        assert_eq!(head.header("ETag"), get.header("ETag"), "{asked}");
    }
}

#[tokio::test]
async fn each_coding_has_its_own_etag_and_a_browser_sending_it_back_gets_304() {
    let (app, miss) = stored_in_every_coding(PAGE, json!({})).await;
    let identity_tag = miss.header("ETag").expect("an ETag").to_owned();
    let br = app.get_with(PAGE, &accept("br")).await;
    let gzip = app.get_with(PAGE, &accept("gzip")).await;
    let br_tag = br.header("ETag").expect("an ETag").to_owned();
    let gzip_tag = gzip.header("ETag").expect("an ETag").to_owned();
    assert_ne!(br_tag, identity_tag);
    assert_ne!(gzip_tag, identity_tag);
    assert_ne!(br_tag, gzip_tag);

    let revalidate = |coding: &'static str, tag: String| {
        let app = &app;
        async move {
            let headers = [("Accept-Encoding", coding), ("If-None-Match", &tag)];
            app.get_with(PAGE, &headers).await
        }
    };
    let not_modified = revalidate("gzip, deflate, br", br_tag.clone()).await;
    assert_eq!(not_modified.status, 304, "{not_modified:?}");
    assert_eq!(not_modified.x_cache(), "HIT");
    assert_eq!(not_modified.header("ETag"), Some(br_tag.as_str()));
    assert!(not_modified.bytes.is_empty());
    assert_eq!(vary_names(&not_modified), ["accept-encoding"]);
    let weak = revalidate("br", format!("W/{br_tag}")).await;
    assert_eq!(weak.status, 304, "weak comparison");
    assert_eq!(revalidate("gzip", gzip_tag.clone()).await.status, 304);
    assert_eq!(revalidate("", identity_tag.clone()).await.status, 304);

    // A tag of another coding is another representation: the whole page.
    let other = revalidate("br", identity_tag).await;
    assert_eq!(other.status, 200);
    assert_eq!(other.header("Content-Encoding"), Some("br"));
    assert_eq!(revalidate("gzip", br_tag).await.status, 200);
    assert_eq!(app.backend.renders(PAGE), 1);
}

#[tokio::test]
async fn a_matching_revalidation_is_answered_from_the_entry_head_alone() {
    // Without a near cache: this is about what is read from Redis.
    let (app, _) = stored_in_every_coding(PAGE, json!({ "near_max_bytes": 0 })).await;
    let br_tag = app
        .get_with(PAGE, &accept("br"))
        .await
        .header("ETag")
        .unwrap()
        .to_owned();
    // Cut the stored value down to its first 600 bytes: its head (timing,
    // headers, tags) is whole, its bodies are gone. Read whole, it is corrupt.
    let key = app.namespace.page_key(PAGE).expect("stored");
    let (): () = app.namespace.command(
        redis::cmd("SET")
            .arg(&key)
            .arg(
                app.namespace
                    .command::<Vec<u8>>(redis::cmd("GETRANGE").arg(&key).arg(0).arg(599)),
            )
            .arg("KEEPTTL"),
    );

    let headers = [
        ("Accept-Encoding", "br"),
        ("If-None-Match", br_tag.as_str()),
    ];
    let reply = app.get_with(PAGE, &headers).await;
    assert_eq!((reply.status, reply.x_cache()), (304, "HIT"), "{reply:?}");
    assert_eq!(reply.header("ETag"), Some(br_tag.as_str()));
    assert_eq!(app.backend.renders(PAGE), 1);

    let headers = [("Accept-Encoding", "br"), ("If-None-Match", "\"another\"")];
    let changed = app.get_with(PAGE, &headers).await;
    assert_eq!(
        (changed.status, changed.x_cache()),
        (200, "MISS"),
        "a tag that does not match reads the whole value, which is cut: {changed:?}"
    );
    assert_eq!(app.backend.renders(PAGE), 2);
}

#[tokio::test]
async fn small_pages_and_pages_the_route_encoded_are_stored_as_they_came() {
    let app = TestApp::spawn(json!({})).await;
    let small = app.get("/html/small").await;
    assert!(small.bytes.len() < 512, "{small:?}");
    let hit = app.get_with("/html/small", &accept("br, gzip")).await;
    assert_eq!(hit.x_cache(), "HIT");
    assert_eq!(hit.header("Content-Encoding"), None);
    assert_eq!(hit.header("Vary"), None, "one representation only");
    assert_eq!(hit.bytes, small.bytes);

    let encoded = app.get_with("/encoded", &accept("br")).await;
    let hit = app.get_with("/encoded", &accept("br")).await;
    assert_eq!(hit.x_cache(), "HIT", "{hit:?}");
    for reply in [&encoded, &hit] {
        assert_eq!(reply.header("Content-Encoding"), Some("gzip"), "{reply:?}");
        assert!(reply.body.starts_with("pretend this is gzip"));
    }
    assert_eq!(hit.header("Vary"), None);
}

#[tokio::test]
async fn with_precompress_off_pages_are_stored_and_served_as_rendered() {
    let (app, miss) = stored(PAGE, json!({ "precompress": false })).await;
    let hit = app.get_with(PAGE, &accept("br, gzip")).await;
    assert_eq!(hit.x_cache(), "HIT");
    assert_eq!(hit.header("Content-Encoding"), None);
    assert_eq!(hit.header("Vary"), None);
    assert_eq!(hit.bytes, miss.bytes);
}

#[tokio::test]
async fn a_render_is_served_in_the_coding_its_hits_will_have() {
    let app = TestApp::spawn(json!({})).await;
    let miss = app.get_with(PAGE, &accept("br")).await;
    assert_eq!(miss.x_cache(), "MISS");
    assert_eq!(miss.header("Content-Encoding"), Some("br"));
    let hit = app.get_with(PAGE, &accept("br")).await;
    assert_eq!(
        (hit.x_cache(), hit.header("ETag")),
        ("HIT", miss.header("ETag"))
    );
    assert_eq!(hit.bytes, miss.bytes);
}

#[tokio::test]
async fn requests_that_waited_for_a_render_get_a_coding_it_was_stored_in() {
    let app = TestApp::spawn(json!({})).await;
    let gate = &app.backend.gate;
    let accept_br = accept("br");
    let leader = app.get_with("/html/gated", &accept_br);
    let followers = async {
        gate.entered().await;
        let accept_gzip = accept("gzip");
        let br = app.get_with("/html/gated", &accept_br);
        let gzip = app.get_with("/html/gated", &accept_gzip);
        let release = async {
            // Long enough for both to join the flight; the assertions below
            // hold whatever the timing.
            tokio::time::sleep(Duration::from_millis(200)).await;
            gate.release(3);
        };
        let (br, gzip, ()) = tokio::join!(br, gzip, release);
        (br, gzip)
    };
    let (leader, (br, gzip)) = tokio::join!(leader, followers);
    assert_eq!(app.backend.renders("/html/gated"), 1, "{br:?} {gzip:?}");
    assert_eq!(leader.header("Content-Encoding"), Some("br"));
    let page = decode(Some("br"), &leader.bytes);
    // The render was stored in br (its leader's coding) and identity.
    for (reply, coding) in [(&br, Some("br")), (&gzip, None)] {
        assert!(reply.cache_status().contains("collapsed"), "{reply:?}");
        assert_eq!(reply.header("Content-Encoding"), coding);
        assert_eq!(decode(coding, &reply.bytes), page);
    }
    let gzip = until_served_in(&app, "/html/gated", "gzip").await;
    assert_eq!(decode(Some("gzip"), &gzip.bytes), page);
    assert_eq!(app.backend.renders("/html/gated"), 1);
}

#[tokio::test]
async fn a_stale_copy_standing_in_for_a_failed_render_is_served_compressed() {
    let rules = json!({ "rules": [{
        "path": "/html/flaky", "ttl": 1, "grace": 0, "stale_if_error": 600
    }] });
    let clock = ManualClock::starting_now();
    let app = TestApp::spawn_with_clock(rules, &clock).await;
    let miss = app.get_with("/html/flaky", &accept("gzip")).await;
    assert_eq!(miss.x_cache(), "MISS", "{miss:?}");
    let miss_bytes = decode(Some("gzip"), &miss.bytes);
    clock.advance(Duration::from_millis(1_100));
    app.backend.set_failing(true);
    let reply = app.get_with("/html/flaky", &accept("gzip")).await;
    assert_eq!((reply.status, reply.x_cache()), (200, "STALE"), "{reply:?}");
    assert_eq!(reply.header("Content-Encoding"), Some("gzip"));
    assert_eq!(decode(Some("gzip"), &reply.bytes), miss_bytes);
}

#[tokio::test]
async fn the_memory_backend_serves_codings_and_revalidations_alike() {
    let (app, miss) = stored_in_every_coding(PAGE, json!({ "backend": "memory" })).await;
    let br = app.get_with(PAGE, &accept("br")).await;
    assert_eq!(br.x_cache(), "HIT", "{br:?}");
    assert_eq!(decode(Some("br"), &br.bytes), miss.bytes);
    let tag = br.header("ETag").expect("an ETag");
    let headers = [("Accept-Encoding", "br"), ("If-None-Match", tag)];
    let reply = app.get_with(PAGE, &headers).await;
    assert_eq!((reply.status, reply.x_cache()), (304, "HIT"), "{reply:?}");
}

crate::on_every_store!(
    a_render_is_stored_in_its_requesters_coding_and_a_coding_asked_for_later_is_added_for_all,
    a_coding_is_never_written_over_a_newer_version_of_the_page,
);

/// The stored value's size, as the store reports it.
fn stored_len(app: &TestApp, path: &str) -> usize {
    let key = app.namespace.page_key(path).expect("stored");
    app.namespace.command(redis::cmd("STRLEN").arg(&key))
}

fn codings(app: &TestApp) -> (u64, u64) {
    let stats = app.cache().stats_snapshot();
    (stats.codings_added, stats.codings_refused)
}

async fn a_render_is_stored_in_its_requesters_coding_and_a_coding_asked_for_later_is_added_for_all(
    shared: Shared,
) {
    let first = shared.app(json!({})).await;
    let other = first.peer(json!({})).await;
    // A client that accepts no coding (a crawler) costs no compression.
    let miss = first.get(PAGE).await;
    assert_eq!(miss.x_cache(), "MISS");
    assert_eq!(
        vary_names(&miss),
        ["accept-encoding"],
        "a coding may be added"
    );
    let identity_only = stored_len(&first, PAGE);
    assert!(
        identity_only < miss.bytes.len() + 1024,
        "{identity_only} bytes stored for a page of {}",
        miss.bytes.len()
    );

    // The first hit asking for br gets what is stored; br is added for all.
    let hit = other.get_with(PAGE, &accept("br")).await;
    assert_eq!(hit.x_cache(), "HIT", "{hit:?}");
    assert_eq!(hit.header("Content-Encoding"), None);
    assert_eq!(hit.bytes, miss.bytes);
    for app in [&other, &first] {
        let br = until_served_in(app, PAGE, "br").await;
        assert_eq!(br.x_cache(), "HIT");
        assert_eq!(decode(Some("br"), &br.bytes), miss.bytes);
    }
    assert!(
        stored_len(&first, PAGE) > identity_only,
        "br is in the store"
    );
    let gzip = until_served_in(&first, PAGE, "gzip").await;
    assert_eq!(decode(Some("gzip"), &gzip.bytes), miss.bytes);
    // Identity is still served as it was rendered, with the same tag.
    let identity = other.get(PAGE).await;
    assert_eq!(identity.bytes, miss.bytes);
    assert_eq!(identity.header("ETag"), miss.header("ETag"));

    assert_eq!(
        first.backend.renders(PAGE),
        1,
        "codings are added, never rendered"
    );
    let (added_first, _) = codings(&first);
    let (added_other, _) = codings(&other);
    assert_eq!(added_first + added_other, 2, "br once, gzip once");
}

async fn a_coding_is_never_written_over_a_newer_version_of_the_page(shared: Shared) {
    let first = shared.app(json!({})).await;
    let other = first.peer(json!({ "near_max_bytes": 0 })).await;
    // Compressing the large page takes long enough that the purge and the new
    // render land first; should the job win the race, the case starts over on
    // a page of its own.
    for attempt in 0..5 {
        let path = format!("/html/large/{attempt}");
        let old = first.get(&path).await;
        assert_eq!(old.x_cache(), "MISS", "{old:?}");
        let (added_before, refused_before) = codings(&other);
        let hit = other.get_with(&path, &accept("br")).await;
        assert_eq!(
            (hit.x_cache(), hit.header("Content-Encoding")),
            ("HIT", None)
        );
        // The job for the old version runs; the page is purged and rendered again.
        first
            .cache()
            .purge_path(&path, false)
            .await
            .expect("purged");
        let new = first.get(&path).await;
        assert_eq!(new.x_cache(), "MISS", "{new:?}");
        assert_ne!(new.bytes, old.bytes, "each render differs");

        let (added, refused) = eventually(Duration::from_secs(30), "the job ends", || async {
            let now = codings(&other);
            (now != (added_before, refused_before)).then_some(now)
        })
        .await;
        if added > added_before {
            continue;
        }
        assert_eq!(refused, refused_before + 1);
        assert_eq!(
            first.get(&path).await.bytes,
            new.bytes,
            "the new version stays"
        );
        let br = until_served_in(&other, &path, "br").await;
        assert_eq!(decode(Some("br"), &br.bytes), new.bytes);
        return;
    }
    panic!("the job finished before the purge every time");
}
