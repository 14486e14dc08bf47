//! The JSON bodies the API accepts: declared as JSON, within Rocket's
//! `limits.json`, well-formed, and an object. Anything else is refused with the status that
//! says why (415, 413, 400), so a client learns what to fix instead of getting a
//! generic 400 or, worse, having a `text/plain` body accepted.

use rocket::data::{self, ByteUnit, Data, FromData, Limits, Outcome};
use rocket::http::Status;
use rocket::request::Request;
use rocket::serde::DeserializeOwned;

use crate::web::error::AppError;

/// A body of type `T`, read from a request declared `application/json` (or a
/// `+json` type). Take it as `Result<JsonBody<T>, BodyError>` and turn the error
/// into an [`AppError`] with `?`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// Why a body was refused.
#[derive(Debug)]
pub enum BodyError {
    /// The request did not declare JSON; holds what it declared, if anything.
    NotJson(Option<String>),
    /// Longer than `limits.json`.
    TooLarge(ByteUnit),
    /// The body could not be read (connection cut, invalid UTF-8).
    Unreadable(String),
    /// Not JSON, or not the shape `T` expects.
    Malformed(String),
}

impl BodyError {
    fn status(&self) -> Status {
        match self {
            Self::NotJson(_) => Status::UnsupportedMediaType,
            Self::TooLarge(_) => Status::PayloadTooLarge,
            Self::Unreadable(_) | Self::Malformed(_) => Status::BadRequest,
        }
    }
}

impl From<BodyError> for AppError {
    fn from(error: BodyError) -> Self {
        match error {
            BodyError::NotJson(declared) => Self::UnsupportedMediaType(format!(
                "The body must be sent as JSON with Content-Type: application/json (this \
                 request declared {}).",
                declared.as_deref().unwrap_or("no Content-Type")
            )),
            BodyError::TooLarge(limit) => Self::PayloadTooLarge(format!(
                "The body is larger than the {limit} this API accepts."
            )),
            BodyError::Unreadable(e) => {
                Self::BadRequest(format!("The body could not be read: {e}."))
            }
            BodyError::Malformed(e) => Self::BadRequest(format!("The body is not valid: {e}.")),
        }
    }
}

/// What a JSON value is, for an error message.
fn kind_of(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Whether the request says its body is JSON: `application/json` or any
/// `application/<name>+json`.
fn declares_json(request: &Request<'_>) -> bool {
    request.content_type().is_some_and(|ct| {
        let sub = ct.sub().as_str().to_ascii_lowercase();
        ct.top() == "application" && (sub == "json" || sub.ends_with("+json"))
    })
}

#[rocket::async_trait]
impl<'r, T: DeserializeOwned> FromData<'r> for JsonBody<T> {
    type Error = BodyError;

    async fn from_data(request: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        let outcome = |error: BodyError| Outcome::Error((error.status(), error));
        if !declares_json(request) {
            let declared = request.content_type().map(ToString::to_string);
            return outcome(BodyError::NotJson(declared));
        }
        let limit = request.limits().get("json").unwrap_or(Limits::JSON);
        let text = match data.open(limit).into_string().await {
            Ok(text) if text.is_complete() => text.into_inner(),
            Ok(_) => return outcome(BodyError::TooLarge(limit)),
            Err(e) => return outcome(BodyError::Unreadable(e.to_string())),
        };
        // Every body this app reads is an object; serde would also fill a
        // struct from an array, by position, and take `["a","b"]` for a user.
        let value: serde_json::Value = match serde_json::from_str(&text) {
            Ok(value) => value,
            Err(e) => return outcome(BodyError::Malformed(e.to_string())),
        };
        if !value.is_object() {
            return outcome(BodyError::Malformed(format!(
                "expected a JSON object, got {}",
                kind_of(&value)
            )));
        }
        match serde_json::from_value(value) {
            Ok(value) => Outcome::Success(Self(value)),
            Err(e) => outcome(BodyError::Malformed(e.to_string())),
        }
    }
}
