//! What the engine counts for the whole fleet in the shared store, on one Redis,
//! a Redis Cluster and the master Redis Sentinel names alike: tallies (per member, bounded, forgotten after
//! a quiet time: the login throttle's) and the list of hot pages (a bounded
//! top list, sampled from the pages served: the warm start's).

use std::time::Duration;

use rocket_page_cache::tally::{Tallied, TallyBounds};
use serde_json::json;
use test_support::eventually;

use crate::support::shared::Shared;

crate::on_every_store!(
    a_tally_counts_every_instance_s_events_until_forgotten,
    a_tally_keeps_at_most_its_bound_of_members,
    the_hot_list_keeps_the_most_visited_within_its_bound,
    pages_served_are_counted_into_the_hot_list,
);

const BOUNDS: TallyBounds = TallyBounds {
    members: 100,
    forget: Duration::from_mins(1),
};

fn counts(read: &[Tallied]) -> Vec<u64> {
    read.iter().map(|t| t.count).collect()
}

async fn a_tally_counts_every_instance_s_events_until_forgotten(shared: Shared) {
    let one = shared.app(json!({})).await;
    let two = one.peer(json!({})).await;
    let members = [("address", "192.0.2.1"), ("username", "admin")];
    let (a, b) = (one.cache(), two.cache());
    assert_eq!(
        a.tally_add("login", &members, BOUNDS).await.unwrap(),
        [1, 1]
    );
    assert_eq!(
        b.tally_add("login", &members[..1], BOUNDS).await.unwrap(),
        [2]
    );
    let read = b
        .tally_read("login", &members, BOUNDS.forget)
        .await
        .unwrap();
    assert_eq!(
        counts(&read),
        [2, 1],
        "each instance sees the other's events"
    );
    assert!(read[0].since_last < Duration::from_secs(5), "{read:?}");
    let other = [("address", "192.0.2.2")];
    assert_eq!(
        counts(&a.tally_read("login", &other, BOUNDS.forget).await.unwrap()),
        [0]
    );

    a.tally_forget("login", &members[..1]).await.unwrap();
    let read = b
        .tally_read("login", &members, BOUNDS.forget)
        .await
        .unwrap();
    assert_eq!(counts(&read), [0, 1], "forgotten by one, for all");

    let quick = Duration::from_millis(300);
    eventually(
        Duration::from_secs(5),
        "a quiet member is forgotten",
        || async {
            let read = a.tally_read("login", &members, quick).await.ok()?;
            (counts(&read) == [0, 0]).then_some(())
        },
    )
    .await;
    let bounds = TallyBounds {
        forget: quick,
        ..BOUNDS
    };
    assert_eq!(
        a.tally_add("login", &members[1..], bounds).await.unwrap(),
        [1],
        "counting starts again after a quiet time"
    );
}

async fn a_tally_keeps_at_most_its_bound_of_members(shared: Shared) {
    let app = shared.app(json!({})).await;
    let cache = app.cache();
    let bounds = TallyBounds {
        members: 3,
        ..BOUNDS
    };
    let names: Vec<String> = (0..10).map(|i| format!("user-{i}")).collect();
    for name in &names {
        cache
            .tally_add("login", &[("username", name)], bounds)
            .await
            .unwrap();
    }
    let all: Vec<(&str, &str)> = names.iter().map(|n| ("username", n.as_str())).collect();
    let read = cache
        .tally_read("login", &all, BOUNDS.forget)
        .await
        .unwrap();
    assert_eq!(
        counts(&read),
        [0, 0, 0, 0, 0, 0, 0, 1, 1, 1],
        "the least recently counted went"
    );
}

async fn the_hot_list_keeps_the_most_visited_within_its_bound(shared: Shared) {
    // Two listed, four candidates kept.
    let app = shared.app(json!({ "warm": { "max_pages": 2 } })).await;
    let cache = app.cache();
    for (page, visits) in [
        ("localhost:/a", 50),
        ("localhost:/b", 30),
        ("localhost:/c", 20),
    ] {
        cache.count_hot(page, visits).await.unwrap();
    }
    for i in 0..20 {
        cache
            .count_hot(&format!("localhost:/once/{i}"), 1)
            .await
            .unwrap();
    }
    let listed = cache.hot_pages(100).await.unwrap();
    assert!(listed.len() <= 4, "bounded: {listed:?}");
    assert_eq!(
        cache.hot_pages(2).await.unwrap(),
        ["localhost:/a", "localhost:/b"]
    );
    // A page that becomes the most visited gets in, whatever came before it.
    for _ in 0..3 {
        cache.count_hot("localhost:/new", 40).await.unwrap();
    }
    assert_eq!(cache.hot_pages(1).await.unwrap(), ["localhost:/new"]);
}

async fn pages_served_are_counted_into_the_hot_list(shared: Shared) {
    let app = shared
        .app(json!({ "warm": { "max_pages": 10, "sample_every": 1 } }))
        .await;
    for _ in 0..3 {
        assert_eq!(app.get("/plain/hot").await.status, 200);
    }
    app.get("/plain/warm").await;
    app.get("/status/404").await;
    app.get_with("/vary", &[("Accept-Language", "fr")]).await;
    let listed = eventually(Duration::from_secs(5), "the counts land", || async {
        let listed = app.cache().hot_pages(10).await.ok()?;
        (listed.len() >= 2).then_some(listed)
    })
    .await;
    assert_eq!(listed, ["localhost:/plain/hot", "localhost:/plain/warm"]);
}
