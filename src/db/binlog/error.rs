//! What can stop a binlog reader, sorted by what the follower does about it.

use super::BinlogPosition;

/// Why a reader could not start or go on. After any of these the reader is spent:
/// drop it and connect again (from the last checkpoint, or from the end after
/// [`BinlogError::PositionLost`]).
#[derive(Debug, thiserror::Error)]
pub enum BinlogError {
    /// The saved position no longer exists on this server: its binlog was purged,
    /// `RESET MASTER` ran, or it is another server. Changes may have been missed:
    /// purge everything followed and start at the end.
    #[error("binlog position {position} no longer exists on the server: {reason}")]
    PositionLost {
        position: String,
        reason: String,
        #[source]
        source: Option<mysql_async::Error>,
    },
    /// The server writes no binlog (`log_bin` is off).
    #[error("the server writes no binlog: start it with log_bin (and binlog_format=ROW)")]
    NotEnabled,
    /// The server logs statements, not rows (`binlog_format` is `STATEMENT` or
    /// `MIXED`): row changes cannot be told from it.
    #[error("the server's binlog_format is {0}, not ROW: set binlog_format=ROW")]
    NotRowBased(String),
    /// MariaDB's `log_bin_compress` is on, or a compressed event arrived: its rows
    /// cannot be read, and skipping it would lose a change.
    #[error("MariaDB's binlog compression (log_bin_compress) hides row changes{}: turn log_bin_compress off", at_position(.0.as_ref()))]
    Compressed(Option<BinlogPosition>),
    /// The reader would register with the server's own `server_id`.
    #[error("binlog_server_id {0} is the server's own server_id: choose another")]
    SameServerId(u32),
    /// An event this reader does not know and may not ignore.
    #[error("unknown binlog event type {event_type} at {position}")]
    UnknownEvent {
        event_type: u8,
        position: BinlogPosition,
    },
    /// The connection's user lacks a privilege the reader needs.
    #[error(
        "the database user lacks {missing}: GRANT REPLICATION SLAVE, {monitor} ON *.* TO the user",
        monitor = "BINLOG MONITOR (MariaDB) or REPLICATION CLIENT (MySQL)"
    )]
    Privileges {
        missing: String,
        #[source]
        source: Option<mysql_async::Error>,
    },
    /// The database URL cannot be used.
    #[error("bad database URL")]
    Url(#[source] mysql_async::UrlError),
    /// The server could not be reached, or the stream broke, or went silent past
    /// the heartbeat limit.
    #[error("binlog connection: {context}")]
    Connection {
        context: String,
        #[source]
        source: Option<mysql_async::Error>,
    },
    /// An event could not be decoded.
    #[error("unreadable binlog event at {position}")]
    Decode {
        position: BinlogPosition,
        #[source]
        source: std::io::Error,
    },
}

fn at_position(position: Option<&BinlogPosition>) -> String {
    position
        .map(|p| format!(" (event at {p})"))
        .unwrap_or_default()
}

/// Server error codes that mean the requested binlog position is gone.
const POSITION_LOST_CODES: [u16; 3] = [
    // ER_MASTER_FATAL_ERROR_READING_BINLOG: file purged, offset past the end or
    // inside an event, binlog from another server.
    1236, // ER_UNKNOWN_TARGET_BINLOG
    1373, // ER_MASTER_HAS_PURGED_REQUIRED_GTIDS (MySQL)
    1789,
];

/// ER_SPECIFIC_ACCESS_DENIED_ERROR and ER_ACCESS_DENIED_ERROR.
const ACCESS_DENIED_CODES: [u16; 2] = [1227, 1045];

impl BinlogError {
    /// Sorts a driver error met while reading from `position`.
    pub(crate) fn from_driver(
        error: mysql_async::Error,
        context: &str,
        position: &BinlogPosition,
    ) -> Self {
        if let mysql_async::Error::Server(server) = &error {
            if POSITION_LOST_CODES.contains(&server.code) {
                return Self::PositionLost {
                    position: position.to_string(),
                    reason: format!("server error {}: {}", server.code, server.message),
                    source: Some(error),
                };
            }
            if ACCESS_DENIED_CODES.contains(&server.code) {
                return Self::Privileges {
                    missing: format!("a privilege ({})", server.message),
                    source: Some(error),
                };
            }
        }
        Self::Connection {
            context: context.to_owned(),
            source: Some(error),
        }
    }

    pub(crate) fn connection(context: impl Into<String>, source: mysql_async::Error) -> Self {
        Self::Connection {
            context: context.into(),
            source: Some(source),
        }
    }
}
