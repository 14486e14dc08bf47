//! Pages and memos filed under what their render read ([`Reads`]), purged by
//! the [`Change`]s that touch it, and the [`Singleton`] lease and state: part of
//! the shared-store suite (one Redis, and a cluster where a page, its tags, the
//! purge sequence and a singleton's keys live in different slots).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rocket_page_cache::{Change, Reads};
use serde_json::json;

use crate::support::shared::Shared;

crate::on_every_store!(
    a_page_is_purged_by_a_change_of_a_row_it_read_and_by_no_other,
    a_membership_change_purges_lists_and_not_single_rows,
    a_render_that_read_a_row_before_its_change_is_not_stored,
    a_memo_is_filed_under_its_reads_and_hands_them_to_the_page,
    one_holder_at_a_time_and_only_the_holder_saves_the_state,
);

fn row(key: &str) -> Change {
    Change::Row {
        table: "thing".to_owned(),
        key: key.to_owned(),
    }
}

async fn a_page_is_purged_by_a_change_of_a_row_it_read_and_by_no_other(store: Shared) {
    let app = store.app(json!({})).await;
    for path in ["/shows/1,2", "/shows/3"] {
        assert_eq!(app.get(path).await.x_cache(), "MISS");
        assert_eq!(app.get(path).await.x_cache(), "HIT");
    }
    let purged = app.cache().purge_changes(&[row("2")], false).await;
    assert_eq!(purged.expect("purge"), 1);
    assert_eq!(app.get("/shows/1,2").await.x_cache(), "MISS");
    assert_eq!(app.get("/shows/3").await.x_cache(), "HIT");
}

async fn a_membership_change_purges_lists_and_not_single_rows(store: Shared) {
    let app = store.app(json!({})).await;
    for path in ["/shows/all,1", "/shows/1"] {
        app.get(path).await;
    }
    let insert = Change::Membership {
        table: "thing".to_owned(),
    };
    app.cache()
        .purge_changes(&[insert], false)
        .await
        .expect("purge");
    assert_eq!(app.get("/shows/all,1").await.x_cache(), "MISS");
    assert_eq!(app.get("/shows/1").await.x_cache(), "HIT");
    let truncate = Change::Table {
        table: "thing".to_owned(),
    };
    app.cache()
        .purge_changes(&[truncate], false)
        .await
        .expect("purge");
    assert_eq!(
        app.get("/shows/1").await.x_cache(),
        "MISS",
        "the whole table went"
    );
}

async fn a_render_that_read_a_row_before_its_change_is_not_stored(store: Shared) {
    let app = store.app(json!({})).await;
    let gate = &app.backend.gate;
    let render = app.get("/shows-gated/9");
    let write = async {
        gate.entered().await; // the render has read row 9 (old data)
        app.cache()
            .purge_changes(&[row("9")], false)
            .await
            .expect("purge");
        gate.release(1);
    };
    let (rendered, ()) = tokio::join!(render, write);
    assert_eq!(rendered.status, 200);

    gate.release(1); // for the next render
    let next = app.get("/shows-gated/9").await;
    assert_eq!(
        next.x_cache(),
        "MISS",
        "the old render was kept out: {next:?}"
    );
}

async fn a_memo_is_filed_under_its_reads_and_hands_them_to_the_page(store: Shared) {
    let app = store.app(json!({})).await;
    let cache = app.cache();
    let computed = AtomicU32::new(0);
    let count = |reads: Reads| {
        let computed = &computed;
        async move {
            reads.membership("thing");
            Ok::<_, String>(computed.fetch_add(1, Ordering::SeqCst) + 1)
        }
    };
    let ttl = Duration::from_mins(1);
    let page = Reads::default();
    let first = cache
        .get_or_compute_recorded("count", ttl, &page, count)
        .await;
    let again = Reads::default();
    let second = cache
        .get_or_compute_recorded("count", ttl, &again, count)
        .await;
    assert_eq!(
        (first, second),
        (Ok(1), Ok(1)),
        "the second came from the store"
    );
    assert_eq!(
        again.snapshot(),
        page.snapshot(),
        "a hit hands over the same reads"
    );
    assert_eq!(
        page.snapshot().tags().unwrap(),
        ["db:thing", "db:thing:rows"]
    );

    let insert = Change::Membership {
        table: "thing".to_owned(),
    };
    cache
        .purge_changes(&[row("1")], false)
        .await
        .expect("purge");
    let unmoved = cache
        .get_or_compute_recorded("count", ttl, &page, count)
        .await;
    assert_eq!(unmoved, Ok(1), "a row change is not a membership change");
    cache.purge_changes(&[insert], false).await.expect("purge");
    let third = cache
        .get_or_compute_recorded("count", ttl, &page, count)
        .await;
    assert_eq!(third, Ok(2));
}

async fn one_holder_at_a_time_and_only_the_holder_saves_the_state(store: Shared) {
    let app = store.app(json!({})).await;
    let follower = app.cache().singleton("follower");
    let ttl = Duration::from_secs(5);
    assert!(follower.hold("a", ttl).await.expect("hold"));
    assert!(!follower.hold("b", ttl).await.expect("hold"), "a holds it");
    assert!(follower.hold("a", ttl).await.expect("renew"));
    assert_eq!(
        follower.holder().await.expect("holder").as_deref(),
        Some("a")
    );

    assert!(follower
        .save_state("a", "file.000001:42")
        .await
        .expect("save"));
    assert!(!follower.save_state("b", "stale").await.expect("save"));
    app.cache().clear_all().await.expect("clear");
    assert_eq!(
        follower.state().await.expect("state").as_deref(),
        Some("file.000001:42"),
        "clearing the pages keeps the singleton"
    );

    follower.release("b").await.expect("release");
    assert_eq!(
        follower.holder().await.expect("holder").as_deref(),
        Some("a")
    );
    follower.release("a").await.expect("release");
    assert!(follower.hold("b", ttl).await.expect("hold"), "free again");
    assert!(!follower.save_state("a", "stale").await.expect("save"));
}
