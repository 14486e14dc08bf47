//! Single flight: a burst on a cold key renders once, in one process and across
//! instances sharing Redis (the lease); a lease whose holder hangs frees the key
//! when it runs out, not before.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::json;
use test_support::OwnRedis;

use crate::support::app::{Reply, TestApp};
use crate::support::shared::Shared;
use crate::support::Namespace;

// The lease tests of the shared-store suite (the 300-request burst over two
// instances is in `cluster`).
crate::on_every_store!(
    a_burst_on_a_cold_key_over_two_instances_renders_once,
    a_render_that_hangs_past_the_lease_frees_the_key_when_the_lease_runs_out,
);

/// Requests per burst.
const BURST: usize = 8;

/// How long the first render is held so that the rest of a burst arrives while
/// it runs. The assertions hold whatever the timing; the window only gives a
/// broken single flight the chance to show.
const ARRIVAL_WINDOW: Duration = Duration::from_millis(300);

/// Sends `BURST` requests for `path` spread over `apps`, holding the first
/// render at the gate for the arrival window.
async fn burst(apps: &[&TestApp], path: &str) -> Vec<Reply> {
    let gate = &apps[0].backend.gate;
    let requests = (0..BURST).map(|i| apps[i % apps.len()].get(path));
    let hold = async {
        gate.entered().await;
        tokio::time::sleep(ARRIVAL_WINDOW).await;
        // Enough for every request, so a broken single flight fails, not hangs.
        gate.release(BURST);
    };
    let (replies, ()) = tokio::join!(join_all(requests), hold);
    replies
}

fn assert_one_page(replies: &[Reply]) {
    let first = &replies[0].body;
    for reply in replies {
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(&reply.body, first, "everyone got the one render");
    }
}

#[tokio::test]
async fn a_burst_on_a_cold_key_renders_once() {
    let app = TestApp::spawn(json!({})).await;
    let replies = burst(&[&app], "/gated/cold").await;
    assert_one_page(&replies);
    assert_eq!(app.backend.renders("/gated/cold"), 1);
    let collapsed = replies
        .iter()
        .filter(|r| r.cache_status().contains("collapsed"))
        .count();
    assert!(
        collapsed >= 1,
        "some requests waited for the render: {replies:?}"
    );
}

/// With no store to hold a lease, only the in-process flight keeps a burst to
/// one render: this isolates it (with Redis up, the lease would hide its absence).
#[tokio::test]
async fn with_redis_gone_a_burst_still_renders_once_per_instance() {
    let mut redis = OwnRedis::start().await;
    let namespace = Namespace::throwaway(&redis.url);
    let app = TestApp::start_on(&redis.url, &namespace, &Arc::default(), json!({})).await;
    redis.kill();
    let replies = burst(&[&app], "/gated/down").await;
    assert_one_page(&replies);
    assert_eq!(app.backend.renders("/gated/down"), 1);
}

async fn a_burst_on_a_cold_key_over_two_instances_renders_once(store: Shared) {
    let first = store.app(json!({})).await;
    let second = first.peer(json!({})).await;
    let replies = burst(&[&first, &second], "/gated/cold2").await;
    assert_one_page(&replies);
    assert_eq!(
        first.backend.renders("/gated/cold2"),
        1,
        "one render in the cluster"
    );
}

async fn a_render_that_hangs_past_the_lease_frees_the_key_when_the_lease_runs_out(store: Shared) {
    const LEASE_MS: u64 = 600;
    // A waiter gives up and renders at lock_timeout_ms: well past the lease and
    // the bound below, and within the gate's 10 s, so a lease that never runs
    // out fails the bound rather than the gate.
    let config = json!({ "lease_ms": LEASE_MS, "lock_timeout_ms": 8_000 });
    let holder = store.app(config.clone()).await;
    let other = holder.peer(config).await;
    let gate = &holder.backend.gate;

    let sent = Instant::now();
    let hung = holder.get("/gated/hung");
    let meanwhile = async {
        gate.entered().await; // the holder has the lease and hangs in its render
        let waiter = other.get("/gated/hung");
        let watch = async {
            gate.entered().await; // the other instance renders
            gate.release(2);
        };
        tokio::join!(waiter, watch).0
    };
    let (held, waited) = tokio::join!(hung, meanwhile);
    assert_eq!((held.status, waited.status), (200, 200));

    let times = holder.backend.render_times("/gated/hung");
    assert_eq!(times.len(), 2, "each instance rendered once");
    let second_render = times[1] - sent;
    assert!(
        second_render >= Duration::from_millis(LEASE_MS),
        "the other instance rendered after {second_render:?}, before the lease ran out"
    );
    assert!(
        second_render < Duration::from_millis(LEASE_MS) + Duration::from_secs(5),
        "the other instance rendered only after {second_render:?}: it waited past the lease"
    );
}
