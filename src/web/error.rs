//! The one error type of the web layer and its responder.
//!
//! Handlers return `Result<_, AppError>`. Each variant carries what the user may
//! read; the underlying cause, when there is one, is logged and never shown.
//! Under `/api` the answer is JSON, elsewhere an HTML page. Diesel's `NotFound`
//! becomes 404; a lost connection or pool timeout becomes 503 with `Retry-After`;
//! any other database error is a bug (500).
//! Invalid input is a 422 that names each wrong field (`error.fields` in JSON);
//! HTML forms show themselves again instead, with the same messages.

use std::io::Cursor;

use rocket::http::{ContentType, Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket_dyn_templates::{context, Template};

use super::cache_control::NoStore;
use crate::db::{failure, AcquireError};
use crate::ops::request_warnings::{error, request_label, warn, WarningKind};
use crate::users::validation::FieldErrors;

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
    /// A body in a format the route does not take (the API takes JSON only).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A body over the configured limit (`limits.json`).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// No or wrong credentials (the API's bearer token); the message says which.
    #[error("{0}")]
    Unauthorized(String),
    /// Not allowed: no login, a bad CSRF token, or writes not configured.
    #[error("{0}")]
    Forbidden(String),
    /// Input that breaks a rule, with a message per field.
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// The cache store cannot be reached for an admin operation; the cause is logged.
    #[error("the cache store is unavailable")]
    CacheUnavailable(String),
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
            Self::UnsupportedMediaType(_) => Status::UnsupportedMediaType,
            Self::PayloadTooLarge(_) => Status::PayloadTooLarge,
            Self::Unauthorized(_) => Status::Unauthorized,
            Self::Forbidden(_) => Status::Forbidden,
            Self::Invalid(_) => Status::UnprocessableEntity,
            Self::Unavailable(_) | Self::CacheUnavailable(_) => Status::ServiceUnavailable,
            Self::Internal(_) => Status::InternalServerError,
        }
    }

    /// What the user reads.
    pub fn public_message(&self) -> String {
        match self {
            Self::NotFound(m)
            | Self::BadRequest(m)
            | Self::UnsupportedMediaType(m)
            | Self::PayloadTooLarge(m)
            | Self::Unauthorized(m)
            | Self::Forbidden(m) => m.clone(),
            Self::Invalid(fields) => {
                let problems: Vec<String> = fields
                    .iter()
                    .map(|(field, problem)| format!("{field}: {problem}"))
                    .collect();
                format!("Some fields are not valid ({}).", problems.join("; "))
            }
            Self::CacheUnavailable(_) => {
                "The cache store is unavailable right now; nothing was changed in it.".to_owned()
            }
            Self::Unavailable(_) => {
                "The database is unavailable right now. Please try again in a few seconds."
                    .to_owned()
            }
            Self::Internal(_) => "Something went wrong on our side.".to_owned(),
        }
    }
}

impl From<diesel::result::Error> for AppError {
    /// Only a connection that failed is a 503 (the request may succeed later); any
    /// other query error (a constraint no rule caught, a wrong query) is a bug: 500.
    fn from(error: diesel::result::Error) -> Self {
        match error {
            diesel::result::Error::NotFound => Self::NotFound("No such record.".to_owned()),
            other if failure::is_unavailable(&other) => Self::Unavailable(other.to_string()),
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
    error_response_with(request, status, message, None)
}

/// [`error_response`] with a message per invalid field (`error.fields` in JSON).
pub fn error_response_with(
    request: &Request<'_>,
    status: Status,
    message: &str,
    fields: Option<&FieldErrors>,
) -> response::Result<'static> {
    let mut response = if wants_json(request) {
        let mut error = serde_json::json!({
            "status": status.code, "reason": status.reason_lossy(), "message": message
        });
        if let Some(fields) = fields {
            error["fields"] = serde_json::json!(fields);
        }
        let body = serde_json::json!({ "error": error }).to_string();
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
    if status == Status::Unauthorized && wants_json(request) {
        response.set_header(Header::new(
            "WWW-Authenticate",
            "Bearer realm=\"rocket-cache admin\"",
        ));
    }
    // Error pages must not be kept, but for a 404: the page cache keeps those
    // for its own short lifetime (`cache.not_found_ttl`).
    if status != Status::NotFound {
        NoStore::Anyone.set_on(&mut response);
    }
    Ok(response)
}

impl<'r> Responder<'r, 'static> for AppError {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        match &self {
            Self::Unavailable(cause) => warn(WarningKind::DatabaseUnavailable, || {
                format!("{}: database unavailable: {cause}", request_label(request))
            }),
            Self::Internal(cause) => error(WarningKind::Internal, || {
                format!("{}: {cause}", request_label(request))
            }),
            Self::CacheUnavailable(cause) => warn(WarningKind::CacheUnavailable, || {
                format!(
                    "{}: cache store unavailable: {cause}",
                    request_label(request)
                )
            }),
            Self::NotFound(_)
            | Self::BadRequest(_)
            | Self::UnsupportedMediaType(_)
            | Self::PayloadTooLarge(_)
            | Self::Unauthorized(_)
            | Self::Forbidden(_)
            | Self::Invalid(_) => {}
        }
        let fields = match &self {
            Self::Invalid(fields) => Some(fields),
            _ => None,
        };
        error_response_with(request, self.status(), &self.public_message(), fields)
    }
}
