//! Which tables the reader follows, and where their primary keys sit in a row.
//!
//! Row events carry column values by position only (unless the server logs full
//! metadata), so the primary key's columns come from `information_schema`, read
//! for a table when it is first met and again after DDL that names it.

use std::collections::{BTreeSet, HashMap};

use mysql_async::{Conn, Error, Opts};

/// The tables of the app's database a reader follows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableFilter {
    /// `Some`: only these; `None`: every table.
    only: Option<BTreeSet<String>>,
    except: BTreeSet<String>,
}

impl TableFilter {
    /// Every table of the database but these (the app passes its sessions table
    /// and `__diesel_schema_migrations`).
    pub fn all_except<I, S>(tables: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            only: None,
            except: tables.into_iter().map(Into::into).collect(),
        }
    }

    /// Only these tables.
    pub fn only<I, S>(tables: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            only: Some(tables.into_iter().map(Into::into).collect()),
            except: BTreeSet::new(),
        }
    }

    pub fn follows(&self, table: &str) -> bool {
        !self.except.contains(table) && self.only.as_ref().is_none_or(|only| only.contains(table))
    }
}

/// One column of a primary key.
#[derive(Debug, Clone)]
pub(crate) struct KeyColumn {
    /// Position in the table (0-based), as in a row image.
    pub(crate) index: usize,
    /// `information_schema.COLUMNS.DATA_TYPE` (`int`, `varchar`, `date`, ...).
    pub(crate) data_type: String,
    pub(crate) unsigned: bool,
}

/// What the reader needs of one table.
#[derive(Debug, Clone)]
pub(crate) struct TableShape {
    pub(crate) columns: usize,
    /// Empty: the table has no primary key.
    pub(crate) key: Vec<KeyColumn>,
}

/// The app database's tables as `information_schema` shows them now, read on
/// demand through a connection of the reader's own.
///
/// The connection is taken out while a query runs and put back when it is done:
/// a query cut short (a cancelled `next`) drops it with its half-read answer, and
/// the next query opens a new one instead of reading that answer as its own.
pub(crate) struct Schema {
    opts: Opts,
    conn: Option<Conn>,
    database: String,
    tables: BTreeSet<String>,
    shapes: HashMap<String, Option<TableShape>>,
}

impl Schema {
    pub(crate) async fn load(opts: Opts, conn: Conn, database: &str) -> Result<Self, Error> {
        let mut schema = Self {
            opts,
            conn: Some(conn),
            database: database.to_owned(),
            tables: BTreeSet::new(),
            shapes: HashMap::new(),
        };
        schema.tables = schema.read_tables().await?;
        Ok(schema)
    }

    /// Every table the database had since the reader started: `information_schema`
    /// tells what is there now, not what was there when an event was logged (the
    /// reader may be behind), so a table dropped since is still named here.
    pub(crate) fn tables(&self) -> &BTreeSet<String> {
        &self.tables
    }

    /// Counts `table` (met in a row event) among the database's tables.
    pub(crate) fn saw(&mut self, table: &str) {
        if !self.tables.contains(table) {
            self.tables.insert(table.to_owned());
        }
    }

    /// Reads the list of tables again (adding to the list), and forgets the
    /// shapes of `changed` (after DDL that named them).
    pub(crate) async fn refresh<'a>(
        &mut self,
        changed: impl IntoIterator<Item = &'a String>,
    ) -> Result<(), Error> {
        for table in changed {
            self.shapes.remove(table);
        }
        let now = self.read_tables().await?;
        self.tables.extend(now);
        Ok(())
    }

    /// The shape of `table`, read when first asked for or when `columns` (from the
    /// row event's table map) disagrees with what was read. `None`: the table is
    /// gone, or its columns still disagree with the event's (its shape changed
    /// after the event was logged).
    pub(crate) async fn shape(
        &mut self,
        table: &str,
        columns: usize,
    ) -> Result<Option<&TableShape>, Error> {
        let known = self
            .shapes
            .get(table)
            .is_some_and(|shape| shape.as_ref().is_some_and(|s| s.columns == columns));
        if !known {
            let shape = self.read_shape(table).await?;
            self.shapes.insert(table.to_owned(), shape);
        }
        Ok(self
            .shapes
            .get(table)
            .and_then(Option::as_ref)
            .filter(|shape| shape.columns == columns))
    }

    async fn read_tables(&mut self) -> Result<BTreeSet<String>, Error> {
        let mut retried = false;
        loop {
            let mut conn = self.take_conn().await?;
            match table_names(&mut conn, &self.database).await {
                Ok(tables) => {
                    self.conn = Some(conn);
                    return Ok(tables);
                }
                Err(e) => self.after_error(conn, e, &mut retried)?,
            }
        }
    }

    async fn read_shape(&mut self, table: &str) -> Result<Option<TableShape>, Error> {
        let mut retried = false;
        loop {
            let mut conn = self.take_conn().await?;
            match read_shape(&mut conn, &self.database, table).await {
                Ok(shape) => {
                    self.conn = Some(conn);
                    return Ok(shape);
                }
                Err(e) => self.after_error(conn, e, &mut retried)?,
            }
        }
    }

    async fn take_conn(&mut self) -> Result<Conn, Error> {
        match self.conn.take() {
            Some(conn) => Ok(conn),
            None => Conn::new(self.opts.clone()).await,
        }
    }

    /// Keeps a connection the server refused a query on; drops a broken one (idle
    /// for hours, the server's `wait_timeout` closes it) and lets the caller try
    /// once more on a new one.
    fn after_error(&mut self, conn: Conn, error: Error, retried: &mut bool) -> Result<(), Error> {
        if !error.is_fatal() {
            self.conn = Some(conn);
            return Err(error);
        }
        if *retried {
            return Err(error);
        }
        *retried = true;
        Ok(())
    }

    pub(crate) async fn close(self) {
        // The server drops a connection that goes away without a word: nothing to
        // report if it cannot be told.
        if let Some(conn) = self.conn {
            let _ = conn.disconnect().await;
        }
    }
}

async fn table_names(conn: &mut Conn, database: &str) -> Result<BTreeSet<String>, Error> {
    let names: Vec<String> = super::sql::exec(
        conn,
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?",
        (database,),
    )
    .await?;
    Ok(names.into_iter().collect())
}

async fn read_shape(
    conn: &mut Conn,
    database: &str,
    table: &str,
) -> Result<Option<TableShape>, Error> {
    let rows: Vec<(u64, String, String, Option<u64>)> = super::sql::exec(
        conn,
        "SELECT c.ORDINAL_POSITION, c.DATA_TYPE, c.COLUMN_TYPE, k.SEQ_IN_INDEX \
             FROM information_schema.COLUMNS c \
             LEFT JOIN information_schema.STATISTICS k \
               ON k.TABLE_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME \
              AND k.COLUMN_NAME = c.COLUMN_NAME AND k.INDEX_NAME = 'PRIMARY' \
             WHERE c.TABLE_SCHEMA = ? AND c.TABLE_NAME = ? \
             ORDER BY c.ORDINAL_POSITION",
        (database, table),
    )
    .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let columns = rows.len();
    let mut key: Vec<(u64, KeyColumn)> = Vec::new();
    for (at, (_, data_type, column_type, seq)) in rows.into_iter().enumerate() {
        if let Some(seq) = seq {
            key.push((
                seq,
                KeyColumn {
                    index: at,
                    data_type: data_type.to_ascii_lowercase(),
                    unsigned: column_type.to_ascii_lowercase().contains("unsigned"),
                },
            ));
        }
    }
    key.sort_by_key(|(seq, _)| *seq);
    Ok(Some(TableShape {
        columns,
        key: key.into_iter().map(|(_, column)| column).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_filter_follows_all_but_the_excluded() {
        let filter = TableFilter::all_except(["sessions", "__diesel_schema_migrations"]);
        assert!(filter.follows("user"));
        assert!(!filter.follows("sessions"));
        let only = TableFilter::only(["user"]);
        assert!(only.follows("user"));
        assert!(!only.follows("other"));
    }
}
