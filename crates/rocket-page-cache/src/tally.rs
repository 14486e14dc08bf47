//! Tallies: counts of events per member (a client address, a username), kept in
//! the shared store so that every instance counts for the whole fleet, bounded
//! and forgotten after a quiet time. What an app's login throttle counts with.
//!
//! Keys: `<namespace>:tally:{<group>}:<scope>:counts` (a hash of counts by
//! member) and `...:<scope>:last` (the members by the time of their last event,
//! on the store's clock). Every key of a group shares the hash tag `{<group>}`,
//! so one script counts an event for several scopes at once on a Redis Cluster
//! too. A scope holds at most `members` members, least recently counted dropped
//! first, and its keys expire `forget` after its last event.

use std::time::Duration;

use super::handle::{Cache, CacheUnavailable};
pub use super::store::Tallied;
use super::store::TallyMember;

/// How much a tally keeps.
#[derive(Debug, Clone, Copy)]
pub struct TallyBounds {
    /// Most members each scope keeps.
    pub members: u64,
    /// A member without events for this long starts again from 0.
    pub forget: Duration,
}

/// A group or scope name as it goes into a key: braces (Redis Cluster's hash
/// tag marks) and `:` are replaced, so the engine alone chooses the hash tag.
fn key_part(name: &str) -> String {
    name.chars()
        .map(|c| if matches!(c, '{' | '}' | ':') { '_' } else { c })
        .collect()
}

impl Cache {
    /// The (counts, last) keys of each `(scope, member)` of `group`.
    fn tally_keys(&self, group: &str, members: &[(&str, &str)]) -> Vec<(String, String)> {
        let group = key_part(group);
        members
            .iter()
            .map(|(scope, _)| {
                let base = format!(
                    "{}tally:{{{group}}}:{}:",
                    self.namespace_prefix(),
                    key_part(scope)
                );
                (format!("{base}counts"), format!("{base}last"))
            })
            .collect()
    }

    /// The breaker the tally's keys fall under, when the store may be asked:
    /// a store that is not shared, or is skipped, is not.
    fn tally_breaker(
        &self,
        keys: &[(String, String)],
    ) -> Result<&super::breaker::Breaker, CacheUnavailable> {
        self.shared_store()?;
        let first = keys.first().map_or("", |(counts, _)| counts.as_str());
        let breaker = self.breaker_for(first);
        if breaker.allows() {
            Ok(breaker)
        } else {
            Err(CacheUnavailable::Skipped)
        }
    }

    /// Counts one event for each `(scope, member)` of `group`, in one atomic
    /// step, and returns each member's count since it was last quiet for
    /// `bounds.forget`. Errs without a shared store
    /// ([`CacheUnavailable::NotShared`]) or when the store does not answer
    /// within `op_timeout_ms` (counted and logged like any cache failure), so
    /// that the caller counts in its own process instead.
    pub async fn tally_add(
        &self,
        group: &str,
        members: &[(&str, &str)],
        bounds: TallyBounds,
    ) -> Result<Vec<u64>, CacheUnavailable> {
        let keys = self.tally_keys(group, members);
        let breaker = self.tally_breaker(&keys)?;
        let tally = tally_members(&keys, members);
        let add = self
            .store()
            .tally_add(&tally, bounds.members, bounds.forget);
        self.guarded(breaker, "tally", add).await
    }

    /// Each `(scope, member)`'s count and how long ago its last event was
    /// (zero for a member never counted or quiet for `forget`); errs as
    /// [`tally_add`](Self::tally_add) does.
    pub async fn tally_read(
        &self,
        group: &str,
        members: &[(&str, &str)],
        forget: Duration,
    ) -> Result<Vec<Tallied>, CacheUnavailable> {
        let keys = self.tally_keys(group, members);
        let breaker = self.tally_breaker(&keys)?;
        let tally = tally_members(&keys, members);
        let read = self.store().tally_read(&tally, forget);
        self.guarded(breaker, "tally read", read).await
    }

    /// Forgets the counts of each `(scope, member)`; errs as
    /// [`tally_add`](Self::tally_add) does.
    pub async fn tally_forget(
        &self,
        group: &str,
        members: &[(&str, &str)],
    ) -> Result<(), CacheUnavailable> {
        let keys = self.tally_keys(group, members);
        let breaker = self.tally_breaker(&keys)?;
        let tally = tally_members(&keys, members);
        let forget = self.store().tally_forget(&tally);
        self.guarded(breaker, "tally forget", forget).await
    }
}

/// The store's view of `members`, with their keys.
fn tally_members<'a>(
    keys: &'a [(String, String)],
    members: &'a [(&'a str, &'a str)],
) -> Vec<TallyMember<'a>> {
    keys.iter()
        .zip(members)
        .map(|((counts, last), (_, member))| TallyMember {
            counts,
            last,
            member,
        })
        .collect()
}
