//! What a server offers a binlog reader, asked before following it.

use std::fmt;

use super::BinlogError;

/// MariaDB or MySQL: their binlogs differ in GTIDs and in MariaDB's own events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    MariaDb,
    MySql,
}

impl fmt::Display for Flavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MariaDb => "MariaDB",
            Self::MySql => "MySQL",
        })
    }
}

/// What the server offers, for `binlog = "auto" | "on" | "off"` and the start-up
/// line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent facts the server reports, not a state machine"
)]
pub struct ServerBinlog {
    pub flavour: Flavour,
    /// `VERSION()`, as the server says it.
    pub version: String,
    /// `log_bin`: whether the server writes a binlog at all.
    pub log_bin: bool,
    /// `binlog_format`: `ROW`, `MIXED` or `STATEMENT`.
    pub binlog_format: String,
    /// `binlog_row_image`: `FULL`, `NOBLOB` or `MINIMAL` (then an update's
    /// before image holds only the primary key, which is all the reader needs).
    pub binlog_row_image: String,
    /// MariaDB's `log_bin_compress` (always false on MySQL).
    pub log_bin_compress: bool,
    /// The server's own `server_id`: a reader must register with another.
    pub server_id: u32,
    /// The user holds `REPLICATION SLAVE` (to read the binlog).
    pub replication_slave: bool,
    /// The user holds `BINLOG MONITOR` (MariaDB) or `REPLICATION CLIENT` (MySQL),
    /// to ask where the binlog ends.
    pub binlog_monitor: bool,
}

impl ServerBinlog {
    /// Why a reader cannot follow this server, one line each, naming what to
    /// change; empty when it can.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.log_bin {
            problems.push("the server writes no binlog: start it with log_bin".to_owned());
        } else if !self.binlog_format.eq_ignore_ascii_case("ROW") {
            problems.push(format!(
                "binlog_format is {}: set binlog_format=ROW",
                self.binlog_format
            ));
        }
        if self.log_bin_compress {
            problems.push("log_bin_compress is on: turn it off".to_owned());
        }
        let monitor = match self.flavour {
            Flavour::MariaDb => "BINLOG MONITOR",
            Flavour::MySql => "REPLICATION CLIENT",
        };
        let missing: Vec<&str> = [
            (!self.replication_slave).then_some("REPLICATION SLAVE"),
            (!self.binlog_monitor).then_some(monitor),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !missing.is_empty() {
            problems.push(format!(
                "the database user lacks {}: GRANT {} ON *.* TO it",
                missing.join(" and "),
                missing.join(", ")
            ));
        }
        problems
    }

    /// Whether a reader can follow this server (no [`problems`](Self::problems)).
    pub fn followable(&self) -> bool {
        self.problems().is_empty()
    }
}

/// Asks the server at `url` what it offers a binlog reader.
pub async fn probe(url: &str) -> Result<ServerBinlog, BinlogError> {
    let opts = opts(url)?;
    let mut conn = mysql_async::Conn::new(opts)
        .await
        .map_err(|e| BinlogError::connection("connecting to probe the binlog", e))?;
    let probed = probe_on(&mut conn).await;
    // Nothing to do if the goodbye fails: the server drops the connection anyway.
    let _ = conn.disconnect().await;
    probed
}

/// The URL's options, for the host and port it names: mysql_async would otherwise
/// move a connection to 127.0.0.1 onto the server's Unix socket, which may not be
/// reachable from here (`prefer_socket`).
pub(crate) fn opts(url: &str) -> Result<mysql_async::Opts, BinlogError> {
    let opts = mysql_async::Opts::from_url(url).map_err(BinlogError::Url)?;
    Ok(mysql_async::OptsBuilder::from_opts(opts)
        .prefer_socket(false)
        .into())
}

pub(crate) async fn probe_on(conn: &mut mysql_async::Conn) -> Result<ServerBinlog, BinlogError> {
    let failed = |e| BinlogError::connection("probing the binlog settings", e);
    let rows: Vec<(String, u8, String, String, u32)> = super::sql::query(
        conn,
        "SELECT VERSION(), @@GLOBAL.log_bin, @@GLOBAL.binlog_format, \
         @@GLOBAL.binlog_row_image, @@GLOBAL.server_id",
    )
    .await
    .map_err(failed)?;
    let Some((version, log_bin, binlog_format, binlog_row_image, server_id)) =
        rows.into_iter().next()
    else {
        return Err(BinlogError::Connection {
            context: "the server answered no settings".to_owned(),
            source: None,
        });
    };
    let flavour = if version.contains("MariaDB") {
        Flavour::MariaDb
    } else {
        Flavour::MySql
    };
    let log_bin_compress = match flavour {
        Flavour::MariaDb => super::sql::query::<u8>(conn, "SELECT @@GLOBAL.log_bin_compress")
            .await
            .map_err(failed)?
            .first()
            .is_some_and(|on| *on != 0),
        Flavour::MySql => false,
    };
    // The current user's global privileges (`ALL PRIVILEGES` is listed one by one).
    let privileges: Vec<String> = super::sql::query(
        conn,
        "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES \
             WHERE GRANTEE = CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), \
             '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')",
    )
    .await
    .map_err(failed)?;
    let has = |name: &str| privileges.iter().any(|p| p.eq_ignore_ascii_case(name));
    Ok(ServerBinlog {
        flavour,
        version,
        log_bin: log_bin != 0,
        binlog_format,
        binlog_row_image,
        log_bin_compress,
        server_id,
        replication_slave: has("REPLICATION SLAVE"),
        binlog_monitor: has("BINLOG MONITOR") || has("REPLICATION CLIENT"),
    })
}
