//! The users directory apart from HTTP: the rules a record follows, reading
//! users (one or a page of the list) for a render, and writing them with the
//! purge of the cached pages a write changed. The pages and the JSON API in
//! `web` are its two faces.

pub(crate) mod cache_policy;
pub(crate) mod id;
pub(crate) mod invalidation;
pub(crate) mod listing;
pub(crate) mod pagination;
pub(crate) mod reads;
pub(crate) mod render_db;
pub(crate) mod validation;
pub(crate) mod writes;
