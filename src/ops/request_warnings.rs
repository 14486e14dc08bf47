//! Warnings that requests cause (a malformed request, a duplicate `Host`, a
//! database or cache store that failed one), written at most once per
//! [`INTERVAL`] per kind with the count of those left out, and with the request's
//! path cut to [`MAX_LOGGED_PATH`] bytes: a client sending junk in a loop writes a
//! line every ten seconds, each of bounded length, not one line per request.
//!
//! The state is one slot per [`WarningKind`], a fixed set, so nothing a request
//! sends grows it. It is per process (Rocket's own warnings reach it through the
//! logging bridge, which is per process too).

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Least time between two lines of the same kind.
pub const INTERVAL: Duration = Duration::from_secs(10);
/// The longest path a log line carries; longer ones are cut, so that a client
/// cannot make one line arbitrarily long.
pub const MAX_LOGGED_PATH: usize = 256;

/// What a request made go wrong; one throttle each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningKind {
    /// Rocket could not parse the request (a method or URI it refuses).
    MalformedRequest,
    /// More than one `Host` header.
    DuplicateHost,
    /// `MySQL` could not serve the request.
    DatabaseUnavailable,
    /// The cache store could not serve an admin operation.
    CacheUnavailable,
    /// The admin session store could not be read.
    SessionStore,
    /// A request hit a bug (a 500).
    Internal,
    /// A read replica failed a render's read (the primary served it).
    ReplicaFailed,
}

impl WarningKind {
    const ALL: usize = 7;

    fn slot(self) -> usize {
        self as usize
    }
}

#[derive(Clone, Copy)]
struct Slot {
    last: Option<Instant>,
    left_out: u64,
}

static SLOTS: Mutex<[Slot; WarningKind::ALL]> = Mutex::new(
    [Slot {
        last: None,
        left_out: 0,
    }; WarningKind::ALL],
);

/// Whether a line of `kind` may be written now; `Some(n)` with the number left
/// out since the last one, `None` when this one is left out (and counted).
pub fn admit(kind: WarningKind) -> Option<u64> {
    let now = Instant::now();
    let mut slots = SLOTS.lock().unwrap_or_else(PoisonError::into_inner);
    let slot = &mut slots[kind.slot()];
    if slot
        .last
        .is_some_and(|at| now.duration_since(at) < INTERVAL)
    {
        slot.left_out = slot.left_out.saturating_add(1);
        return None;
    }
    let left_out = std::mem::take(&mut slot.left_out);
    slot.last = Some(now);
    Some(left_out)
}

/// The suffix telling how many lines like this one were left out.
pub fn left_out_note(left_out: u64) -> String {
    if left_out == 0 {
        String::new()
    } else {
        format!(
            " ({left_out} more like this in the last {}s, not logged)",
            INTERVAL.as_secs()
        )
    }
}

/// Writes a warning of `kind` unless one was written within [`INTERVAL`];
/// `message` is built only when it is written.
pub fn warn(kind: WarningKind, message: impl FnOnce() -> String) {
    if let Some(left_out) = admit(kind) {
        rocket::warn!("{}{}", message(), left_out_note(left_out));
    }
}

/// As [`warn`], at the error level (a bug a request ran into).
pub fn error(kind: WarningKind, message: impl FnOnce() -> String) {
    if let Some(left_out) = admit(kind) {
        rocket::error!("{}{}", message(), left_out_note(left_out));
    }
}

/// At most `max` bytes of `text`, cut at a character boundary, marked when cut.
pub fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let end = (0..=max)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    format!("{}...", &text[..end])
}

/// A request's method and target as a log line shows them: the URI (path and
/// query) cut to [`MAX_LOGGED_PATH`] bytes.
pub fn request_label(request: &rocket::Request<'_>) -> String {
    format!(
        "{} {}",
        request.method(),
        cut(&request.uri().to_string(), MAX_LOGGED_PATH)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_paths_are_cut_at_a_character_boundary() {
        assert_eq!(cut("/users/1", 256), "/users/1");
        assert_eq!(cut("/abcdef", 4), "/abc...");
        assert_eq!(cut("/é", 2), "/...");
    }

    #[test]
    fn one_line_per_interval_then_the_count_of_those_left_out() {
        // The only test of this kind's slot, so no other test moves it.
        let kind = WarningKind::SessionStore;
        assert!(admit(kind).is_some());
        for _ in 0..5 {
            assert_eq!(admit(kind), None);
        }
        let mut slots = SLOTS.lock().unwrap();
        slots[kind.slot()].last = Some(Instant::now().checked_sub(INTERVAL).unwrap());
        drop(slots);
        assert_eq!(admit(kind), Some(5));
        assert_eq!(
            left_out_note(5),
            " (5 more like this in the last 10s, not logged)"
        );
        assert_eq!(left_out_note(0), "");
    }
}
