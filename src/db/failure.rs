//! Which query errors mean "`MySQL` cannot be reached right now" (the request may
//! succeed later: a 503) as opposed to a query that is wrong (a bug: a 500).
//!
//! diesel-async hands us every driver failure as `DatabaseErrorKind::Unknown` with
//! the driver's message, so a lost connection is told apart by that message.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// Driver and server messages that say the connection, not the query, failed.
const CONNECTION_MESSAGES: &[&str] = &[
    // mysql_async's I/O errors: refused, reset, broken pipe, timed out.
    "Input/output error",
    "Connection to the server is closed",
    "Pool was disconnected",
    "Packet out of order",
    "Unexpected packet",
    // Server side: the server is stopping, or this connection was killed.
    "Server shutdown in progress",
    "Connection was killed",
    // Another transaction held a row too long: retrying later succeeds.
    "Lock wait timeout exceeded",
    "Deadlock found",
];

/// Whether `error` is a failure to reach or keep `MySQL` (or a transient conflict
/// with another transaction) rather than a query that can never succeed.
pub fn is_unavailable(error: &DieselError) -> bool {
    match error {
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::SerializationFailure,
            _,
        ) => true,
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, info) => {
            let message = info.message();
            CONNECTION_MESSAGES
                .iter()
                .any(|known| message.contains(known))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database_error(kind: DatabaseErrorKind, message: &str) -> DieselError {
        DieselError::DatabaseError(kind, Box::new(message.to_owned()))
    }

    #[test]
    fn a_lost_or_refused_connection_is_unavailable() {
        for message in [
            "Input/output error: Connection refused (os error 111)",
            "Input/output error: broken pipe",
            "Driver error: `Connection to the server is closed.'",
            "Server shutdown in progress",
            "Lock wait timeout exceeded; try restarting transaction",
        ] {
            let error = database_error(DatabaseErrorKind::Unknown, message);
            assert!(is_unavailable(&error), "{message}");
        }
        assert!(is_unavailable(&database_error(
            DatabaseErrorKind::ClosedConnection,
            "gone"
        )));
    }

    #[test]
    fn a_constraint_or_a_wrong_query_is_not_unavailable() {
        for (kind, message) in [
            (
                DatabaseErrorKind::UniqueViolation,
                "Duplicate entry 'a' for key 'x'",
            ),
            (
                DatabaseErrorKind::ForeignKeyViolation,
                "Cannot add or update a child row",
            ),
            (
                DatabaseErrorKind::NotNullViolation,
                "Column 'name' cannot be null",
            ),
            (DatabaseErrorKind::CheckViolation, "CONSTRAINT `c` failed"),
            (
                DatabaseErrorKind::Unknown,
                "Table 'users.user' doesn't exist",
            ),
            (
                DatabaseErrorKind::Unknown,
                "Data too long for column 'name' at row 1",
            ),
        ] {
            assert!(!is_unavailable(&database_error(kind, message)), "{message}");
        }
        assert!(!is_unavailable(&DieselError::NotFound));
    }
}
