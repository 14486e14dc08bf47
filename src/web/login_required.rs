//! Admin pages need a session: without one, a page sends the admin to the
//! login page, which sends them back afterwards, but only to a path on this site.

use rocket::request::Request;
use rocket::response::{self, Redirect, Responder};

use super::auth::{AdminSession, AuthError};
use super::cache_control::NoStore;
use super::replies::AdminReply;
use crate::web::error::AppError;

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
                NoStore::Private.set_on(&mut response);
                Ok(response)
            }
        }
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
