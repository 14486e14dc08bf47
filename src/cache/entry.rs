//! The stored envelope of a cached response.

/// Byte offset of the fresh-until stamp (Unix milliseconds as fixed-width ASCII
/// digits), so that a soft purge can rewrite it in place inside Redis.
pub const FRESH_UNTIL_OFFSET: usize = 4;
/// Width of the fresh-until stamp.
pub const FRESH_UNTIL_WIDTH: usize = 13;
