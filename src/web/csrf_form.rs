//! An HTML form's fields plus its CSRF token, so that the fields can be one type
//! shared with the JSON API (which has no token) instead of a copy with one more
//! field.

use rocket::form::{self, DataField, FromForm, Options, ValueField};

/// The `csrf` field of a submitted form, and every other field parsed as `T`.
#[derive(Debug)]
pub struct CsrfForm<T> {
    pub csrf: Option<String>,
    pub fields: T,
}

/// Parsing state: the token once seen, and `T`'s own state for the rest.
pub struct CsrfContext<'r, T: FromForm<'r>> {
    csrf: Option<String>,
    fields: T::Context,
}

const TOKEN_FIELD: &str = "csrf";

#[rocket::async_trait]
impl<'r, T: FromForm<'r>> FromForm<'r> for CsrfForm<T> {
    type Context = CsrfContext<'r, T>;

    fn init(opts: Options) -> Self::Context {
        CsrfContext {
            csrf: None,
            fields: T::init(opts),
        }
    }

    fn push_value(ctxt: &mut Self::Context, field: ValueField<'r>) {
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
        Ok(Self {
            csrf: ctxt.csrf,
            fields: T::finalize(ctxt.fields)?,
        })
    }
}
