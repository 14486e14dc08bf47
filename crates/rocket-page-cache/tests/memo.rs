//! `Cache::get_or_compute`: values that are not pages (Flask-Caching's
//! `key_prefix` and `memoize`). Part of the shared-store suite.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::json;

use crate::support::shared::Shared;

crate::on_every_store!(
    a_value_is_computed_once_until_its_tag_is_purged,
    an_error_of_compute_is_returned_and_not_cached,
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
