//! An HTML form's fields plus its CSRF token, so that the fields can be one type
//! shared with the JSON API (which has no token) instead of a copy with one more
//! field.
//!
//! A field sent twice (`name=a&name=b`) is refused with 400, as the JSON API
//! refuses a repeated key: Rocket would keep one of the values, and which one the
//! sender meant cannot be known.

use std::collections::HashSet;

use rocket::data::Limits;
use rocket::form::error::ErrorKind;
use rocket::form::{self, DataField, Errors, FromForm, Options, ValueField};
use rocket::http::Status;

use crate::web::error::AppError;

/// The `csrf` field of a submitted form, and every other field parsed as `T`.
#[derive(Debug)]
pub struct CsrfForm<T> {
    pub csrf: Option<String>,
    pub fields: T,
}

/// Parsing state: the token once seen, the names seen (to refuse a repeat), and
/// `T`'s own state for the rest. The names are bounded by the form's size limit.
pub struct CsrfContext<'r, T: FromForm<'r>> {
    csrf: Option<String>,
    seen: HashSet<String>,
    repeated: Option<String>,
    fields: T::Context,
}

/// Longest field name quoted back in an error.
const MAX_QUOTED_NAME: usize = 64;

const TOKEN_FIELD: &str = "csrf";

#[rocket::async_trait]
impl<'r, T: FromForm<'r>> FromForm<'r> for CsrfForm<T> {
    type Context = CsrfContext<'r, T>;

    fn init(opts: Options) -> Self::Context {
        CsrfContext {
            csrf: None,
            seen: HashSet::new(),
            repeated: None,
            fields: T::init(opts),
        }
    }

    fn push_value(ctxt: &mut Self::Context, field: ValueField<'r>) {
        let name = field.name.to_string();
        if ctxt.repeated.is_none() && !ctxt.seen.insert(name.clone()) {
            ctxt.repeated = Some(name);
        }
        if field.name.key_lossy().as_str() == TOKEN_FIELD {
            ctxt.csrf = Some(field.value.to_owned());
        } else {
            T::push_value(&mut ctxt.fields, field);
        }
    }

    async fn push_data(ctxt: &mut Self::Context, field: DataField<'r, '_>) {
        T::push_data(&mut ctxt.fields, field).await;
    }

    fn push_error(ctxt: &mut Self::Context, error: form::Error<'r>) {
        T::push_error(&mut ctxt.fields, error);
    }

    fn finalize(ctxt: Self::Context) -> form::Result<'r, Self> {
        if let Some(name) = ctxt.repeated {
            let name: String = name.chars().take(MAX_QUOTED_NAME).collect();
            let reason =
                format!("the field “{name}” was sent more than once; send each field once");
            return Err(form::Error::from(ErrorKind::Custom(
                Status::BadRequest,
                Box::new(std::io::Error::other(reason)),
            ))
            .into());
        }
        Ok(Self {
            csrf: ctxt.csrf,
            fields: T::finalize(ctxt.fields)?,
        })
    }
}

/// The error page for a form that could not be read: 413 naming `limits.form`,
/// else 400 with what was wrong (a repeated field, a malformed body).
pub fn refused(errors: &Errors<'_>, limits: &Limits) -> AppError {
    let reasons: Vec<String> = errors.iter().map(ToString::to_string).collect();
    match errors.status() {
        Status::PayloadTooLarge => AppError::PayloadTooLarge(too_large_message(
            limits.get("form").unwrap_or(Limits::FORM),
        )),
        _ => AppError::BadRequest(format!(
            "The form could not be read: {}.",
            reasons.join("; ")
        )),
    }
}

/// What a form over `limit` is told.
pub fn too_large_message(limit: rocket::data::ByteUnit) -> String {
    format!("The form is larger than the {limit} this site accepts; shorten it and send it again.")
}
