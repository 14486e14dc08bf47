//! What a query read, told to whoever records it (the page cache, through the
//! web layer), so that a cached page is purged exactly when a row it showed, or
//! the set of rows it listed, changes.
//!
//! `db/` knows nothing of the cache: its queries take a `&dyn RecordReads` and
//! say what they read in the words of this module (a row by its primary key, the
//! membership of a table); the web layer implements the trait for the cache's
//! per-request recorder. Each query kind records through one helper here, so a
//! new query of that kind records without anyone writing a tag.

use std::fmt::Display;

/// A row type read from one table, identified by its primary key.
pub trait TableRow {
    /// The table's name in the database, as the binary log names it.
    const TABLE: &'static str;
    /// The row's primary key, as written in the log (and in tags).
    fn primary_key(&self) -> String;
}

/// Where queries report what they read. Implementations must be cheap: this is
/// called for each row of a page.
pub trait RecordReads: Send + Sync {
    /// The row of `table` whose primary key is `key` was read or looked for.
    fn row(&self, table: &str, key: &dyn Display);
    /// The answer depends on which rows `table` holds (a list, a count).
    fn membership(&self, table: &str);
}

/// For queries whose answer is never cached (a write's own checks, admin views).
#[derive(Debug, Clone, Copy)]
pub struct Unrecorded;

impl RecordReads for Unrecorded {
    fn row(&self, _: &str, _: &dyn Display) {}
    fn membership(&self, _: &str) {}
}

/// A lookup by primary key: the page depends on that row, found or not (a
/// "no such user" page must go when the user is created).
pub fn looked_up<T: TableRow>(reads: &dyn RecordReads, key: &dyn Display) {
    reads.row(T::TABLE, key);
}

/// A list: the page depends on each row it shows and on which rows exist.
pub fn listed<T: TableRow>(reads: &dyn RecordReads, rows: &[T]) {
    reads.membership(T::TABLE);
    for row in rows {
        reads.row(T::TABLE, &row.primary_key());
    }
}

/// An aggregate over the table (a count): it depends on which rows exist.
pub fn counted<T: TableRow>(reads: &dyn RecordReads) {
    reads.membership(T::TABLE);
}
