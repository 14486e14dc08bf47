//! The login throttle's counts in the shared store, so that the fleet gives an
//! attacker one allowance, not one per instance: the engine's tallies (through
//! its `Store`, on one Redis or a Redis Cluster), one per kind of key (client
//! address, username digest, device id), each bounded to [`TRACKED`] members
//! and forgotten after [`FORGET_AFTER`] without failures.
//!
//! Every call errs when the shared store cannot answer (down, slow, or a backend
//! in this process): the throttle then goes by its in-process counts alone.

use std::net::IpAddr;
use std::time::Duration;

use rocket_page_cache::tally::TallyBounds;
use rocket_page_cache::{Cache, CacheUnavailable};

use super::device::DeviceId;
use super::throttle::{lockout, FORGET_AFTER, TRACKED};

/// The tallies' group: one hash tag, so one script counts every kind at once.
const GROUP: &str = "login";

const BOUNDS: TallyBounds = TallyBounds {
    members: TRACKED,
    forget: FORGET_AFTER,
};

/// What one attempt is counted against: `(kind, member)` pairs, as the
/// in-process throttle keys them (the device alone when there is one).
pub struct AttemptKeys(Vec<(&'static str, String)>);

impl AttemptKeys {
    pub fn of(
        address: Option<IpAddr>,
        username_digest: &[u8; 32],
        device: Option<DeviceId>,
    ) -> Self {
        if let Some(id) = device {
            return Self(vec![("device", hex::encode(id))]);
        }
        let mut keys = Vec::with_capacity(2);
        if let Some(ip) = address {
            keys.push(("address", ip.to_string()));
        }
        keys.push(("username", hex::encode(username_digest)));
        Self(keys)
    }

    fn pairs(&self) -> Vec<(&str, &str)> {
        self.0.iter().map(|(kind, m)| (*kind, m.as_str())).collect()
    }
}

/// The longest lockout any of `keys` is under now, fleet-wide.
pub async fn wait(
    cache: &Cache,
    keys: &AttemptKeys,
    allowed: u32,
) -> Result<Option<Duration>, CacheUnavailable> {
    let counts = cache
        .tally_read(GROUP, &keys.pairs(), BOUNDS.forget)
        .await?;
    Ok(counts
        .into_iter()
        .filter_map(|tallied| {
            let count = u32::try_from(tallied.count).unwrap_or(u32::MAX);
            lockout(count, allowed)?.checked_sub(tallied.since_last)
        })
        .filter(|wait| !wait.is_zero())
        .max())
}

/// Counts a failed attempt against each of `keys`, fleet-wide.
pub async fn failed(cache: &Cache, keys: &AttemptKeys) -> Result<(), CacheUnavailable> {
    cache
        .tally_add(GROUP, &keys.pairs(), BOUNDS)
        .await
        .map(drop)
}

/// Clears `keys`' counts after a successful login, fleet-wide.
pub async fn succeeded(cache: &Cache, keys: &AttemptKeys) -> Result<(), CacheUnavailable> {
    cache.tally_forget(GROUP, &keys.pairs()).await
}
