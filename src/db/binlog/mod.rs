//! Reads the server's row-based binlog as a replica would, and yields each
//! committed transaction as the rows it changed in the followed tables.
//!
//! The binlog follower builds on this; this module knows nothing of the cache.
//!
//! ```text
//! probe(url) -> ServerBinlog            what the server offers (settings, privileges)
//! BinlogReader::connect(url, server_id, database, TableFilter, Option<BinlogPosition>)
//! reader.next().await -> CommittedTransaction { changes: Vec<TableChange>, end, committed_at_unix }
//! reader.position()   -> &BinlogPosition   where a new reader would go on (between transactions)
//! ```
//!
//! - **Transactions.** Row events are gathered until the transaction's `XID` event
//!   (InnoDB) or its `COMMIT` query (non-transactional tables); a DDL statement is a
//!   transaction of its own. A transaction that touched no followed table is read
//!   and passed over. `end` is the position right after the commit: a reader
//!   connected there yields the next transaction, nothing twice, nothing skipped.
//!   Rolled-back InnoDB work never reaches the binlog; a `ROLLBACK` that does
//!   (non-transactional tables, whose changes stay) is yielded like a commit. An
//!   `XA PREPARE`d transaction is held until its `XA COMMIT` (and dropped at
//!   `XA ROLLBACK`); an `XA COMMIT` whose prepare this reader did not see gives
//!   every followed table whole.
//! - **Keys.** [`TableChange::Rows`] gives the primary keys from the before and the
//!   after images as text (composite keys joined with [`KEY_SEPARATOR`], in the
//!   key's column order; dates as `YYYY-MM-DD[ hh:mm:ss[.ffffff]]`, binary
//!   strings as `0x` and lower-case hex, unsigned integers unsigned), and whether
//!   the set of rows changed (an insert, a delete, or an update of the key).
//!   Primary key columns come from `information_schema`, read when a table is
//!   first met and again after DDL naming it. `binlog_row_image=MINIMAL` is
//!   enough: its before image holds the key, and an after image without key
//!   columns means the key did not change. Where the key cannot be told (a table
//!   without primary key, an image that lacks the key, MySQL's partial JSON
//!   updates) the table is given whole. Over [`MAX_KEYS_PER_TABLE`] keys in one
//!   transaction, too.
//! - **Reading behind.** `information_schema` tells a table's shape now, not when
//!   the event was logged. A table whose columns no longer match the event's, or
//!   that is gone, is given whole; a changed key with the same column count is
//!   read with the new key, which is safe because the DDL that changed it comes
//!   later in the binlog and gives the table whole.
//! - **Statements.** `TRUNCATE`, `ALTER`, `DROP`, `RENAME`, `CREATE OR REPLACE`,
//!   `LOAD DATA` and any data-changing statement logged as text give each followed
//!   table they name whole (every followed table when they name none, or for
//!   `DROP DATABASE`); see `statement.rs` for why no SQL parser is needed.
//! - **Scope.** Only the `database` given, and in it only the tables the
//!   [`TableFilter`] follows.
//! - **MariaDB.** The reader registers with `@mariadb_slave_capability=4`, so GTID
//!   events arrive as such (without it MariaDB sends them as dummy query events);
//!   a GTID with the standalone flag announces a one-statement transaction. Rows
//!   of `log_bin_compress` are refused loudly ([`BinlogError::Compressed`], at
//!   connect and for any compressed event met): mysql_common cannot read them and
//!   would pass over them in silence.
//! - **MySQL 8** (untested here): GTID, anonymous GTID, `ROWS_QUERY` and
//!   compressed transaction payloads (unpacked by mysql_async) are understood.
//! - **Heartbeats.** The server is asked for one every [`HEARTBEAT`] when idle; a
//!   stream silent for [`SILENCE_LIMIT`] is a broken connection.
//! - **Lost positions.** A server error saying the position is gone (1236 and
//!   friends) is [`BinlogError::PositionLost`]. On MariaDB a position carrying a
//!   GTID is also checked with `BINLOG_GTID_POS()`, which catches a `RESET MASTER`
//!   or another server whose binlog happens to have the same file name and offset.
//!
//! **Connections.** Two, to the host and port the URL names (never moved onto
//! the server's Unix socket): the binlog stream, and one for `information_schema`
//! (opened again if it broke while idle). Registering with the `server_id` of
//! another reader makes the server drop that reader's stream.
//!
//! **Privileges.** The user needs `REPLICATION SLAVE` (to read the binlog) and
//! `BINLOG MONITOR` on MariaDB or `REPLICATION CLIENT` on MySQL (to ask where it
//! ends: `SHOW MASTER STATUS`), besides any privilege on the app's tables (which
//! `information_schema` requires to show them):
//! `GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'app'@'%';`
//!
//! `next()` is cancel-safe. After any error the reader is spent: drop it and
//! connect again from the last checkpoint.

mod error;
mod keys;
mod position;
mod probe;
mod schema;
mod sql;
mod statement;

use std::collections::{BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use mysql_async::binlog::events::{
    Event, EventData, ExecuteLoadQueryEvent, GtidEvent, QueryEvent, RotateEvent, RowsEventData,
};
use mysql_async::binlog::EventType;
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStream, BinlogStreamRequest, Conn, Opts, Row};

pub use error::BinlogError;
pub use keys::{KEY_SEPARATOR, MAX_KEYS_PER_TABLE};
pub use position::{BadPosition, BinlogPosition};
pub use probe::{probe, Flavour, ServerBinlog};
pub use schema::TableFilter;

use keys::Changes;
use schema::Schema;
use statement::Statement;

/// How often the server is asked to send a heartbeat when it has nothing to send.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// A stream silent this long (no event, no heartbeat) is taken for broken.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(10);
/// Prepared XA transactions held for their commit, at most.
const MAX_PREPARED: usize = 64;

/// What one committed transaction changed, for one followed table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableChange {
    /// Rows inserted, updated or deleted: their primary keys (from the before and
    /// the after images, each once, sorted), and whether the set of rows changed
    /// (an insert, a delete, or an update that changed the primary key).
    Rows {
        table: String,
        keys: Vec<String>,
        membership: bool,
    },
    /// Anything that cannot be told row by row: `TRUNCATE`, `ALTER`, `DROP`,
    /// `RENAME`, rows of a table without primary key, a statement logged as text,
    /// more than [`MAX_KEYS_PER_TABLE`] rows.
    Whole { table: String },
}

impl TableChange {
    pub fn table(&self) -> &str {
        match self {
            Self::Rows { table, .. } | Self::Whole { table } => table,
        }
    }
}

/// What one committed transaction changed in the followed tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedTransaction {
    /// One entry per table, by table name.
    pub changes: Vec<TableChange>,
    /// The position right after the commit: resuming there skips nothing and
    /// repeats nothing.
    pub end: BinlogPosition,
    /// The commit event's timestamp (seconds since the epoch), for the lag.
    pub committed_at_unix: u32,
}

/// MariaDB's own event types (mysql_common reads none of them).
mod mariadb {
    pub const ANNOTATE_ROWS: u8 = 160;
    pub const BINLOG_CHECKPOINT: u8 = 161;
    pub const GTID: u8 = 162;
    pub const GTID_LIST: u8 = 163;
    pub const START_ENCRYPTION: u8 = 164;
    /// `QUERY_COMPRESSED_EVENT` up to `DELETE_ROWS_COMPRESSED_EVENT`.
    pub const COMPRESSED: std::ops::RangeInclusive<u8> = 165..=171;
    /// The GTID event's flag for a transaction of one statement, without XID.
    pub const FL_STANDALONE: u8 = 1;
    /// `LOG_EVENT_IGNORABLE_F`: an event a reader that does not know it may skip.
    pub const IGNORABLE: u16 = 0x80;
}

/// A replica's view of the binlog; see the module's doc.
pub struct BinlogReader {
    stream: BinlogStream,
    schema: Schema,
    database: String,
    filter: TableFilter,
    /// The file being read and the offset right after the last event read.
    file: String,
    offset: u64,
    /// The GTID of the transaction being read, or of the last one read.
    gtid: Option<String>,
    /// The position after the last transaction read (yielded or passed over).
    boundary: BinlogPosition,
    in_transaction: bool,
    /// Reading the events packed in a MySQL transaction payload: they do not
    /// move the position (the payload's own end is the transaction's).
    in_payload: bool,
    /// The transaction being read is one statement (announced by a GTID event,
    /// no `BEGIN` seen): it ends with that statement.
    standalone: bool,
    /// Until the stream's first format description event, mysql_common does not
    /// know events carry a checksum, and reads the fake rotate's checksum as part
    /// of the file name: this many bytes are cut from it.
    early_checksum: usize,
    changes: Changes,
    /// Prepared XA transactions' changes, by XA id, oldest first.
    prepared: VecDeque<(String, Vec<TableChange>)>,
    /// A transaction read while connecting, given by the first `next`.
    ready: Option<CommittedTransaction>,
    /// An event whose handling a cancelled `next` cut short.
    unfinished: Option<Arc<Event>>,
}

impl BinlogReader {
    /// Connects as a replica registered with `server_id` (it must differ from the
    /// server's own and from every real replica's), and starts reading at `start`
    /// or, when `None`, at the current end of the binlog (`SHOW MASTER STATUS`).
    ///
    /// Refuses a server without a row-based binlog or with MariaDB's
    /// `log_bin_compress`. A `start` the server no longer has gives
    /// [`BinlogError::PositionLost`] here, before any transaction.
    pub async fn connect(
        url: &str,
        server_id: u32,
        database: &str,
        filter: TableFilter,
        start: Option<BinlogPosition>,
    ) -> Result<Self, BinlogError> {
        let opts = probe::opts(url)?;
        let mut meta = Conn::new(opts.clone())
            .await
            .map_err(|e| BinlogError::connection("connecting to read the schema", e))?;
        let server = probe::probe_on(&mut meta).await?;
        if !server.log_bin {
            return Err(BinlogError::NotEnabled);
        }
        if !server.binlog_format.eq_ignore_ascii_case("ROW") {
            return Err(BinlogError::NotRowBased(server.binlog_format));
        }
        if server.log_bin_compress {
            return Err(BinlogError::Compressed(None));
        }
        if server.server_id == server_id {
            return Err(BinlogError::SameServerId(server_id));
        }
        let start = match start {
            Some(start) => {
                if server.flavour == Flavour::MariaDb {
                    check_gtid(&mut meta, &start).await?;
                }
                start
            }
            None => binlog_end(&mut meta).await?,
        };
        // `@master_binlog_checksum='ALL'` (set by mysql_async) gets the server's
        // own algorithm: CRC32 adds four bytes to every event.
        let checksum: Vec<Option<String>> =
            sql::query(&mut meta, "SELECT @@GLOBAL.binlog_checksum")
                .await
                .map_err(|e| BinlogError::connection("reading binlog_checksum", e))?;
        let crc32 = checksum
            .first()
            .and_then(Option::as_deref)
            .is_some_and(|c| c.eq_ignore_ascii_case("CRC32"));
        let early_checksum = if crc32 { 4 } else { 0 };
        let schema = Schema::load(opts.clone(), meta, database)
            .await
            .map_err(|e| BinlogError::connection("reading the database's tables", e))?;
        let stream = open_stream(opts, server_id, server.flavour, &start).await?;
        let mut reader = Self {
            stream,
            schema,
            database: database.to_owned(),
            filter,
            file: start.file().to_owned(),
            offset: start.offset(),
            gtid: start.gtid().map(str::to_owned),
            boundary: start,
            in_transaction: false,
            in_payload: false,
            standalone: false,
            early_checksum,
            changes: Changes::default(),
            prepared: VecDeque::new(),
            ready: None,
            unfinished: None,
        };
        // The server says at once whether it has the position (a fake rotate) or
        // not (an error): read that first event here.
        reader.ready = reader.step().await?;
        Ok(reader)
    }

    /// The next committed transaction that changed a followed table; waits for
    /// one as long as the server is there.
    ///
    /// Cancel-safe: a call cut short (by `select!` or a timeout) loses nothing,
    /// and the next call goes on where it stopped, so a follower may wait on it
    /// beside other work and save [`position`](Self::position) while idle.
    pub async fn next(&mut self) -> Result<CommittedTransaction, BinlogError> {
        if let Some(ready) = self.ready.take() {
            return Ok(ready);
        }
        loop {
            if let Some(transaction) = self.step().await? {
                return Ok(transaction);
            }
        }
    }

    /// Where a reader connected now would go on: after the last transaction this
    /// one read, yielded or passed over. A follower idle on other databases'
    /// writes may save it as its checkpoint.
    pub fn position(&self) -> &BinlogPosition {
        &self.boundary
    }

    /// Closes both connections.
    pub async fn close(self) {
        // The server drops a replica that goes away without a word: nothing to
        // report if the goodbye fails.
        let _ = self.stream.close().await;
        self.schema.close().await;
    }

    /// Reads one event; gives the transaction it completed, if any.
    ///
    /// Cancel-safe: the stream keeps a partly read event, and an event whose
    /// handling was cut short (while the schema was asked) is handled again from
    /// the start by the next call; handling changes nothing before its last await.
    async fn step(&mut self) -> Result<Option<CommittedTransaction>, BinlogError> {
        let event = match self.unfinished.take() {
            Some(event) => event,
            None => Arc::new(self.read_event().await?),
        };
        self.unfinished = Some(Arc::clone(&event));
        let header = event.header();
        let kind = header.event_type_raw();
        let event_start = self.here_before(&event);
        let done = self.handle(&event, kind, event_start).await?;
        self.unfinished = None;
        if !self.in_transaction {
            self.boundary = self.here();
        }
        Ok(done.map(|changes| CommittedTransaction {
            changes,
            end: self.boundary.clone(),
            committed_at_unix: header.timestamp(),
        }))
    }

    /// The next event of the stream, with the offset moved past it.
    async fn read_event(&mut self) -> Result<Event, BinlogError> {
        let event = match tokio::time::timeout(SILENCE_LIMIT, self.stream.next()).await {
            Err(_) => {
                return Err(BinlogError::Connection {
                    context: format!("no event nor heartbeat for {SILENCE_LIMIT:?}"),
                    source: None,
                })
            }
            Ok(None) => {
                return Err(BinlogError::Connection {
                    context: "the server ended the binlog stream".to_owned(),
                    source: None,
                })
            }
            Ok(Some(Err(e))) => {
                return Err(BinlogError::from_driver(
                    e,
                    "reading the binlog",
                    &self.boundary,
                ))
            }
            Ok(Some(Ok(event))) => event,
        };
        let kind = event.header().event_type_raw();
        if kind != EventType::HEARTBEAT_EVENT as u8
            && kind != EventType::ROTATE_EVENT as u8
            && !self.in_payload
        {
            // Positions only grow within a file: artificial events (log_pos 0) do
            // not move it back.
            self.offset = self.offset.max(u64::from(event.header().log_pos()));
        }
        if kind == EventType::TRANSACTION_PAYLOAD_EVENT as u8 {
            // MySQL's compressed transaction: mysql_async gives the events packed
            // in it next; the position after it is where the transaction ends.
            self.in_payload = true;
        }
        Ok(event)
    }

    /// Handles one event; gives the changes of the transaction it committed.
    async fn handle(
        &mut self,
        event: &Event,
        kind: u8,
        event_start: BinlogPosition,
    ) -> Result<Option<Vec<TableChange>>, BinlogError> {
        let at = event_start.clone();
        let decode = move |source| BinlogError::Decode {
            position: at.clone(),
            source,
        };
        match kind {
            k if k == EventType::ROTATE_EVENT as u8 => {
                let rotate = event.read_event::<RotateEvent<'_>>().map_err(decode)?;
                let name = rotate.name_raw();
                let name = &name[..name.len().saturating_sub(self.early_checksum)];
                self.file = String::from_utf8_lossy(name).into_owned();
                self.offset = rotate.position();
                Ok(None)
            }
            k if k == EventType::FORMAT_DESCRIPTION_EVENT as u8 => {
                self.early_checksum = 0;
                Ok(None)
            }
            mariadb::GTID => {
                let (gtid, standalone) = mariadb_gtid(event)
                    .ok_or_else(|| decode(std::io::Error::other("short MariaDB GTID event")))?;
                self.gtid = Some(gtid);
                self.in_transaction = true;
                self.standalone = standalone;
                Ok(None)
            }
            k if k == EventType::GTID_EVENT as u8 => {
                let gtid = event.read_event::<GtidEvent>().map_err(decode)?;
                self.gtid = Some(format!("{}:{}", uuid_text(&gtid.sid()), gtid.gno()));
                // MySQL: a `BEGIN` follows, or the group is one statement (DDL).
                self.in_transaction = true;
                self.standalone = true;
                Ok(None)
            }
            k if k == EventType::ANONYMOUS_GTID_EVENT as u8 => {
                self.gtid = None;
                self.in_transaction = true;
                self.standalone = true;
                Ok(None)
            }
            k if k == EventType::QUERY_EVENT as u8 => {
                let query = event.read_event::<QueryEvent<'_>>().map_err(decode)?;
                self.statement(&query.schema(), &query.query()).await
            }
            k if k == EventType::EXECUTE_LOAD_QUERY_EVENT as u8 => {
                let load = event
                    .read_event::<ExecuteLoadQueryEvent<'_>>()
                    .map_err(decode)?;
                self.statement(&load.schema(), &load.query()).await
            }
            k if k == EventType::XID_EVENT as u8 => Ok(self.commit()),
            k if k == EventType::XA_PREPARE_LOG_EVENT as u8 => {
                // `XA PREPARE` (or MySQL's `XA COMMIT ... ONE PHASE`).
                let (one_phase, xid) = xa_prepare(event)
                    .ok_or_else(|| decode(std::io::Error::other("short XA PREPARE event")))?;
                if one_phase {
                    return Ok(self.commit());
                }
                self.prepare(xid);
                Ok(None)
            }
            k if is_rows_event(k) => {
                self.rows(event, &event_start).await?;
                Ok(None)
            }
            k if mariadb::COMPRESSED.contains(&k) => {
                Err(BinlogError::Compressed(Some(event_start)))
            }
            k if k == EventType::INCIDENT_EVENT as u8 => {
                // The server says changes may be missing from its binlog here.
                self.whole_database();
                Ok(self.commit())
            }
            k if is_passed_over(k) || header_ignorable(event) => Ok(None),
            event_type => Err(BinlogError::UnknownEvent {
                event_type,
                position: event_start,
            }),
        }
    }

    /// A statement logged as text: a transaction bound, or a change of its own.
    async fn statement(
        &mut self,
        schema: &str,
        query: &str,
    ) -> Result<Option<Vec<TableChange>>, BinlogError> {
        let statement = Statement::classify(query);
        match statement {
            Statement::Begin => {
                self.in_transaction = true;
                self.standalone = false;
                return Ok(None);
            }
            Statement::Commit | Statement::Rollback => return Ok(self.commit()),
            Statement::XaPrepare(xid) => {
                self.prepare(xid);
                return Ok(None);
            }
            Statement::XaCommit(xid) => {
                match self.prepared.iter().position(|(id, _)| *id == xid) {
                    Some(at) => {
                        if let Some((_, changes)) = self.prepared.remove(at) {
                            self.changes.extend(changes);
                        }
                    }
                    None => self.whole_database(),
                }
                return Ok(self.commit());
            }
            Statement::XaRollback(xid) => {
                self.prepared.retain(|(id, _)| *id != xid);
                return Ok(self.commit());
            }
            Statement::Harmless => return Ok(self.statement_ends()),
            Statement::CreateTable
            | Statement::Ddl
            | Statement::DropDatabase
            | Statement::Other => {}
        }
        let words = statement::identifiers(query);
        let ours = schema == self.database || words.contains(&self.database);
        if ours {
            let mut named = self.named_tables(&words);
            let followed = self.followed_tables();
            if statement != Statement::Other {
                self.schema
                    .refresh(&named)
                    .await
                    .map_err(|e| BinlogError::connection("reading the tables after DDL", e))?;
                named.extend(self.named_tables(&words));
            }
            match statement {
                Statement::DropDatabase => {
                    if words.contains(&self.database) {
                        named = followed;
                    } else {
                        named.clear();
                    }
                }
                Statement::CreateTable => named.clear(),
                Statement::Other if named.is_empty() => named = followed,
                _ => {}
            }
            for table in named.iter().filter(|t| self.filter.follows(t)) {
                self.changes.whole(table);
            }
        }
        Ok(self.statement_ends())
    }

    /// A statement was read: it ends a transaction of its own, or one of one
    /// statement.
    fn statement_ends(&mut self) -> Option<Vec<TableChange>> {
        if self.in_transaction && !self.standalone {
            None
        } else {
            self.commit()
        }
    }

    /// The tables of the database that a statement's words name.
    fn named_tables(&self, words: &[String]) -> BTreeSet<String> {
        self.schema
            .tables()
            .iter()
            .filter(|table| words.iter().any(|w| w.eq_ignore_ascii_case(table)))
            .cloned()
            .collect()
    }

    fn followed_tables(&self) -> BTreeSet<String> {
        self.schema
            .tables()
            .iter()
            .filter(|table| self.filter.follows(table))
            .cloned()
            .collect()
    }

    fn whole_database(&mut self) {
        for table in self.followed_tables() {
            self.changes.whole(&table);
        }
    }

    /// Ends the transaction being read; its changes, if it changed a followed table.
    fn commit(&mut self) -> Option<Vec<TableChange>> {
        self.in_transaction = false;
        self.in_payload = false;
        self.standalone = false;
        (!self.changes.is_empty()).then(|| self.changes.take())
    }

    /// Holds the transaction's changes (none, if it changed no followed table)
    /// until its `XA COMMIT`.
    fn prepare(&mut self, xid: String) {
        self.in_transaction = false;
        self.standalone = false;
        let changes = self.changes.take();
        if self.prepared.len() >= MAX_PREPARED {
            // Its commit will give every followed table whole.
            self.prepared.pop_front();
        }
        self.prepared.push_back((xid, changes));
    }

    /// A rows event: the keys of its rows, gathered for the transaction.
    async fn rows(
        &mut self,
        event: &Event,
        event_start: &BinlogPosition,
    ) -> Result<(), BinlogError> {
        let data = event.read_data().map_err(|source| BinlogError::Decode {
            position: event_start.clone(),
            source,
        })?;
        let Some(EventData::RowsEvent(rows)) = data else {
            return Ok(());
        };
        self.in_transaction = true;
        let table_id = rows.table_id();
        let Some(map) = self.stream.get_tme(table_id) else {
            // No table map for it: which table cannot be told.
            self.whole_database();
            return Ok(());
        };
        if map.database_name() != self.database.as_str() {
            return Ok(());
        }
        let table = map.table_name().into_owned();
        self.schema.saw(&table);
        if !self.filter.follows(&table) {
            return Ok(());
        }
        let columns = usize::try_from(map.columns_count()).unwrap_or(usize::MAX);
        if matches!(rows, RowsEventData::PartialUpdateRowsEvent(_)) {
            self.changes.whole(&table);
            return Ok(());
        }
        let shape = self
            .schema
            .shape(&table, columns)
            .await
            .map_err(|e| BinlogError::connection("reading a table's primary key", e))?
            .cloned();
        let Some(shape) = shape.filter(|shape| !shape.key.is_empty()) else {
            self.changes.whole(&table);
            return Ok(());
        };
        let before: Option<Vec<bool>> = rows
            .columns_before_image()
            .map(|bits| bits.iter().map(|bit| *bit).collect());
        let after: Option<Vec<bool>> = rows
            .columns_after_image()
            .map(|bits| bits.iter().map(|bit| *bit).collect());
        let before_at = before
            .as_deref()
            .and_then(|image| keys::key_positions(image, &shape.key));
        let after_at = after
            .as_deref()
            .and_then(|image| keys::key_positions(image, &shape.key));
        // An after image with none of the key's columns (MINIMAL): key unchanged.
        let after_lacks_key = after.as_deref().is_some_and(|image| {
            shape
                .key
                .iter()
                .all(|c| !image.get(c.index).copied().unwrap_or(false))
        });
        let Some(map) = self.stream.get_tme(table_id) else {
            self.changes.whole(&table);
            return Ok(());
        };
        for row in rows.rows(map) {
            let Ok((old, new)) = row else {
                self.changes.whole(&table);
                return Ok(());
            };
            let old_key = match (&old, &before_at) {
                (Some(row), Some(at)) => keys::key_of(row, at, &shape.key),
                _ => None,
            };
            if old.is_some() && old_key.is_none() {
                self.changes.whole(&table);
                return Ok(());
            }
            let new_key = match (&new, &after_at) {
                (Some(_), None) if old_key.is_some() && after_lacks_key => old_key.clone(),
                (Some(row), Some(at)) => keys::key_of(row, at, &shape.key),
                _ => None,
            };
            if new.is_some() && new_key.is_none() {
                self.changes.whole(&table);
                return Ok(());
            }
            let membership = old_key != new_key;
            for key in [old_key, new_key].into_iter().flatten() {
                self.changes.row(&table, key, membership);
            }
        }
        Ok(())
    }

    fn here(&self) -> BinlogPosition {
        let position = BinlogPosition::new(self.file.clone(), self.offset);
        match &self.gtid {
            Some(gtid) => position.with_gtid(gtid.clone()),
            None => position,
        }
    }

    /// Where `event` starts (for error messages).
    fn here_before(&self, event: &Event) -> BinlogPosition {
        let header = event.header();
        let start = u64::from(header.log_pos()).saturating_sub(u64::from(header.event_size()));
        BinlogPosition::new(self.file.clone(), start)
    }
}

fn is_rows_event(kind: u8) -> bool {
    [
        EventType::WRITE_ROWS_EVENT_V1,
        EventType::UPDATE_ROWS_EVENT_V1,
        EventType::DELETE_ROWS_EVENT_V1,
        EventType::WRITE_ROWS_EVENT,
        EventType::UPDATE_ROWS_EVENT,
        EventType::DELETE_ROWS_EVENT,
        EventType::PARTIAL_UPDATE_ROWS_EVENT,
    ]
    .into_iter()
    .any(|t| t as u8 == kind)
}

/// Events that change nothing a reader of rows must know: framing, table maps
/// (mysql_common keeps them), the text of row statements, statement-form
/// context, GTID lists.
fn is_passed_over(kind: u8) -> bool {
    [
        EventType::FORMAT_DESCRIPTION_EVENT,
        EventType::HEARTBEAT_EVENT,
        EventType::STOP_EVENT,
        EventType::TABLE_MAP_EVENT,
        EventType::ROWS_QUERY_EVENT,
        EventType::INTVAR_EVENT,
        EventType::RAND_EVENT,
        EventType::USER_VAR_EVENT,
        EventType::BEGIN_LOAD_QUERY_EVENT,
        EventType::APPEND_BLOCK_EVENT,
        EventType::PREVIOUS_GTIDS_EVENT,
        EventType::TRANSACTION_CONTEXT_EVENT,
        EventType::VIEW_CHANGE_EVENT,
        EventType::TRANSACTION_PAYLOAD_EVENT,
        EventType::IGNORABLE_EVENT,
    ]
    .into_iter()
    .any(|t| t as u8 == kind)
        || [
            mariadb::ANNOTATE_ROWS,
            mariadb::BINLOG_CHECKPOINT,
            mariadb::GTID_LIST,
            mariadb::START_ENCRYPTION,
        ]
        .contains(&kind)
}

fn header_ignorable(event: &Event) -> bool {
    event.header().flags_raw() & mariadb::IGNORABLE != 0
}

/// An XA PREPARE event's one-phase flag and XA id, written as the server writes
/// it in `XA COMMIT X'<gtrid>',X'<bqual>',<format id>` (lower-cased). Its body: one-phase (1
/// byte), format id (4), gtrid length (4), bqual length (4), gtrid, bqual.
fn xa_prepare(event: &Event) -> Option<(bool, String)> {
    let data = event.data();
    let one_phase = *data.first()? != 0;
    let format_id = u32::from_le_bytes(data.get(1..5)?.try_into().ok()?);
    let gtrid_len = usize::try_from(u32::from_le_bytes(data.get(5..9)?.try_into().ok()?)).ok()?;
    let bqual_len = usize::try_from(u32::from_le_bytes(data.get(9..13)?.try_into().ok()?)).ok()?;
    let gtrid = data.get(13..13 + gtrid_len)?;
    let bqual = data.get(13 + gtrid_len..13 + gtrid_len + bqual_len)?;
    let hex = |bytes: &[u8]| {
        bytes.iter().fold(String::new(), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
    };
    Some((
        one_phase,
        format!("x'{}',x'{}',{format_id}", hex(gtrid), hex(bqual)),
    ))
}

/// A MariaDB GTID event's `domain-server-sequence`, and whether it announces a
/// transaction of one statement. Its body: sequence (8 bytes), domain (4), flags (1).
fn mariadb_gtid(event: &Event) -> Option<(String, bool)> {
    let data = event.data();
    let sequence = u64::from_le_bytes(data.get(0..8)?.try_into().ok()?);
    let domain = u32::from_le_bytes(data.get(8..12)?.try_into().ok()?);
    let flags = *data.get(12)?;
    let server = event.header().server_id();
    Some((
        format!("{domain}-{server}-{sequence}"),
        flags & mariadb::FL_STANDALONE != 0,
    ))
}

fn uuid_text(sid: &[u8; 16]) -> String {
    let hex = sid.iter().fold(String::new(), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    });
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The current end of the binlog.
async fn binlog_end(conn: &mut Conn) -> Result<BinlogPosition, BinlogError> {
    let rows = match sql::query::<Row>(conn, "SHOW MASTER STATUS").await {
        Ok(rows) => rows,
        // MySQL 8.4 knows only the new name.
        Err(mysql_async::Error::Server(e)) if e.code == 1064 => {
            sql::query::<Row>(conn, "SHOW BINARY LOG STATUS")
                .await
                .map_err(binlog_end_failed)?
        }
        Err(e) => return Err(binlog_end_failed(e)),
    };
    let Some(row) = rows.into_iter().next() else {
        return Err(BinlogError::NotEnabled);
    };
    // File and position come first; more columns follow.
    let file = row.get_opt::<String, _>(0).and_then(Result::ok);
    let offset = row.get_opt::<u64, _>(1).and_then(Result::ok);
    match (file, offset) {
        (Some(file), Some(offset)) => Ok(BinlogPosition::new(file, offset)),
        _ => Err(BinlogError::Connection {
            context: "SHOW MASTER STATUS gave no file and position".to_owned(),
            source: None,
        }),
    }
}

fn binlog_end_failed(error: mysql_async::Error) -> BinlogError {
    if let mysql_async::Error::Server(server) = &error {
        if [1227, 1045].contains(&server.code) {
            return BinlogError::Privileges {
                missing: "BINLOG MONITOR (MariaDB) or REPLICATION CLIENT (MySQL)".to_owned(),
                source: Some(error),
            };
        }
    }
    BinlogError::connection("asking where the binlog ends", error)
}

/// MariaDB: whether the binlog still holds, at `start`, the end of the
/// transaction `start` names. `RESET MASTER` or another server would put another
/// GTID there, or none (an offset inside an event).
async fn check_gtid(conn: &mut Conn, start: &BinlogPosition) -> Result<(), BinlogError> {
    let Some(gtid) = start.gtid() else {
        return Ok(());
    };
    let found: Result<Option<Option<String>>, _> = sql::exec(
        conn,
        "SELECT BINLOG_GTID_POS(?, ?)",
        (start.file(), start.offset()),
    )
    .await
    .map(|rows| rows.into_iter().next());
    let lost = |reason: String| BinlogError::PositionLost {
        position: start.to_string(),
        reason,
        source: None,
    };
    match found {
        Ok(Some(Some(state))) if state.split(',').any(|g| g.trim() == gtid) => Ok(()),
        Ok(Some(Some(state))) => Err(lost(format!(
            "the server's binlog there follows GTID {state:?}, not {gtid}: RESET MASTER, or another server"
        ))),
        Ok(_) => Err(lost(
            "the server's binlog has no transaction boundary there (purged, or the offset \
             falls inside an event)"
                .to_owned(),
        )),
        Err(e) => Err(BinlogError::from_driver(e, "checking the saved position", start)),
    }
}

/// A connection turned into a binlog stream from `start`.
async fn open_stream(
    opts: Opts,
    server_id: u32,
    flavour: Flavour,
    start: &BinlogPosition,
) -> Result<BinlogStream, BinlogError> {
    let failed = |e| BinlogError::from_driver(e, "opening the binlog stream", start);
    let mut conn = Conn::new(opts).await.map_err(failed)?;
    if flavour == Flavour::MariaDb {
        // GTID and annotate events as such, not as dummy query events.
        conn.query_drop("SET @mariadb_slave_capability = 4")
            .await
            .map_err(failed)?;
    }
    let period_ns = HEARTBEAT.as_nanos();
    conn.query_drop(format!("SET @master_heartbeat_period = {period_ns}"))
        .await
        .map_err(failed)?;
    let request = BinlogStreamRequest::new(server_id)
        .with_filename(start.file().as_bytes())
        .with_pos(start.offset());
    conn.get_binlog_stream(request).await.map_err(failed)
}
