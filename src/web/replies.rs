//! The responders of pages and admin answers: [`Shown`] for what anyone may see
//! (private when the admin looks), [`AdminReply`] for the admin's own pages,
//! which no cache keeps.

use rocket::http::Status;
use rocket::request::Request;
use rocket::response::{self, Body, Flash, Redirect, Responder};
use rocket_dyn_templates::Template;

use super::cache_control::NoStore;

/// An answer that is private (`Cache-Control: private, no-store`) when `private`
/// is set: a page anyone may see, when the admin is the one looking, or an admin
/// answer of the JSON API.
pub struct Shown<R> {
    pub inner: R,
    pub private: bool,
}

/// Largest piece a rendered page is handed to the connection in.
const MAX_PAGE_CHUNK: usize = 64 * 1024;

impl<'r, 'o: 'r, R: Responder<'r, 'o>> Responder<'r, 'o> for Shown<R> {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'o> {
        let mut response = self.inner.respond_to(request)?;
        if self.private {
            NoStore::Private.set_on(&mut response);
        }
        // A rendered page is in memory already: hand it to the connection in one
        // piece (Rocket's default is 4 KiB chunks, each a wake-up of the writing
        // task), as the cache does for its hits; the cap bounds what a slow
        // reader holds.
        if let Some(len) = response.body().preset_size() {
            response.set_max_chunk_size(len.clamp(Body::DEFAULT_MAX_CHUNK, MAX_PAGE_CHUNK));
        }
        Ok(response)
    }
}

/// What an admin page answers; never stored by a shared cache or a browser.
pub enum AdminReply {
    /// A page with its status (422 for a form shown again with errors).
    Page(Status, Template),
    /// Post/Redirect/Get after a write, with a message for the next page.
    Done(Flash<Redirect>),
    /// Elsewhere, e.g. back where the admin was going before logging in.
    Redirect(Redirect),
}

impl AdminReply {
    pub fn page(template: Template) -> Self {
        Self::Page(Status::Ok, template)
    }

    pub fn done(to: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Done(Flash::success(Redirect::to(to.into()), message.into()))
    }

    pub fn failed(to: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Done(Flash::error(Redirect::to(to.into()), message.into()))
    }
}

impl<'r> Responder<'r, 'static> for AdminReply {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        let mut response = match self {
            Self::Page(status, template) => {
                let mut response = template.respond_to(request)?;
                response.set_status(status);
                response
            }
            Self::Done(flash) => flash.respond_to(request)?,
            Self::Redirect(redirect) => redirect.respond_to(request)?,
        };
        NoStore::Private.set_on(&mut response);
        Ok(response)
    }
}
