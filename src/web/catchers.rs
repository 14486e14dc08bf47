//! Error pages for requests that no route answered: HTML, or JSON under `/api`.

use std::borrow::Cow;

use rocket::data::Limits;
use rocket::http::Status;
use rocket::request::Request;
use rocket::response::{self, Responder};
use rocket::{catch, catchers, Catcher};

use crate::web::error::error_response;

pub fn catchers() -> Vec<Catcher> {
    catchers![
        not_found,
        unprocessable,
        too_large,
        internal,
        unavailable,
        any
    ]
}

/// An error answer built from the status (and the request's limits) alone.
struct Caught {
    status: Status,
    message: Cow<'static, str>,
}

impl<'r> Responder<'r, 'static> for Caught {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        error_response(request, self.status, &self.message)
    }
}

#[catch(404)]
fn not_found() -> Caught {
    Caught {
        status: Status::NotFound,
        message: "There is nothing at this address.".into(),
    }
}

#[catch(422)]
fn unprocessable() -> Caught {
    Caught {
        status: Status::UnprocessableEntity,
        message: "The request could not be understood.".into(),
    }
}

/// A body over its limit that no route read itself (a form): the answer names
/// the limit, so the sender knows how much to cut.
#[catch(413)]
fn too_large(request: &Request<'_>) -> Caught {
    let limits = request.limits();
    let message = match request.content_type() {
        Some(ct) if ct.is_form() => {
            crate::web::csrf_form::too_large_message(limits.get("form").unwrap_or(Limits::FORM))
        }
        Some(ct) if ct.is_form_data() => format!(
            "The form is larger than the {} this site accepts; send less.",
            limits.get("data-form").unwrap_or(Limits::DATA_FORM)
        ),
        _ => "The request body is larger than this address accepts.".to_owned(),
    };
    Caught {
        status: Status::PayloadTooLarge,
        message: message.into(),
    }
}

#[catch(500)]
fn internal() -> Caught {
    Caught {
        status: Status::InternalServerError,
        message: "Something went wrong on our side.".into(),
    }
}

#[catch(503)]
fn unavailable() -> Caught {
    Caught {
        status: Status::ServiceUnavailable,
        message: "The service is unavailable right now. Please try again in a few seconds.".into(),
    }
}

#[catch(default)]
fn any(status: Status, _: &Request<'_>) -> Caught {
    Caught {
        status,
        message: status.reason_lossy().into(),
    }
}
