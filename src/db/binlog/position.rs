//! Where a reader is in the binlog, as a checkpoint can store it.

use std::fmt;
use std::str::FromStr;

/// A place in the server's binlog: a file and the offset of the next event in it,
/// and the GTID of the transaction that ends there, where the server gave one.
///
/// Written as `<file>:<offset>` or `<file>:<offset>;<gtid>` (for example
/// `mariadb-bin.000003:1721;0-1-42`): binlog file names hold neither `:` at the end
/// nor `;`. On MariaDB a reader that resumes from a position with a GTID checks that
/// the server's binlog still has that transaction there (see
/// [`BinlogReader::connect`](super::BinlogReader::connect)).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BinlogPosition {
    file: String,
    offset: u64,
    gtid: Option<String>,
}

impl BinlogPosition {
    pub fn new(file: impl Into<String>, offset: u64) -> Self {
        Self {
            file: file.into(),
            offset,
            gtid: None,
        }
    }

    /// The same place, naming the GTID of the transaction that ends there.
    #[must_use]
    pub fn with_gtid(mut self, gtid: impl Into<String>) -> Self {
        self.gtid = Some(gtid.into());
        self
    }

    pub fn file(&self) -> &str {
        &self.file
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// MariaDB: `domain-server-sequence`; MySQL: `uuid:number`.
    pub fn gtid(&self) -> Option<&str> {
        self.gtid.as_deref()
    }
}

impl fmt::Display for BinlogPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.offset)?;
        if let Some(gtid) = &self.gtid {
            write!(f, ";{gtid}")?;
        }
        Ok(())
    }
}

/// A string that is not `<file>:<offset>[;<gtid>]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a binlog position (`<file>:<offset>[;<gtid>]`): {0:?}")]
pub struct BadPosition(String);

impl FromStr for BinlogPosition {
    type Err = BadPosition;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BadPosition(text.to_owned());
        let (place, gtid) = match text.split_once(';') {
            Some((place, gtid)) if !gtid.is_empty() => (place, Some(gtid.to_owned())),
            Some(_) => return Err(bad()),
            None => (text, None),
        };
        let (file, offset) = place.rsplit_once(':').ok_or_else(bad)?;
        if file.is_empty() {
            return Err(bad());
        }
        let offset = offset.parse().map_err(|_| bad())?;
        Ok(Self {
            file: file.to_owned(),
            offset,
            gtid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_reads_back_what_it_wrote() {
        for position in [
            BinlogPosition::new("mariadb-bin.000003", 1721),
            BinlogPosition::new("mariadb-bin.000003", 1721).with_gtid("0-1-42"),
            BinlogPosition::new("binlog.000001", 4)
                .with_gtid("3e11fa47-71ca-11e1-9e33-c80aa9429562:23"),
        ] {
            assert_eq!(position.to_string().parse::<BinlogPosition>(), Ok(position));
        }
    }

    #[test]
    fn what_is_not_a_position_is_refused() {
        for text in ["", "file", ":12", "file:", "file:x", "file:12;", "file:-1"] {
            assert!(text.parse::<BinlogPosition>().is_err(), "{text:?}");
        }
    }
}
