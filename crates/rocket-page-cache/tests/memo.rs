//! `Cache::get_or_compute`: values that are not pages (Flask-Caching's
//! `key_prefix` and `memoize`). Part of the shared-store suite.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rocket_page_cache::Cache;
use serde_json::json;
use test_support::eventually;

use crate::support::shared::Shared;

crate::on_every_store!(
    a_value_is_computed_once_until_its_tag_is_purged,
    an_error_of_compute_is_returned_and_not_cached,
    a_near_memo_is_kept_in_memory_until_a_purge_reaches_each_instance,
);

const TTL: Duration = Duration::from_mins(1);

async fn a_value_is_computed_once_until_its_tag_is_purged(store: Shared) {
    let app = store.app(json!({})).await;
    let cache = app.cache();
    let computed = AtomicU32::new(0);
    let compute = || async {
        let n = computed.fetch_add(1, Ordering::SeqCst) + 1;
        Ok::<_, String>(vec![n, 42])
    };

    let first = cache
        .get_or_compute("answer", TTL, &["numbers"], compute())
        .await;
    let second = cache
        .get_or_compute("answer", TTL, &["numbers"], compute())
        .await;
    assert_eq!(first, Ok(vec![1, 42]));
    assert_eq!(second, first, "the stored value, not a new one");
    assert_eq!(computed.load(Ordering::SeqCst), 1);

    cache
        .purge_tags(&["numbers".to_owned()], false)
        .await
        .expect("purge");
    let third = cache
        .get_or_compute("answer", TTL, &["numbers"], compute())
        .await;
    assert_eq!(third, Ok(vec![2, 42]));
}

async fn an_error_of_compute_is_returned_and_not_cached(store: Shared) {
    let app = store.app(json!({})).await;
    let cache = app.cache();
    let failed: Result<u32, String> = cache
        .get_or_compute("flaky", TTL, &[], async { Err("database down".to_owned()) })
        .await;
    assert_eq!(failed, Err("database down".to_owned()));
    let later: Result<u32, String> = cache
        .get_or_compute("flaky", TTL, &[], async { Ok(7) })
        .await;
    assert_eq!(later, Ok(7), "the error was not remembered");
}

/// The value `near-answer`, filed under `numbers`, through `get_or_compute_near`;
/// each computation counted in `computed`.
async fn near_answer(cache: &Cache, computed: &AtomicU32) -> Result<String, String> {
    cache
        .get_or_compute_near("near-answer", TTL, &["numbers"], async {
            Ok(format!(
                "value {}",
                computed.fetch_add(1, Ordering::SeqCst) + 1
            ))
        })
        .await
}

/// `get_or_compute_near`: a value found in the store is kept near, and dropped
/// there by a purge on any instance.
async fn a_near_memo_is_kept_in_memory_until_a_purge_reaches_each_instance(store: Shared) {
    let app = store.app(json!({})).await;
    let other = app.peer(json!({})).await;
    for instance in [&app, &other] {
        eventually(Duration::from_secs(30), "the near cache serves", || async {
            instance.cache().near_serving().then_some(())
        })
        .await;
    }
    let computed = AtomicU32::new(0);
    assert_eq!(
        near_answer(app.cache(), &computed).await.as_deref(),
        Ok("value 1")
    );
    // The store's invalidation of the new key reaches the other instance's
    // link a moment later, and would drop a copy kept before it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(other.cache().stats_snapshot().near_bytes, 0);
    assert_eq!(
        near_answer(other.cache(), &computed).await.as_deref(),
        Ok("value 1")
    );
    assert!(
        other.cache().stats_snapshot().near_bytes > 0,
        "the value found in the store is kept near"
    );
    assert_eq!(
        near_answer(other.cache(), &computed).await.as_deref(),
        Ok("value 1")
    );
    assert_eq!(computed.load(Ordering::SeqCst), 1);

    app.cache()
        .purge_tags(&["numbers".to_owned()], false)
        .await
        .expect("purge");
    assert_eq!(
        near_answer(app.cache(), &computed).await.as_deref(),
        Ok("value 2")
    );
    eventually(
        Duration::from_secs(5),
        "the other instance drops its near copy",
        || async {
            (near_answer(other.cache(), &computed).await.as_deref() != Ok("value 1")).then_some(())
        },
    )
    .await;
}
