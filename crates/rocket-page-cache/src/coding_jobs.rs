//! Compressing a stored page on its first demand instead of at every store.
//!
//! A render is stored in the one coding its requester prefers (none for a
//! client that accepts none, as crawlers and load generators often are), so a
//! page nobody asks for twice costs no compression it does not use. A hit whose
//! client prefers a coding the entry lacks is served what is stored, and the
//! coding is made in the background and written into the stored entry, but
//! only while the store still holds that same version (a newer render, a purge
//! or a soft purge in the meantime wins). Every instance then serves it.
//!
//! Bounded against a flood of distinct pages: at most [`MAX_RUNNING`] jobs at
//! once (a hit finding them all busy offers nothing; a later hit offers again),
//! and each coding of each version of a key is tried once per process,
//! remembered among at most [`MAX_REMEMBERED`] keys.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::compress::{compress, may_gain_codings};
use super::counters::Stats;
use super::encoding::{negotiate, Coding};
use super::entry::{Entry, Kind};
use super::handle::Cache;

/// Jobs compressing at once, the waiting ones included: each holds its page.
pub const MAX_RUNNING: usize = 32;
/// Keys whose tried version is remembered; past it the memory starts over
/// (a version tried again costs one more compression, nothing else).
pub const MAX_REMEMBERED: usize = 4096;

/// The jobs of one [`Cache`].
#[derive(Default)]
pub struct CodingJobs {
    /// Per key, the version (stored-at, ms) codings were last tried for, and
    /// which.
    tried: Mutex<HashMap<String, (u64, Tried)>>,
    running: AtomicUsize,
}

/// The codings tried for one version of a page.
#[derive(Default, Clone, Copy)]
struct Tried {
    br: bool,
    gzip: bool,
}

impl Tried {
    /// Notes `coding` as tried; false when it was already.
    fn note(&mut self, coding: Coding) -> bool {
        let slot = match coding {
            Coding::Br => &mut self.br,
            Coding::Gzip => &mut self.gzip,
            Coding::Identity => return false,
        };
        !std::mem::replace(slot, true)
    }
}

impl CodingJobs {
    /// Claims a job adding `coding` to this version of `key`: false when that
    /// was tried already or every job slot is busy.
    fn claim(&self, key: &str, version: u64, coding: Coding) -> bool {
        if self.running.load(Ordering::Relaxed) >= MAX_RUNNING {
            return false;
        }
        let mut tried = self
            .tried
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if tried.len() >= MAX_REMEMBERED && !tried.contains_key(key) {
            tried.clear();
        }
        let entry = tried.entry(key.to_owned()).or_default();
        if entry.0 != version {
            *entry = (version, Tried::default());
        }
        if !entry.1.note(coding) {
            return false;
        }
        self.running.fetch_add(1, Ordering::Relaxed);
        true
    }

    fn finished(&self) {
        self.running.fetch_sub(1, Ordering::Relaxed);
    }

    #[cfg(test)]
    fn running(&self) -> usize {
        self.running.load(Ordering::Relaxed)
    }
}

/// Called with a page about to be served from the store or the near cache:
/// when the request prefers a coding the entry lacks, starts the job that adds
/// it. Costs a header scan when there is nothing to do.
pub fn offer<'a>(
    cache: &Cache,
    accept_encoding: impl IntoIterator<Item = &'a str>,
    key: &str,
    entry: &Arc<Entry>,
) {
    if entry.kind != Kind::Page {
        return;
    }
    let wanted = negotiate(accept_encoding, |_| true);
    if wanted == Coding::Identity || entry.body_in(wanted).is_some() {
        return;
    }
    if !may_gain_codings(cache.config(), entry, entry.body.len())
        || !cache.coding_jobs().claim(key, entry.stored_at_ms, wanted)
    {
        return;
    }
    let (cache, key, entry) = (cache.clone(), key.to_owned(), Arc::clone(entry));
    tokio::spawn(async move {
        add_coding(&cache, &key, &entry, wanted).await;
        cache.coding_jobs().finished();
    });
}

/// Compresses `entry` into `coding` and writes it back in place of that same
/// version; the near copies then give way to it.
async fn add_coding(cache: &Cache, key: &str, entry: &Entry, coding: Coding) {
    let Some(encoded) = compress(entry.body.clone(), coding).await else {
        return;
    };
    let mut grown = entry.clone();
    grown.compressed.set(coding, encoded);
    match cache.replace_entry(key, entry, &grown).await {
        Ok(true) => Stats::bump(&cache.stats().codings_added),
        Ok(false) => Stats::bump(&cache.stats().codings_refused),
        // Counted and logged as a store error.
        Err(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_coding_of_each_version_of_a_key_is_tried_once() {
        let jobs = CodingJobs::default();
        assert!(jobs.claim("a", 1, Coding::Br));
        jobs.finished();
        assert!(!jobs.claim("a", 1, Coding::Br), "the same again");
        assert!(jobs.claim("a", 1, Coding::Gzip), "another coding");
        assert!(jobs.claim("a", 2, Coding::Br), "a newer version");
        assert!(jobs.claim("b", 1, Coding::Br), "another key");
        assert!(
            !jobs.claim("c", 1, Coding::Identity),
            "identity is never made"
        );
    }

    #[test]
    fn no_more_than_max_running_at_once() {
        let jobs = CodingJobs::default();
        for i in 0..MAX_RUNNING {
            assert!(jobs.claim(&format!("k{i}"), 1, Coding::Br));
        }
        assert!(!jobs.claim("one-more", 1, Coding::Br));
        jobs.finished();
        assert!(jobs.claim("one-more", 1, Coding::Br));
        assert_eq!(jobs.running(), MAX_RUNNING);
    }

    #[test]
    fn the_memory_of_tried_keys_is_bounded() {
        let jobs = CodingJobs::default();
        for i in 0..MAX_REMEMBERED + 10 {
            assert!(jobs.claim(&format!("k{i}"), 1, Coding::Br));
            jobs.finished();
        }
        let remembered = jobs.tried.lock().unwrap().len();
        assert!(remembered <= MAX_REMEMBERED, "{remembered}");
    }
}
