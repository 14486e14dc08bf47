//! Failed logins counted per client address and per username (or, for a browser
//! with a device cookie, per device), with a lockout that doubles with every
//! failure past the allowance.
//!
//! Failures are counted twice: in the shared store for the whole fleet (see
//! `fleet_throttle`: behind a load balancer an attacker gets the allowance once,
//! not once per instance), and in bounded in-process caches (moka) that are what
//! the throttle goes by when the shared store cannot answer. A flood of distinct
//! usernames or addresses evicts the least useful entries of either instead of
//! growing a map, and an entry is forgotten after [`FORGET_AFTER`] without
//! failures. Usernames are kept as SHA-256 digests, so a long one costs no more
//! than a short one. An attempt waits out the longer of the two lockouts.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use moka::sync::Cache;
use rocket_page_cache::Cache as PageCache;
use sha2::{Digest, Sha256};

use super::device::DeviceId;
use super::fleet_throttle::{self, AttemptKeys};

/// Most addresses, and most usernames, tracked at once.
pub(super) const TRACKED: u64 = 10_000;
/// A key with no failure for this long starts afresh.
pub(super) const FORGET_AFTER: Duration = Duration::from_mins(15);
/// The longest lockout.
const MAX_LOCKOUT: Duration = Duration::from_mins(15);

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    locked_until: Option<Instant>,
}

/// The login throttle; one per instance, shared by its requests.
pub struct LoginThrottle {
    by_address: Cache<IpAddr, Failures>,
    by_username: Cache<[u8; 32], Failures>,
    /// Failures of browsers with a device cookie, by the device's id.
    by_device: Cache<DeviceId, Failures>,
    allowed: u32,
}

impl LoginThrottle {
    /// Allows `allowed` failures per key before lockouts start.
    pub fn new(allowed: u32) -> Self {
        Self {
            by_address: bounded_cache(),
            by_username: bounded_cache(),
            by_device: bounded_cache(),
            allowed,
        }
    }

    /// `Err(wait)` while the attempt is locked out: with a device cookie, while
    /// that device is; without one, while the address or the username is. By
    /// the fleet's counts in `shared` and this instance's, whichever locks
    /// longer; by this instance's alone when the shared store cannot answer.
    pub async fn check_shared(
        &self,
        shared: Option<&PageCache>,
        address: Option<IpAddr>,
        username: &str,
        device: Option<DeviceId>,
    ) -> Result<(), Duration> {
        let local = self.check(address, username, device).err();
        let fleet = match shared {
            Some(cache) => {
                let keys = AttemptKeys::of(address, &digest(username), device);
                fleet_throttle::wait(cache, &keys, self.allowed)
                    .await
                    .ok()
                    .flatten()
            }
            None => None,
        };
        local.max(fleet).map_or(Ok(()), Err)
    }

    /// Counts a failed login here and in `shared` (see [`Self::failed`]).
    pub async fn failed_shared(
        &self,
        shared: Option<&PageCache>,
        address: Option<IpAddr>,
        username: &str,
        device: Option<DeviceId>,
    ) {
        self.failed(address, username, device);
        if let Some(cache) = shared {
            let keys = AttemptKeys::of(address, &digest(username), device);
            let _ = fleet_throttle::failed(cache, &keys).await;
        }
    }

    /// Clears the counts here and in `shared` (see [`Self::succeeded`]).
    pub async fn succeeded_shared(
        &self,
        shared: Option<&PageCache>,
        address: Option<IpAddr>,
        username: &str,
        device: Option<DeviceId>,
    ) {
        self.succeeded(address, username, device);
        if let Some(cache) = shared {
            let keys = AttemptKeys::of(address, &digest(username), device);
            let _ = fleet_throttle::succeeded(cache, &keys).await;
        }
    }

    /// As [`Self::check_shared`], by this instance's counts alone.
    pub fn check(
        &self,
        address: Option<IpAddr>,
        username: &str,
        device: Option<DeviceId>,
    ) -> Result<(), Duration> {
        let now = Instant::now();
        let counts = match device {
            Some(id) => [self.by_device.get(&id), None],
            None => [
                address.and_then(|ip| self.by_address.get(&ip)),
                self.by_username.get(&digest(username)),
            ],
        };
        let wait = counts
            .into_iter()
            .flatten()
            .filter_map(|failures| failures.locked_until)
            .filter_map(|until| until.checked_duration_since(now))
            .filter(|wait| !wait.is_zero())
            .max();
        wait.map_or(Ok(()), Err)
    }

    /// Counts a failed login: against the device alone when the attempt came
    /// with a device cookie, else against the address and the username.
    pub fn failed(&self, address: Option<IpAddr>, username: &str, device: Option<DeviceId>) {
        let allowed = self.allowed;
        let bump = |old: Option<Failures>| {
            let count = old.map_or(0, |f| f.count).saturating_add(1);
            Failures {
                count,
                locked_until: lockout(count, allowed).map(|wait| Instant::now() + wait),
            }
        };
        if let Some(id) = device {
            self.by_device
                .entry(id)
                .and_upsert_with(|old| bump(old.map(|e| *e.value())));
            return;
        }
        if let Some(ip) = address {
            self.by_address
                .entry(ip)
                .and_upsert_with(|old| bump(old.map(|e| *e.value())));
        }
        self.by_username
            .entry(digest(username))
            .and_upsert_with(|old| bump(old.map(|e| *e.value())));
    }

    /// A successful login clears the counts it was checked against: the
    /// device's, or the address's and the username's.
    pub fn succeeded(&self, address: Option<IpAddr>, username: &str, device: Option<DeviceId>) {
        if let Some(id) = device {
            self.by_device.invalidate(&id);
            return;
        }
        if let Some(ip) = address {
            self.by_address.invalidate(&ip);
        }
        self.by_username.invalidate(&digest(username));
    }
}

fn bounded_cache<K>() -> Cache<K, Failures>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
{
    Cache::builder()
        .max_capacity(TRACKED)
        .time_to_idle(FORGET_AFTER)
        .build()
}

/// The lockout after the `count`th failure: none within the allowance, then 1 s,
/// doubling, at most [`MAX_LOCKOUT`].
pub(super) fn lockout(count: u32, allowed: u32) -> Option<Duration> {
    let past = count.checked_sub(allowed).filter(|past| *past > 0)?;
    let secs = 1_u64.checked_shl(past - 1).unwrap_or(u64::MAX);
    Some(Duration::from_secs(secs).min(MAX_LOCKOUT))
}

fn digest(username: &str) -> [u8; 32] {
    Sha256::digest(username.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockouts_start_past_the_allowance_and_double_up_to_the_cap() {
        assert_eq!(lockout(0, 3), None);
        assert_eq!(lockout(3, 3), None);
        assert_eq!(lockout(4, 3), Some(Duration::from_secs(1)));
        assert_eq!(lockout(5, 3), Some(Duration::from_secs(2)));
        assert_eq!(lockout(8, 3), Some(Duration::from_secs(16)));
        assert_eq!(lockout(40, 3), Some(MAX_LOCKOUT));
        assert_eq!(lockout(u32::MAX, 3), Some(MAX_LOCKOUT));
    }

    #[test]
    fn address_and_username_are_locked_apart_and_cleared_by_success() {
        let throttle = LoginThrottle::new(1);
        let ip: IpAddr = [192, 0, 2, 1].into();
        let other: IpAddr = [192, 0, 2, 2].into();
        throttle.failed(Some(ip), "a", None);
        assert!(
            throttle.check(Some(ip), "a", None).is_ok(),
            "within the allowance"
        );
        throttle.failed(Some(ip), "b", None);
        assert!(
            throttle.check(Some(ip), "c", None).is_err(),
            "the address is locked"
        );
        assert!(throttle.check(Some(other), "c", None).is_ok());
        throttle.failed(Some(other), "b", None);
        assert!(
            throttle.check(None, "b", None).is_err(),
            "the username is locked"
        );
        throttle.succeeded(Some(ip), "b", None);
        assert!(throttle.check(Some(ip), "b", None).is_ok());
    }

    #[test]
    fn a_device_is_locked_by_its_own_failures_only() {
        let throttle = LoginThrottle::new(1);
        let ip: IpAddr = [192, 0, 2, 1].into();
        let (mine, yours) = ([1; 16], [2; 16]);
        for _ in 0..3 {
            throttle.failed(Some(ip), "admin", None);
        }
        assert!(throttle.check(Some(ip), "admin", None).is_err());
        assert!(
            throttle.check(Some(ip), "admin", Some(mine)).is_ok(),
            "strangers do not lock a device out"
        );
        throttle.failed(Some(ip), "admin", Some(mine));
        throttle.failed(Some(ip), "admin", Some(mine));
        assert!(throttle.check(None, "admin", Some(mine)).is_err());
        assert!(throttle.check(None, "admin", Some(yours)).is_ok());
        throttle.succeeded(None, "admin", Some(yours));
        assert!(
            throttle.check(Some(ip), "admin", None).is_err(),
            "a device's success leaves the strangers' lock"
        );
    }

    #[test]
    fn a_flood_of_usernames_stays_bounded() {
        let throttle = LoginThrottle::new(0);
        for i in 0..30_000_u32 {
            throttle.failed(None, &format!("user-{i}"), None);
            let mut id = [0; 16];
            id[..4].copy_from_slice(&i.to_le_bytes());
            throttle.failed(None, "admin", Some(id));
        }
        throttle.by_username.run_pending_tasks();
        throttle.by_device.run_pending_tasks();
        assert!(throttle.by_username.entry_count() <= TRACKED);
        assert!(throttle.by_device.entry_count() <= TRACKED);
    }
}
