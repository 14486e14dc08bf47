//! What a render read, so that the page is filed under exactly that: the rows it
//! showed and the tables whose membership it depended on (a list, a count).
//!
//! The app's data layer records into [`Reads`] while a page renders: a request
//! guard hands each request its own recorder (kept in the request's local
//! cache, so concurrent renders never mix), and the engine reads it back when it
//! stores the page. Writes purge the same vocabulary with [`Change`]s, whoever
//! made them (the app after its commit, or a follower of the database's log),
//! so a page is purged when, and only when, something it showed changed.
//!
//! Tags, for a table `t` (`:` and `%` in names are percent-encoded):
//! - `db:t` on every entry that read `t`; purged by [`Change::Table`]
//!   (TRUNCATE, ALTER, anything that cannot be mapped to rows);
//! - `db:t:row:<key>` per row read; purged by [`Change::Row`];
//! - `db:t:rows` when the answer depends on which rows exist; purged by
//!   [`Change::Membership`] (an insert or a delete);
//! - `db:t:any` instead of the row tags when a render read more rows than
//!   `cache.max_tags_per_entry`: purged by every row or membership change of `t`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rocket::request::{FromRequest, Outcome};
use rocket::Request;
use serde::{Deserialize, Serialize};

use super::handle::Cache;

/// Most tables one render may read and still be stored: a render that reads
/// more cannot be tagged within bounds, so it is served and not stored.
pub const MAX_TABLES: usize = 32;

/// Rows recorded per entry when no [`Cache`] is managed to say otherwise.
const DEFAULT_MAX_ROWS: usize = 256;

/// What one table contributed to a render.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct TableReads {
    /// Primary keys of the rows read, as written by the app.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    rows: BTreeSet<String>,
    /// The answer depends on which rows exist.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    membership: bool,
    /// More rows than allowed were read: any change of the table purges it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    any_row: bool,
}

/// A bounded record of reads, plain data: what a memoised value keeps beside
/// itself so that the pages that use it inherit its tags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadSet {
    #[serde(default)]
    tables: BTreeMap<String, TableReads>,
    /// More than [`MAX_TABLES`] tables were read.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    untaggable: bool,
}

impl ReadSet {
    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty() && !self.untaggable
    }

    /// The tags an entry made from these reads is filed under; `None` when they
    /// cannot be bounded (too many tables), and the entry must not be stored.
    pub fn tags(&self) -> Option<Vec<String>> {
        if self.untaggable {
            return None;
        }
        let mut tags = Vec::new();
        for (table, reads) in &self.tables {
            let table = escape(table);
            tags.push(format!("db:{table}"));
            if reads.any_row {
                tags.push(format!("db:{table}:any"));
            } else {
                tags.extend(reads.rows.iter().map(|key| row_tag(&table, key)));
            }
            if reads.membership {
                tags.push(format!("db:{table}:rows"));
            }
        }
        Some(tags)
    }

    fn table(&mut self, table: &str) -> Option<&mut TableReads> {
        if !self.tables.contains_key(table) && self.tables.len() >= MAX_TABLES {
            self.untaggable = true;
            return None;
        }
        Some(self.tables.entry(table.to_owned()).or_default())
    }

    fn add_row(&mut self, table: &str, key: String, max_rows: usize) {
        let rows_elsewhere: usize = self
            .tables
            .iter()
            .filter(|(name, _)| name.as_str() != table)
            .map(|(_, reads)| reads.rows.len())
            .sum();
        let Some(reads) = self.table(table) else {
            return;
        };
        if reads.any_row {
            return;
        }
        reads.rows.insert(key);
        if reads.rows.len() + rows_elsewhere > max_rows {
            reads.rows.clear();
            reads.any_row = true;
        }
    }

    fn merge(&mut self, other: &ReadSet, max_rows: usize) {
        self.untaggable |= other.untaggable;
        for (table, theirs) in &other.tables {
            if theirs.membership {
                if let Some(reads) = self.table(table) {
                    reads.membership = true;
                }
            }
            if theirs.any_row {
                if let Some(reads) = self.table(table) {
                    reads.rows.clear();
                    reads.any_row = true;
                }
            }
            for key in &theirs.rows {
                self.add_row(table, key.clone(), max_rows);
            }
            if theirs.rows.is_empty() && !theirs.membership && !theirs.any_row {
                self.table(table);
            }
        }
    }
}

/// A request's (or a memoised computation's) recorder of reads. Clones share
/// one record; every method takes `&self` and may be called from any task.
///
/// As a request guard it yields the request's own recorder, the one the engine
/// reads when it stores the page.
#[derive(Debug, Clone)]
pub struct Reads {
    record: Arc<Mutex<ReadSet>>,
    max_rows: usize,
}

impl Default for Reads {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_ROWS)
    }
}

impl Reads {
    /// An empty recorder that keeps at most `max_rows` row keys in all; past
    /// that, a table's rows collapse into its `any` tag.
    pub fn new(max_rows: usize) -> Self {
        Self {
            record: Arc::new(Mutex::new(ReadSet::default())),
            max_rows,
        }
    }

    /// The recorder of this request (made on first use).
    pub fn of(request: &Request<'_>) -> Self {
        request
            .local_cache(|| {
                let max_rows = request
                    .rocket()
                    .state::<Cache>()
                    .map_or(DEFAULT_MAX_ROWS, |cache| cache.config().max_tags_per_entry);
                Reads::new(max_rows)
            })
            .clone()
    }

    fn lock(&self) -> MutexGuard<'_, ReadSet> {
        // The record is plain data: one left by a panic is still usable.
        self.record.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records that the row of `table` with primary key `key` was read (or
    /// looked for: a page saying "no such user" depends on the row too).
    pub fn row(&self, table: &str, key: impl Display) {
        self.lock().add_row(table, key.to_string(), self.max_rows);
    }

    /// Records that the answer depends on which rows `table` holds.
    pub fn membership(&self, table: &str) {
        if let Some(reads) = self.lock().table(table) {
            reads.membership = true;
        }
    }

    /// Adds what another recorder saw (a memoised value's reads, say).
    pub fn merge(&self, other: &ReadSet) {
        self.lock().merge(other, self.max_rows);
    }

    /// What was recorded so far.
    pub fn snapshot(&self) -> ReadSet {
        self.lock().clone()
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Reads {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        Outcome::Success(Reads::of(request))
    }
}

/// A committed change, in the vocabulary of [`Reads`]: what a write purges.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Change {
    /// The row of `table` with this primary key was inserted, updated or deleted.
    Row { table: String, key: String },
    /// Rows of `table` came or went (an insert, a delete, a key that changed).
    Membership { table: String },
    /// Anything else that touched `table` (TRUNCATE, ALTER, an unmapped event).
    Table { table: String },
}

impl Change {
    /// The tags this change purges.
    pub fn tags(&self) -> Vec<String> {
        match self {
            Self::Row { table, key } => {
                let table = escape(table);
                vec![row_tag(&table, key), format!("db:{table}:any")]
            }
            Self::Membership { table } => {
                let table = escape(table);
                vec![format!("db:{table}:rows"), format!("db:{table}:any")]
            }
            Self::Table { table } => vec![format!("db:{}", escape(table))],
        }
    }
}

/// The tags a set of changes purges, each once.
pub fn tags_of(changes: &[Change]) -> Vec<String> {
    let tags: BTreeSet<String> = changes.iter().flat_map(Change::tags).collect();
    tags.into_iter().collect()
}

fn row_tag(escaped_table: &str, key: &str) -> String {
    format!("db:{escaped_table}:row:{}", escape(key))
}

/// `:` and `%` percent-encoded, so that no table or key can pose as another tag.
fn escape(name: &str) -> std::borrow::Cow<'_, str> {
    if name.contains([':', '%']) {
        name.replace('%', "%25").replace(':', "%3A").into()
    } else {
        name.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_tagged_by_its_rows_its_membership_and_its_table() {
        let reads = Reads::new(10);
        reads.row("user", 7);
        reads.row("user", 8);
        reads.membership("user");
        assert_eq!(
            reads.snapshot().tags().unwrap(),
            ["db:user", "db:user:row:7", "db:user:row:8", "db:user:rows"]
        );
    }

    #[test]
    fn an_update_purges_the_row_and_the_tables_overflowed_pages_only() {
        let update = Change::Row {
            table: "user".into(),
            key: "7".into(),
        };
        assert_eq!(update.tags(), ["db:user:row:7", "db:user:any"]);
    }

    #[test]
    fn too_many_rows_collapse_into_the_tables_any_tag() {
        let reads = Reads::new(3);
        for id in 0..5 {
            reads.row("user", id);
        }
        assert_eq!(reads.snapshot().tags().unwrap(), ["db:user", "db:user:any"]);
        // The bound counts every table's rows together.
        let reads = Reads::new(3);
        reads.row("a", 1);
        reads.row("a", 2);
        reads.row("b", 1);
        reads.row("b", 2);
        assert_eq!(
            reads.snapshot().tags().unwrap(),
            ["db:a", "db:a:row:1", "db:a:row:2", "db:b", "db:b:any"]
        );
    }

    #[test]
    fn too_many_tables_make_a_render_untaggable() {
        let reads = Reads::new(1000);
        for table in 0..=MAX_TABLES {
            reads.membership(&format!("t{table}"));
        }
        assert_eq!(reads.snapshot().tags(), None);
    }

    #[test]
    fn names_cannot_pose_as_other_tags() {
        let reads = Reads::new(10);
        reads.row("user:row", "1");
        reads.row("user", "row:1");
        let tags = reads.snapshot().tags().unwrap();
        assert!(tags.contains(&"db:user%3Arow:row:1".to_owned()), "{tags:?}");
        assert!(tags.contains(&"db:user:row:row%3A1".to_owned()), "{tags:?}");
    }

    #[test]
    fn a_merged_memo_brings_its_tags_and_survives_a_round_trip() {
        let memo = Reads::new(10);
        memo.membership("user");
        let stored: ReadSet =
            serde_json::from_slice(&serde_json::to_vec(&memo.snapshot()).unwrap()).unwrap();
        let page = Reads::new(10);
        page.row("user", 1);
        page.merge(&stored);
        assert_eq!(
            page.snapshot().tags().unwrap(),
            ["db:user", "db:user:row:1", "db:user:rows"]
        );
    }
}
