//! The `none` backend: stores nothing, so every request renders.

use std::time::Duration;

use bytes::Bytes;

use super::{StalePatch, Store, StoreError, TagStamp, Usage};

/// The `none` backend. Leases are always granted: with no shared state there is
/// nothing to coordinate.
pub struct NoStore;

#[rocket::async_trait]
impl Store for NoStore {
    fn name(&self) -> &'static str {
        "none"
    }
    async fn get(&self, _: &str) -> Result<Option<Bytes>, StoreError> {
        Ok(None)
    }
    async fn set(&self, _: &str, _: Bytes, _: Duration) -> Result<(), StoreError> {
        Ok(())
    }
    async fn replace_if_starts_with(
        &self,
        _: &str,
        _: &[u8],
        _: Bytes,
    ) -> Result<bool, StoreError> {
        Ok(false)
    }
    async fn set_tagged(
        &self,
        _: &str,
        _: Bytes,
        _: Duration,
        _: &TagStamp,
    ) -> Result<bool, StoreError> {
        Ok(false)
    }
    async fn purge_sequence(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
    async fn purge_tags(&self, _: &[String], _: Option<&StalePatch>) -> Result<u64, StoreError> {
        Ok(0)
    }
    async fn delete(&self, _: &[String]) -> Result<u64, StoreError> {
        Ok(0)
    }
    async fn clear_prefix(&self, _: &str) -> Result<u64, StoreError> {
        Ok(0)
    }
    async fn usage(&self, _: &str, _: u64) -> Result<Usage, StoreError> {
        Ok(Usage {
            complete: true,
            ..Usage::default()
        })
    }
    async fn try_lease(&self, _: &str, _: &str, _: Duration) -> Result<bool, StoreError> {
        Ok(true)
    }
    async fn release_lease(&self, _: &str, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
    async fn hold_lease(&self, _: &str, _: &str, _: Duration) -> Result<bool, StoreError> {
        Ok(true)
    }
    async fn lease_holder(&self, _: &str) -> Result<Option<String>, StoreError> {
        Ok(None)
    }
    async fn set_as_holder(
        &self,
        _: &str,
        _: &str,
        _: &str,
        _: &str,
        _: Duration,
    ) -> Result<bool, StoreError> {
        Ok(true)
    }
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
