//! A row image's primary key as text, and a transaction's changes gathered per table.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use mysql_async::binlog::row::BinlogRow;
use mysql_async::binlog::value::BinlogValue;
use mysql_async::Value;

use super::schema::KeyColumn;
use super::TableChange;

/// Joins the values of a composite primary key, in the key's column order
/// (U+001F, the ASCII unit separator: no key value of the app holds it).
pub const KEY_SEPARATOR: char = '\u{1f}';

/// Beyond this many keys for one table in one transaction, the table is given
/// whole: a bulk change must not buffer without bound.
pub const MAX_KEYS_PER_TABLE: usize = 10_000;

/// Where each key column's value sits in a row image that holds only the columns
/// set in `image` (a rows event's column bitmap; its values are packed, in table
/// order). `None` when the image lacks a key column (a `MINIMAL` after-image that
/// did not set it).
pub(crate) fn key_positions(image: &[bool], key: &[KeyColumn]) -> Option<Vec<usize>> {
    key.iter()
        .map(|column| {
            image
                .get(column.index)
                .copied()
                .unwrap_or(false)
                .then(|| image[..column.index].iter().filter(|set| **set).count())
        })
        .collect()
}

/// The primary key of a row image as text (see [`key_positions`]), or `None` when
/// the image holds a value no key can have.
pub(crate) fn key_of(row: &BinlogRow, positions: &[usize], key: &[KeyColumn]) -> Option<String> {
    let mut text = String::new();
    for (n, (column, at)) in key.iter().zip(positions).enumerate() {
        let value = row.as_ref(*at)?;
        if n > 0 {
            text.push(KEY_SEPARATOR);
        }
        write_value(&mut text, value, column)?;
    }
    Some(text)
}

fn write_value(text: &mut String, value: &BinlogValue<'_>, column: &KeyColumn) -> Option<()> {
    let BinlogValue::Value(value) = value else {
        return None;
    };
    match *value {
        Value::NULL => return None,
        Value::Bytes(ref bytes) if is_binary(&column.data_type) => {
            // Bytes that need not be UTF-8: `0x` and lower-case hex, as SQL
            // writes them.
            text.push_str("0x");
            for byte in bytes {
                write!(text, "{byte:02x}").ok()?;
            }
        }
        Value::Bytes(ref bytes) => text.push_str(&String::from_utf8_lossy(bytes)),
        Value::Int(n) if n < 0 && column.unsigned => {
            // Without the server's signedness metadata an unsigned column is read
            // as signed: take the bits back at the column's width.
            let bits = match column.data_type.as_str() {
                "tinyint" => 8,
                "smallint" => 16,
                "mediumint" => 24,
                "int" | "integer" => 32,
                _ => 64,
            };
            let raw = u64::from_ne_bytes(n.to_ne_bytes());
            let value = if bits == 64 {
                raw
            } else {
                raw & ((1_u64 << bits) - 1)
            };
            write!(text, "{value}").ok()?;
        }
        Value::Int(n) => write!(text, "{n}").ok()?,
        Value::UInt(n) => write!(text, "{n}").ok()?,
        Value::Float(n) => write!(text, "{n}").ok()?,
        Value::Double(n) => write!(text, "{n}").ok()?,
        Value::Date(year, month, day, hour, minute, second, micros) => {
            write!(text, "{year:04}-{month:02}-{day:02}").ok()?;
            if column.data_type != "date" {
                write!(text, " {hour:02}:{minute:02}:{second:02}").ok()?;
                if micros > 0 {
                    write!(text, ".{micros:06}").ok()?;
                }
            }
        }
        Value::Time(negative, days, hours, minutes, seconds, micros) => {
            let hours = u32::from(hours) + days * 24;
            let sign = if negative { "-" } else { "" };
            write!(text, "{sign}{hours:02}:{minutes:02}:{seconds:02}").ok()?;
            if micros > 0 {
                write!(text, ".{micros:06}").ok()?;
            }
        }
    }
    Some(())
}

fn is_binary(data_type: &str) -> bool {
    matches!(
        data_type,
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" | "bit"
    )
}

/// What one table's rows did in one transaction.
#[derive(Debug, Default)]
struct Gathered {
    keys: BTreeSet<String>,
    membership: bool,
    whole: bool,
}

/// The changes of the transaction being read, per followed table, bounded by
/// [`MAX_KEYS_PER_TABLE`].
#[derive(Debug, Default)]
pub(crate) struct Changes {
    tables: BTreeMap<String, Gathered>,
}

impl Changes {
    pub(crate) fn row(&mut self, table: &str, key: String, membership: bool) {
        let gathered = self.tables.entry(table.to_owned()).or_default();
        gathered.membership |= membership;
        if gathered.whole {
            return;
        }
        gathered.keys.insert(key);
        if gathered.keys.len() > MAX_KEYS_PER_TABLE {
            gathered.keys = BTreeSet::new();
            gathered.whole = true;
        }
    }

    pub(crate) fn whole(&mut self, table: &str) {
        let gathered = self.tables.entry(table.to_owned()).or_default();
        gathered.whole = true;
        gathered.keys = BTreeSet::new();
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// Adds another transaction's changes (a prepared XA transaction's, at its
    /// commit).
    pub(crate) fn extend(&mut self, other: Vec<TableChange>) {
        for change in other {
            match change {
                TableChange::Whole { table } => self.whole(&table),
                TableChange::Rows {
                    table,
                    keys,
                    membership,
                } => {
                    for key in keys {
                        self.row(&table, key, membership);
                    }
                }
            }
        }
    }

    pub(crate) fn take(&mut self) -> Vec<TableChange> {
        std::mem::take(&mut self.tables)
            .into_iter()
            .map(|(table, gathered)| {
                if gathered.whole {
                    TableChange::Whole { table }
                } else {
                    TableChange::Rows {
                        table,
                        keys: gathered.keys.into_iter().collect(),
                        membership: gathered.membership,
                    }
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(index: usize, data_type: &str, unsigned: bool) -> KeyColumn {
        KeyColumn {
            index,
            data_type: data_type.to_owned(),
            unsigned,
        }
    }

    fn key(values: Vec<Value>, key: &[KeyColumn]) -> Option<String> {
        let image = vec![true; values.len()];
        let positions = key_positions(&image, key)?;
        let row = BinlogRow::new(
            values
                .into_iter()
                .map(|v| Some(BinlogValue::Value(v)))
                .collect(),
            Vec::new().into(),
        );
        key_of(&row, &positions, key)
    }

    #[test]
    fn unsigned_columns_read_as_signed_get_their_bits_back() {
        for (data_type, raw, text) in [
            ("tinyint", -1, "255"),
            ("smallint", -2, "65534"),
            ("int", -294_967_296, "4000000000"),
            ("bigint", -1, "18446744073709551615"),
        ] {
            let got = key(vec![Value::Int(raw)], &[column(0, data_type, true)]);
            assert_eq!(got.as_deref(), Some(text), "{data_type}");
        }
        let signed = key(vec![Value::Int(-5)], &[column(0, "int", false)]);
        assert_eq!(signed.as_deref(), Some("-5"));
    }

    #[test]
    fn dates_times_and_bytes_are_written_as_sql_writes_them() {
        let date = Value::Date(2026, 1, 2, 0, 0, 0, 0);
        assert_eq!(
            key(vec![date.clone()], &[column(0, "date", false)]).as_deref(),
            Some("2026-01-02")
        );
        let stamp = Value::Date(2026, 1, 2, 3, 4, 5, 60);
        assert_eq!(
            key(vec![stamp], &[column(0, "datetime", false)]).as_deref(),
            Some("2026-01-02 03:04:05.000060")
        );
        let time = Value::Time(true, 1, 2, 3, 4, 0);
        assert_eq!(
            key(vec![time], &[column(0, "time", false)]).as_deref(),
            Some("-26:03:04")
        );
        let bytes = Value::Bytes(vec![0, 0xab]);
        assert_eq!(
            key(vec![bytes.clone()], &[column(0, "varbinary", false)]).as_deref(),
            Some("0x00ab")
        );
        let text = Value::Bytes("Zoë".as_bytes().to_vec());
        assert_eq!(
            key(vec![text], &[column(0, "varchar", false)]).as_deref(),
            Some("Zoë")
        );
    }

    #[test]
    fn a_key_column_missing_from_the_image_gives_no_key() {
        let key = [column(0, "int", false), column(2, "int", false)];
        assert_eq!(key_positions(&[true, false, true], &key), Some(vec![0, 1]));
        assert_eq!(key_positions(&[true, true, false], &key), None);
        assert_eq!(key_positions(&[true], &key), None);
    }

    #[test]
    fn over_the_bound_a_table_is_given_whole() {
        let mut changes = Changes::default();
        for n in 0..=MAX_KEYS_PER_TABLE {
            changes.row("t", n.to_string(), false);
        }
        assert_eq!(changes.take(), [TableChange::Whole { table: "t".into() }]);
    }
}
