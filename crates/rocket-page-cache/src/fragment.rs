//! Fragments: parts of a page rendered once and kept in the shared store, so
//! that a page which may not be stored as a whole (an admin's, with their name
//! and CSRF token in it) is still assembled from cached parts (Flask-Caching's
//! `{% cache timeout, name, vary... %}`, Django's `{% cache %}`).
//!
//! A fragment is named, varies by what the caller lists (a role, a page
//! number; never a viewer), lives at most its lifetime, and is filed under the
//! tags of what its render read, like a page: a [`Change`](crate::Change) of a
//! row it showed purges it, and a render that read its rows before such a
//! purge is not stored after it. Template engines cannot wait on the store
//! while they render, so an app resolves its fragments first and hands them to
//! the page's template to place.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::counters::Stats;
use super::handle::{Cache, Recorded, RecordedStore};
use super::key;
use super::near::NearRead;
use super::reads::Reads;

impl Cache {
    /// The fragment `name` for `vary`, from the store, or `render`'s (its HTML,
    /// or a few pieces of it the page places apart) kept for `ttl` under the
    /// tags of what `render` recorded into the [`Reads`] it is given. Those
    /// reads are added to `reads` (the page's) on a hit as on a render.
    ///
    /// `vary` lists every input the fragment depends on besides its rows (the
    /// viewer's role, the page of a list); nothing of one viewer (their name, a
    /// CSRF token, a flash message) may go into a fragment, since every viewer
    /// with the same `vary` gets the same one.
    ///
    /// `render` runs on a miss, and every time when the store cannot be used
    /// (failing, its breaker open, `cache.fragments = false`, `backend =
    /// "none"`): a store error is counted and logged, never returned. Errors of
    /// `render` are returned and not stored; a fragment whose encoding is over
    /// `cache.max_body_bytes`, or whose reads cannot be bounded, is returned and
    /// not stored. Concurrent callers on a miss each render.
    ///
    /// A fragment found in the store is also kept, decoded, in this instance's
    /// near cache (when it has one), under the pages' rules: Redis's
    /// invalidation of its key drops it everywhere, a purge made here at once,
    /// and it lives at most `ttl` and `near_max_ttl_ms`. That is why `T` must be
    /// `Clone`: each view gets its own copy.
    pub async fn fragment<T, E, F, Fut>(
        &self,
        name: &str,
        vary: &[(&str, &str)],
        ttl: Duration,
        reads: &Reads,
        render: F,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        F: FnOnce(Reads) -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        let full_key = self.fragment_key(name, vary);
        let storable = RecordedStore {
            ttl,
            max_bytes: Some(self.config().max_body_bytes),
            use_store: self.config().fragments,
        };
        // A fragment found in the store is kept near, decoded, as pages are: a
        // repeated view then costs neither a round trip nor a decode.
        let keeper = match self.near_read::<Recorded<T>>(&full_key, ttl, storable.use_store) {
            NearRead::Kept(kept) => {
                reads.merge(&kept.reads);
                Stats::bump(&self.stats().fragment_hits);
                Stats::bump(&self.stats().fragment_near_hits);
                return Ok(kept.value.clone());
            }
            NearRead::Fetch(keeper) => keeper,
        };
        let keep_near = |found: &Recorded<T>, encoded_bytes: usize| {
            if let Some(keeper) = keeper {
                keeper.keep(found.clone(), encoded_bytes);
            }
        };
        let (value, hit) = self
            .recorded_at(&full_key, storable, reads, render, keep_near)
            .await;
        let counter = if hit {
            &self.stats().fragment_hits
        } else {
            &self.stats().fragment_renders
        };
        Stats::bump(counter);
        value
    }

    /// The store key of the fragment `name` for `vary` (Flask-Caching's
    /// `make_template_fragment_key`), for [`delete_key`](Self::delete_key).
    /// Part of this deploy's keys: a new generation starts without fragments.
    pub fn fragment_key(&self, name: &str, vary: &[(&str, &str)]) -> String {
        key::fragment_key(self.key_base(), name, vary)
    }
}
