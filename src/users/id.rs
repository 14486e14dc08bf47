//! A user id as it appears in a path: the one spelling each user has.
//!
//! Routes take `Result<UserId, NoSuchUser>` so that a misspelt id gets the same
//! 404 page (or JSON) as an id that does not exist, worded with what was typed.

use rocket::request::FromParam;

use crate::db::users::UserId;
use crate::web::error::AppError;

/// A path segment that is not a user id written plainly; it is kept as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoSuchUser(pub String);

impl From<NoSuchUser> for AppError {
    fn from(NoSuchUser(raw): NoSuchUser) -> Self {
        Self::NotFound(format!("There is no user {raw:?}."))
    }
}

/// Strict: a positive number written plainly (`11`, not `011` or `+11`), so that
/// each user has one address (and one cache entry).
impl<'a> FromParam<'a> for UserId {
    type Error = NoSuchUser;

    fn from_param(raw: &'a str) -> Result<Self, Self::Error> {
        raw.parse::<u32>()
            .ok()
            .filter(|id| *id > 0 && id.to_string() == raw)
            .map(UserId)
            .ok_or_else(|| NoSuchUser(raw.to_owned()))
    }
}

/// The path segment as it was sent, valid or not (for links back to a form).
pub fn segment(id: &Result<UserId, NoSuchUser>) -> String {
    match id {
        Ok(id) => id.to_string(),
        Err(NoSuchUser(raw)) => raw.clone(),
    }
}

/// The id as user routes write it (the cache policies' spelling); `None` for
/// anything [`UserId::from_param`] refuses.
pub fn canonical_user_id(raw: &str) -> Option<String> {
    UserId::from_param(raw).ok().map(|id| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_plain_spelling_of_a_positive_number_is_an_id() {
        assert_eq!(UserId::from_param("11"), Ok(UserId(11)));
        for bad in [
            "011",
            "+11",
            "0",
            "-1",
            "1.0",
            " 1",
            "",
            "4294967296",
            "abc",
        ] {
            assert_eq!(
                UserId::from_param(bad),
                Err(NoSuchUser(bad.to_owned())),
                "{bad}"
            );
            assert_eq!(canonical_user_id(bad), None, "{bad}");
        }
        assert_eq!(canonical_user_id("7").as_deref(), Some("7"));
    }
}
