//! Logging through `tracing`, set up once per process from the first figment
//! [`crate::build`] is given.
//!
//! - `log_level` (Rocket's key: `off`, `critical`, `normal`, `debug`) sets how much
//!   is written; `log_format` (`text`, the default, or `json`: one JSON object a
//!   line) how.
//! - Rocket and the crates under it log through the `log` crate: a bridge hands
//!   their records to `tracing`, minus Rocket's own per-request lines (`GET /x:`,
//!   `Matched: ...`, `No matching routes for ...`): the app writes one line per
//!   request itself (`crate::ops::request_log`), so a request is one line. At
//!   `debug` they are all kept, for following Rocket's routing.
//! - Rocket's warning for each malformed request is written once per ten
//!   seconds at most, with the count of those left out (`crate::ops::request_warnings`).
//! - A process holds one subscriber: the first call wins, later ones (more app
//!   instances in a test process) change nothing. Tests run with `log_level = off`
//!   unless `TEST_LOG` is set, so they stay silent.

use std::io::IsTerminal;
use std::sync::Once;

use figment::Figment;
use rocket::config::LogLevel;
use serde::Deserialize;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;

use crate::ops::request_warnings::{admit, left_out_note, WarningKind};

/// `log_format`: how each line is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line, its fields at the top level.
    Json,
}

/// The target of the one line written per request.
pub const REQUEST_TARGET: &str = "request";

/// `log_format` from the figment; `Err` names the key and the values it takes.
pub fn log_format(figment: &Figment) -> Result<LogFormat, String> {
    match figment.extract_inner::<LogFormat>("log_format") {
        Ok(format) => Ok(format),
        Err(e) if e.missing() => Ok(LogFormat::default()),
        Err(e) => Err(format!(
            "invalid `log_format` (ROCKET_LOG_FORMAT): {e}; it takes \"text\" or \"json\""
        )),
    }
}

/// Installs the subscriber and the `log` bridge, once per process; see the
/// module doc. An invalid `log_format` falls back to text here (the start-up
/// checks then stop the launch, naming it).
pub fn init(figment: &Figment) {
    static INIT: Once = Once::new();
    INIT.call_once(|| install(figment));
}

fn install(figment: &Figment) {
    let level = figment
        .extract_inner::<LogLevel>("log_level")
        .unwrap_or(LogLevel::Normal);
    let format = log_format(figment).unwrap_or_default();
    let colors = figment.extract_inner::<bool>("cli_colors").unwrap_or(true)
        && std::io::stdout().is_terminal();
    let max = max_level(level);
    // Rocket prints where it listens even at `critical` (warnings it logs, shown
    // as information); keep that.
    let launch = if max == LevelFilter::OFF {
        LevelFilter::OFF
    } else {
        max.max(LevelFilter::INFO)
    };
    let filter = Targets::new()
        .with_default(max)
        .with_target("rocket::launch", launch);
    let registry = tracing_subscriber::registry().with(filter);
    let installed = match format {
        LogFormat::Text => tracing::subscriber::set_global_default(
            registry.with(tracing_subscriber::fmt::layer().with_ansi(colors)),
        ),
        LogFormat::Json => tracing::subscriber::set_global_default(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false),
            ),
        ),
    };
    if installed.is_err() {
        // Someone else (an embedding program) owns the subscriber: leave it.
        return;
    }
    let bridge = RocketBridge {
        tracer: tracing_log::LogTracer::new(),
        debug: level == LogLevel::Debug,
    };
    if log::set_boxed_logger(Box::new(bridge)).is_ok() {
        // The records Rocket's own logger would show: `log`'s macros drop the
        // rest before they reach the bridge (at `critical`, only the launch
        // banner's warnings pass, shown as information).
        log::set_max_level(match max {
            LevelFilter::OFF => log::LevelFilter::Off,
            LevelFilter::WARN => log::LevelFilter::Warn,
            LevelFilter::INFO => log::LevelFilter::Info,
            _ => log::LevelFilter::Trace,
        });
    }
}

/// Rocket's levels as `tracing` filters (the same mapping Rocket's own logger uses).
fn max_level(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Off => LevelFilter::OFF,
        LogLevel::Critical => LevelFilter::WARN,
        LogLevel::Normal => LevelFilter::INFO,
        LogLevel::Debug => LevelFilter::TRACE,
    }
}

/// Hands `log` records to `tracing`, leaving out what the app's request line
/// says better, and what Rocket itself only shows when debugging.
struct RocketBridge {
    tracer: tracing_log::LogTracer,
    debug: bool,
}

impl RocketBridge {
    fn keeps(&self, record: &log::Record<'_>) -> bool {
        let from = |prefix: &str| record.module_path().is_some_and(|m| m.starts_with(prefix));
        if !self.debug && (from("hyper") || from("rustls") || from("h2")) {
            return false;
        }
        self.debug || !is_routine_request_record(record)
    }
}

/// Whether a record is one of Rocket's routine per-request lines, which the
/// app's request line replaces: the request (`GET /users/1 text/html:`) and the
/// indented details under it (`Matched: ...`, `Outcome: ...`, `Response
/// succeeded.`, `Responding with registered ... catcher.`, `No matching routes
/// for ...`, `Remote left`). What says something went wrong (a handler panicked,
/// a catcher failed) is kept, and so are Rocket's own unindented lines (launch,
/// signals, shutdown).
fn is_routine_request_record(record: &log::Record<'_>) -> bool {
    match record.target() {
        "rocket::server::_" => {
            record.level() > log::Level::Error
                || record.args().to_string().starts_with("No matching routes")
        }
        "rocket::server" if record.level() == log::Level::Info => {
            let message = record.args().to_string();
            message.ends_with(':')
                && message
                    .split_whitespace()
                    .next()
                    .is_some_and(|word| word.parse::<rocket::http::Method>().is_ok())
        }
        _ => false,
    }
}

/// Whether a record is Rocket's warning for a request it could not parse (a
/// method or URI it refuses); the details under it are left out with the other
/// indented lines.
fn is_malformed_request_record(record: &log::Record<'_>) -> bool {
    record.target() == "rocket::server"
        && record.level() == log::Level::Warn
        && record
            .args()
            .to_string()
            .starts_with("Bad incoming HTTP request")
}

impl log::Log for RocketBridge {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.tracer.enabled(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.keeps(record) {
            return;
        }
        // One per malformed request: any client can send them in a loop.
        if !self.debug && is_malformed_request_record(record) {
            let Some(left_out) = admit(WarningKind::MalformedRequest) else {
                return;
            };
            let note = left_out_note(left_out);
            self.tracer.log(
                &log::Record::builder()
                    .args(format_args!("{}{note}", record.args()))
                    .level(record.level())
                    .target(record.target())
                    .module_path(record.module_path())
                    .file(record.file())
                    .line(record.line())
                    .build(),
            );
            return;
        }
        // Rocket writes its launch banner as warnings so it shows at `critical`;
        // it is information.
        if record.target().starts_with("rocket::launch") && record.level() == log::Level::Warn {
            let args = *record.args();
            let info = log::Record::builder()
                .args(args)
                .level(log::Level::Info)
                .target(record.target())
                .module_path(record.module_path())
                .file(record.file())
                .line(record.line())
                .build();
            self.tracer.log(&info);
            return;
        }
        self.tracer.log(record);
    }

    fn flush(&self) {
        self.tracer.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::providers::Serialized;

    #[test]
    fn log_format_is_text_unless_json_and_a_typo_is_named() {
        let with =
            |value: &str| log_format(&Figment::from(Serialized::default("log_format", value)));
        assert_eq!(log_format(&Figment::new()), Ok(LogFormat::Text));
        assert_eq!(with("json"), Ok(LogFormat::Json));
        assert_eq!(with("text"), Ok(LogFormat::Text));
        let error = with("jsno").unwrap_err();
        assert!(
            error.contains("log_format") && error.contains("json"),
            "{error}"
        );
    }

    fn record_keeps(target: &str, level: log::Level, message: &str) -> bool {
        let bridge = RocketBridge {
            tracer: tracing_log::LogTracer::new(),
            debug: false,
        };
        let args = format_args!("{message}");
        let record = log::Record::builder()
            .args(args)
            .level(level)
            .target(target)
            .module_path(Some("rocket::server"))
            .build();
        bridge.keeps(&record)
    }

    #[test]
    fn rockets_routine_request_lines_are_left_out_and_failures_kept() {
        use log::Level::{Error, Info, Warn};
        let (line, details) = ("rocket::server", "rocket::server::_");
        assert!(!record_keeps(line, Info, "GET /users/1 text/html:"));
        assert!(!record_keeps(line, Info, "HEAD /users/1:"));
        assert!(!record_keeps(
            details,
            Info,
            "Matched: (show) GET /users/<id>"
        ));
        assert!(!record_keeps(
            details,
            Error,
            "No matching routes for GET /nope."
        ));
        assert!(!record_keeps(
            details,
            Warn,
            "Responding with registered (not_found) 404 catcher."
        ));
        assert!(!record_keeps(
            details,
            Warn,
            "Remote left: connection reset."
        ));
        assert!(record_keeps(details, Error, "Handler show panicked."));
        assert!(record_keeps(
            details,
            Error,
            "Catcher failed. Attempting 500 error catcher."
        ));
        assert!(record_keeps(
            line,
            Warn,
            "Received SIGTERM. Requesting shutdown."
        ));
        assert!(record_keeps(
            line,
            Info,
            "Graceful shutdown completed successfully."
        ));
        assert!(record_keeps(
            line,
            Info,
            "Server failed prior to shutdown: oops:"
        ));
        assert!(record_keeps("rocket_cache::db", Info, "migrated"));
    }
}
