//! `Authorization: Bearer <admin.api_token>` for the JSON API's writes.

use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use subtle::ConstantTimeEq;

use super::{digest, Auth, AuthError};

/// A request that carries the admin API token. As a guard it fails with 401 (no
/// or wrong token) or 403 (no token configured); take it as
/// `Result<ApiAdmin, AuthError>` to answer the failure in JSON yourself.
#[derive(Debug, Clone, Copy)]
pub struct ApiAdmin;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ApiAdmin {
    type Error = AuthError;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let expected = request
            .rocket()
            .state::<Auth>()
            .and_then(|auth| auth.api_token_digest);
        let Some(expected) = expected else {
            return Outcome::Error((Status::Forbidden, AuthError::NotConfigured));
        };
        let Some(given) = request
            .headers()
            .get_one("Authorization")
            .and_then(bearer_token)
        else {
            return Outcome::Error((Status::Unauthorized, AuthError::MissingToken));
        };
        if bool::from(digest(given).ct_eq(&expected)) {
            Outcome::Success(ApiAdmin)
        } else {
            Outcome::Error((Status::Unauthorized, AuthError::BadToken))
        }
    }
}

/// The token of a `Bearer` credential (the scheme is case-insensitive).
pub(crate) fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn bearer_credentials_are_parsed() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer   abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer  "), None);
    }
}
