//! Error pages for requests that no route answered: HTML, or JSON under `/api`.

use rocket::http::Status;
use rocket::request::Request;
use rocket::response::{self, Responder};
use rocket::{catch, catchers, Catcher};

use crate::web::error::error_response;

pub fn catchers() -> Vec<Catcher> {
    catchers![not_found, unprocessable, internal, unavailable, any]
}

/// An error answer built from the status alone.
struct Caught {
    status: Status,
    message: &'static str,
}

impl<'r> Responder<'r, 'static> for Caught {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        error_response(request, self.status, self.message)
    }
}

#[catch(404)]
fn not_found() -> Caught {
    Caught {
        status: Status::NotFound,
        message: "There is nothing at this address.",
    }
}

#[catch(422)]
fn unprocessable() -> Caught {
    Caught {
        status: Status::UnprocessableEntity,
        message: "The request could not be understood.",
    }
}

#[catch(500)]
fn internal() -> Caught {
    Caught {
        status: Status::InternalServerError,
        message: "Something went wrong on our side.",
    }
}

#[catch(503)]
fn unavailable() -> Caught {
    Caught {
        status: Status::ServiceUnavailable,
        message: "The service is unavailable right now. Please try again in a few seconds.",
    }
}

#[catch(default)]
fn any(status: Status, _: &Request<'_>) -> Caught {
    Caught {
        status,
        message: status.reason_lossy(),
    }
}
