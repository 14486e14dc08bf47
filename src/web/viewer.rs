//! What page templates get besides their own data: who is looking, and a
//! flash message.

use rocket::request::{FlashMessage, FromRequest, Outcome, Request};
use serde::Serialize;

use super::auth::AdminSession;

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
