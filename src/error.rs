//! The one error type of the web layer and its responder.
//!
//! Handlers return `Result<_, AppError>`. Each variant carries what the user may
//! read; the underlying cause, when there is one, is logged and never shown.
//! Under `/api` the answer is JSON, elsewhere an HTML page. Diesel's `NotFound`
//! becomes 404; a lost connection or pool timeout becomes 503 with `Retry-After`.

use std::io::Cursor;

use rocket::http::{ContentType, Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket_dyn_templates::{context, Template};

use crate::db::AcquireError;

/// Seconds a client is asked to wait after a 503.
pub const RETRY_AFTER_SECS: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The thing asked for does not exist; the message says what.
    #[error("{0}")]
    NotFound(String),
    /// The request itself is wrong; the message says how to fix it.
    #[error("{0}")]
    BadRequest(String),
    /// `MySQL` cannot be reached or is overloaded; the cause is logged.
    #[error("the database is unavailable")]
    Unavailable(String),
    /// A bug or an unexpected state; the cause is logged.
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    pub fn status(&self) -> Status {
        match self {
            Self::NotFound(_) => Status::NotFound,
            Self::BadRequest(_) => Status::BadRequest,
            Self::Unavailable(_) => Status::ServiceUnavailable,
            Self::Internal(_) => Status::InternalServerError,
        }
    }

    /// What the user reads.
    pub fn public_message(&self) -> String {
        match self {
            Self::NotFound(m) | Self::BadRequest(m) => m.clone(),
            Self::Unavailable(_) => {
                "The database is unavailable right now. Please try again in a few seconds."
                    .to_owned()
            }
            Self::Internal(_) => "Something went wrong on our side.".to_owned(),
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::Error as E;
        match error {
            E::NotFound => Self::NotFound("No such record.".to_owned()),
            // Server-side failures of a running query (connection lost, server gone,
            // lock wait) surface as database errors: the request may succeed later.
            E::DatabaseError(..) | E::BrokenTransactionManager => {
                Self::Unavailable(error.to_string())
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<AcquireError> for AppError {
    fn from(error: AcquireError) -> Self {
        Self::Unavailable(error.to_string())
    }
}

/// Whether errors for this request are answered in JSON.
pub fn wants_json(request: &Request<'_>) -> bool {
    let path = request.uri().path();
    path == "/api" || path.starts_with("/api/")
}

/// The error body for `status`, as JSON under `/api` and as a page elsewhere.
pub fn error_response(
    request: &Request<'_>,
    status: Status,
    message: &str,
) -> response::Result<'static> {
    let mut response = if wants_json(request) {
        let body = serde_json::json!({
            "error": { "status": status.code, "reason": status.reason_lossy(), "message": message }
        })
        .to_string();
        Response::build()
            .header(ContentType::JSON)
            .sized_body(body.len(), Cursor::new(body))
            .finalize()
    } else {
        let page = Template::render(
            "error/page",
            context! { title: status.reason_lossy(), code: status.code, message },
        );
        page.respond_to(request)?
    };
    response.set_status(status);
    if status == Status::ServiceUnavailable {
        response.set_header(Header::new("Retry-After", RETRY_AFTER_SECS.to_string()));
    }
    // Error pages must not be kept, but for a 404: the page cache keeps those
    // for its own short lifetime (`cache.not_found_ttl`).
    if status != Status::NotFound {
        response.set_header(Header::new("Cache-Control", "no-store"));
    }
    Ok(response)
}

impl<'r> Responder<'r, 'static> for AppError {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        match &self {
            Self::Unavailable(cause) => rocket::warn!(
                "{} {}: database unavailable: {cause}",
                request.method(),
                request.uri()
            ),
            Self::Internal(cause) => {
                rocket::error!("{} {}: {cause}", request.method(), request.uri());
            }
            Self::NotFound(_) | Self::BadRequest(_) => {}
        }
        error_response(request, self.status(), &self.public_message())
    }
}
