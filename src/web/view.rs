//! What page templates get besides their own data (who is looking, a flash
//! message), and the responders that keep admin answers out of every cache.

use rocket::http::{Header, Status};
use rocket::request::{FlashMessage, FromRequest, Outcome, Request};
use rocket::response::{self, Body, Flash, Redirect, Responder};
use rocket_dyn_templates::Template;
use serde::Serialize;

use super::auth::{AdminSession, AuthError};
use crate::web::error::AppError;

/// What templates need of a logged-in admin: the name, and the CSRF token that
/// every form (the logout button in the header too) must send back.
#[derive(Debug, Clone, Serialize)]
pub struct AdminView {
    pub username: String,
    pub csrf: String,
}

impl From<&AdminSession> for AdminView {
    fn from(session: &AdminSession) -> Self {
        Self {
            username: session.username.clone(),
            csrf: session.csrf_token().to_owned(),
        }
    }
}

/// A one-time message shown on the page after a redirect (`success` or `error`).
#[derive(Debug, Clone, Serialize)]
pub struct FlashView {
    pub kind: String,
    pub message: String,
}

/// Who is looking at a page anyone may see. Visitors get the shared page; the
/// admin gets edit buttons, and the answer is marked private.
///
/// Flash messages are read for the admin only: reading one removes its cookie
/// (a `Set-Cookie`), which would only keep a visitor's page out of the cache.
pub struct Viewer {
    pub admin: Option<AdminView>,
    pub flash: Option<FlashView>,
}

impl Viewer {
    pub fn is_admin(&self) -> bool {
        self.admin.is_some()
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Viewer {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let admin = request
            .guard::<AdminSession>()
            .await
            .succeeded()
            .map(|session| AdminView::from(&session));
        let flash = if admin.is_some() {
            flash_of(request).await
        } else {
            None
        };
        Outcome::Success(Self { admin, flash })
    }
}

/// The pending flash message, consumed.
async fn flash_of(request: &Request<'_>) -> Option<FlashView> {
    request
        .guard::<FlashMessage<'_>>()
        .await
        .succeeded()
        .map(flash_view)
}

/// A flash message for a template; its cookie is removed with this response.
pub fn flash_view(flash: FlashMessage<'_>) -> FlashView {
    let (kind, message) = flash.into_inner();
    FlashView { kind, message }
}

/// Marks a response as nobody's to store: `Cache-Control: private, no-store`.
fn set_private(response: &mut rocket::Response<'_>) {
    response.set_header(Header::new("Cache-Control", "private, no-store"));
}

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
            set_private(&mut response);
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

/// Why an admin page is not shown: no session on a page (to the login page and
/// back), or an error page (403 for a POST without session or CSRF token, 404, ...).
pub enum Denied {
    Login { next: String },
    Error(AppError),
}

impl From<AppError> for Denied {
    fn from(error: AppError) -> Self {
        Self::Error(error)
    }
}

impl From<AuthError> for Denied {
    fn from(error: AuthError) -> Self {
        Self::Error(error.into())
    }
}

/// The session for an admin page at `here`: without one, the login page (which
/// comes back here); with logins not configured, a 403 that says how to.
pub fn page_session(
    session: Result<AdminSession, AuthError>,
    here: &str,
) -> Result<AdminSession, Denied> {
    match session {
        Ok(session) => Ok(session),
        Err(AuthError::LoginRequired) => Err(Denied::Login {
            next: here.to_owned(),
        }),
        Err(other) => Err(other.into()),
    }
}

impl<'r> Responder<'r, 'static> for Denied {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        match self {
            Self::Login { next } => {
                let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
                AdminReply::Redirect(Redirect::to(format!("/admin/login?next={next}")))
                    .respond_to(request)
            }
            Self::Error(error) => {
                let mut response = error.respond_to(request)?;
                set_private(&mut response);
                Ok(response)
            }
        }
    }
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
        set_private(&mut response);
        Ok(response)
    }
}

/// `next` if it is a path on this site, else `/`: a login must not be a way to
/// send someone elsewhere (an open redirect).
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.chars().any(char::is_control)
                && rocket::http::uri::Origin::parse(path).is_ok() =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(local_path(Some("/users/3/edit")), "/users/3/edit");
        assert_eq!(local_path(Some("/admin/cache?x=1")), "/admin/cache?x=1");
        for outside in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "users",
            "",
            "/a b",
            "/<x>",
            "/é",
        ] {
            assert_eq!(local_path(Some(outside)), "/", "{outside}");
        }
        assert_eq!(local_path(None), "/");
    }
}
