//! `?page=N&per_page=M`, shared by the HTML list and the JSON API.
//!
//! Each page has one spelling: `page=01`, `per_page=+20`, `per_page=500` or a
//! repeated parameter is a 400, not another copy of a page. The cache policies
//! use [`canonical_page`] and [`canonical_per_page`], the parsers the routes use,
//! so no other spelling ever reaches the shared cache.

use rocket::request::{FromRequest, Outcome, Request};
use serde::Serialize;

use crate::error::AppError;

/// Rows per page when the request does not say.
pub const DEFAULT_PER_PAGE: u32 = 20;
/// Most rows per page; larger requests are clamped to it.
pub const MAX_PER_PAGE: u32 = 100;

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub per_page: u32,
}

impl PageRequest {
    /// Parses the raw parameters: missing means the default; anything but a whole
    /// number written plainly (`1`, not `01` or `+1`), within range, is a 400.
    pub fn parse(page: Option<&str>, per_page: Option<&str>) -> Result<Self, AppError> {
        let page = parse_number("page", page, u32::MAX)?.unwrap_or(1);
        let per_page =
            parse_number("per_page", per_page, MAX_PER_PAGE)?.unwrap_or(DEFAULT_PER_PAGE);
        Ok(Self { page, per_page })
    }

    /// From a request's query: as [`parse`](Self::parse), and a parameter given
    /// twice is a 400 (which one would the page show?).
    pub fn from_query(request: &Request<'_>) -> Result<Self, AppError> {
        let pairs: Vec<(&str, &str)> = request
            .uri()
            .query()
            .map(|q| q.segments().collect())
            .unwrap_or_default();
        let single = |name: &str| {
            let mut values = pairs.iter().filter(|(n, _)| *n == name).map(|(_, v)| *v);
            let first = values.next();
            match values.next() {
                Some(_) => Err(AppError::BadRequest(format!(
                    "`{name}` is given more than once; give it once."
                ))),
                None => Ok(first),
            }
        };
        Self::parse(single("page")?, single("per_page")?)
    }

    pub fn offset(self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.per_page)
    }

    /// Where this page stands among `total` rows; a page past the last is a 400
    /// that names the last page (page 1 of an empty table is fine).
    pub fn locate(self, total: u64) -> Result<PageInfo, AppError> {
        let pages = total.div_ceil(u64::from(self.per_page)).max(1);
        if u64::from(self.page) > pages {
            return Err(AppError::BadRequest(format!(
                "There is no page {}: with {} per page the last page is {pages}.",
                self.page, self.per_page
            )));
        }
        let pages = u32::try_from(pages).unwrap_or(u32::MAX);
        Ok(PageInfo {
            page: self.page,
            per_page: self.per_page,
            total,
            pages,
        })
    }
}

/// A whole number from 1 to `max`, written plainly: the only spelling of it.
fn parse_number(name: &str, raw: Option<&str>, max: u32) -> Result<Option<u32>, AppError> {
    let Some(raw) = raw else { return Ok(None) };
    match plain_number(raw) {
        Some(n) if (1..=max).contains(&n) => Ok(Some(n)),
        _ => Err(AppError::BadRequest(format!(
            "`{name}` must be a whole number from 1 to {max}, written without signs or \
             leading zeros; got {raw:?}."
        ))),
    }
}

/// `raw` as a number when it is written as the number prints (`7`, not `07`,
/// `+7` or ` 7`).
fn plain_number(raw: &str) -> Option<u32> {
    raw.parse::<u32>().ok().filter(|n| n.to_string() == raw)
}

/// The page number as the list routes write it (the cache policies' spelling).
pub fn canonical_page(raw: &str) -> Option<String> {
    parse_number("page", Some(raw), u32::MAX)
        .ok()
        .flatten()
        .map(|n| n.to_string())
}

/// The page size as the list routes write it (the cache policies' spelling).
pub fn canonical_per_page(raw: &str) -> Option<String> {
    parse_number("per_page", Some(raw), MAX_PER_PAGE)
        .ok()
        .flatten()
        .map(|n| n.to_string())
}

/// The list routes' page request; a bad or repeated parameter is the error, for
/// the route to answer (`Result<PageRequest, AppError>` as a guard).
#[rocket::async_trait]
impl<'r> FromRequest<'r> for PageRequest {
    type Error = AppError;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        match Self::from_query(request) {
            Ok(page) => Outcome::Success(page),
            Err(e) => Outcome::Error((rocket::http::Status::BadRequest, e)),
        }
    }
}

/// A located page, as templates and the JSON API show it.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct PageInfo {
    pub page: u32,
    pub per_page: u32,
    pub total: u64,
    pub pages: u32,
}

impl PageInfo {
    pub fn prev(self) -> Option<u32> {
        (self.page > 1).then(|| self.page - 1)
    }
    pub fn next(self) -> Option<u32> {
        (self.page < self.pages).then(|| self.page + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_the_largest_page_size() {
        assert_eq!(
            PageRequest::parse(None, None).unwrap(),
            PageRequest {
                page: 1,
                per_page: DEFAULT_PER_PAGE
            }
        );
        assert_eq!(
            PageRequest::parse(Some("2"), Some("100")).unwrap().per_page,
            MAX_PER_PAGE
        );
        assert!(PageRequest::parse(Some("2"), Some("101")).is_err());
    }

    #[test]
    fn each_number_has_one_spelling() {
        assert_eq!(canonical_page("12").as_deref(), Some("12"));
        for other in ["012", "+12", " 12", "12 ", "1e1"] {
            assert_eq!(canonical_page(other), None, "{other}");
        }
        assert_eq!(canonical_per_page("100").as_deref(), Some("100"));
        assert_eq!(canonical_per_page("500"), None);
    }

    #[test]
    fn zero_negative_and_words_are_bad_requests() {
        for bad in ["0", "-1", "abc", "", "1.5", "99999999999", "01", "+1"] {
            assert!(PageRequest::parse(Some(bad), None).is_err(), "{bad}");
            assert!(PageRequest::parse(None, Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn page_past_the_end_is_refused_but_empty_first_page_is_fine() {
        let request = PageRequest {
            page: 1,
            per_page: 10,
        };
        assert_eq!(request.locate(0).unwrap().pages, 1);
        let request = PageRequest {
            page: 3,
            per_page: 10,
        };
        assert!(request.locate(20).is_err());
        assert_eq!(request.locate(21).unwrap().next(), None);
    }
}
