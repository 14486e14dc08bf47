//! `?page=N&per_page=M`, shared by the HTML list and the JSON API.
//!
//! Each page has one spelling: `page=01`, `per_page=+20`, `per_page=500` or a
//! repeated parameter is a 400, not another copy of a page. The cache policies
//! use [`canonical_page`] and [`canonical_per_page`], the parsers the routes use,
//! so no other spelling ever reaches the shared cache.

use rocket::request::{FromRequest, Outcome, Request};
use serde::Serialize;

use crate::web::error::AppError;

/// Rows per page when the request does not say.
pub const DEFAULT_PER_PAGE: u32 = 20;
/// The page sizes a list offers; any other `per_page` is a 400. A few sizes,
/// not every count up to the largest: each size is another set of list pages
/// the cache may hold, and with a million users every count from 1 to 100
/// would make 5.2 million valid list URLs where these make 380,000.
pub const PER_PAGE_CHOICES: [u32; 5] = [5, 10, 20, 50, 100];
/// Most rows per page.
pub const MAX_PER_PAGE: u32 = 100;

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub per_page: u32,
}

/// Why a list query was refused. The HTML list words a bad `page` for people
/// with the pages there are ([`no_such_page`]); the API says it plainly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadPageQuery {
    /// `page` is not a page number (as typed), with the page size that was valid.
    Page { raw: String, per_page: u32 },
    /// `per_page` is not one of [`PER_PAGE_CHOICES`] (as typed).
    PerPage(String),
    /// A parameter given more than once.
    Repeated(&'static str),
}

impl BadPageQuery {
    /// The reason, for a reader who knows nothing of the page count.
    pub fn message(&self) -> String {
        match self {
            Self::Page { raw, .. } => format!(
                "`page` must be a whole number from 1, written without signs or leading \
                 zeros; got {raw:?}."
            ),
            Self::PerPage(raw) => bad_per_page(raw),
            Self::Repeated(name) => format!("`{name}` is given more than once; give it once."),
        }
    }
}

impl From<BadPageQuery> for AppError {
    fn from(bad: BadPageQuery) -> Self {
        AppError::BadRequest(bad.message())
    }
}

impl PageRequest {
    /// Parses the raw parameters: missing means the default; anything but a whole
    /// number written plainly (`1`, not `01` or `+1`), within range, is refused.
    pub fn parse(page: Option<&str>, per_page: Option<&str>) -> Result<Self, BadPageQuery> {
        let per_page = match per_page {
            None => DEFAULT_PER_PAGE,
            Some(raw) => parse_per_page(raw).ok_or_else(|| BadPageQuery::PerPage(raw.into()))?,
        };
        let page = match page {
            None => 1,
            Some(raw) => parse_number(raw, u32::MAX).ok_or_else(|| BadPageQuery::Page {
                raw: raw.into(),
                per_page,
            })?,
        };
        Ok(Self { page, per_page })
    }

    /// From a request's query: as [`parse`](Self::parse), and a parameter given
    /// twice is refused (which one would the page show?).
    pub fn from_query(request: &Request<'_>) -> Result<Self, BadPageQuery> {
        let pairs: Vec<(&str, &str)> = request
            .uri()
            .query()
            .map(|q| q.segments().collect())
            .unwrap_or_default();
        let single = |name: &'static str| {
            let mut values = pairs.iter().filter(|(n, _)| *n == name).map(|(_, v)| *v);
            let first = values.next();
            match values.next() {
                Some(_) => Err(BadPageQuery::Repeated(name)),
                None => Ok(first),
            }
        };
        Self::parse(single("page")?, single("per_page")?)
    }

    pub fn offset(self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.per_page)
    }

    /// Where this page stands among `total` rows; a page past the last is a 400
    /// that names the pages there are (page 1 of an empty table is fine).
    pub fn locate(self, total: u64) -> Result<PageInfo, AppError> {
        let pages = page_count(total, self.per_page);
        if u64::from(self.page) > pages {
            return Err(AppError::BadRequest(no_such_page(
                &self.page.to_string(),
                pages,
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

/// Pages that `total` rows fill at `per_page` a page; an empty table has page 1.
pub fn page_count(total: u64, per_page: u32) -> u64 {
    total.div_ceil(u64::from(per_page.max(1))).max(1)
}

/// A whole number from 1 to `max`, written plainly: the only spelling of it.
fn parse_number(raw: &str, max: u32) -> Option<u32> {
    plain_number(raw).filter(|n| (1..=max).contains(n))
}

/// One of [`PER_PAGE_CHOICES`], written plainly.
fn parse_per_page(raw: &str) -> Option<u32> {
    plain_number(raw).filter(|n| PER_PAGE_CHOICES.contains(n))
}

/// `raw` as a number when it is written as the number prints (`7`, not `07`,
/// `+7` or ` 7`).
fn plain_number(raw: &str) -> Option<u32> {
    raw.parse::<u32>().ok().filter(|n| n.to_string() == raw)
}

/// The page number as the list routes write it (the cache policies' spelling).
pub fn canonical_page(raw: &str) -> Option<String> {
    parse_number(raw, u32::MAX).map(|n| n.to_string())
}

/// The page size as the list routes write it (the cache policies' spelling).
pub fn canonical_per_page(raw: &str) -> Option<String> {
    parse_per_page(raw).map(|n| n.to_string())
}

/// The list routes' page request; a bad or repeated parameter is the error, for
/// the route to answer (`Result<PageRequest, BadPageQuery>` as a guard).
#[rocket::async_trait]
impl<'r> FromRequest<'r> for PageRequest {
    type Error = BadPageQuery;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        match Self::from_query(request) {
            Ok(page) => Outcome::Success(page),
            Err(e) => Outcome::Error((rocket::http::Status::BadRequest, e)),
        }
    }
}

/// A page that does not exist, said for people: "There is no page 0. Pages go from
/// 1 to 3." (`raw` is what was asked for, shown as typed when it is not a number).
pub fn no_such_page(raw: &str, pages: u64) -> String {
    let asked = if raw.trim().parse::<u64>().is_ok() {
        raw.trim().to_owned()
    } else {
        format!("{raw:?}")
    };
    if pages <= 1 {
        format!("There is no page {asked}. There is only page 1.")
    } else {
        format!("There is no page {asked}. Pages go from 1 to {pages}.")
    }
}

/// A `per_page` that is not a count, said for people.
pub fn bad_per_page(raw: &str) -> String {
    let choices: Vec<String> = PER_PAGE_CHOICES.iter().map(u32::to_string).collect();
    let (last, first) = choices.split_last().unwrap_or((&choices[0], &[]));
    format!(
        "{raw:?} is not a number of users per page this list offers: give {} or {last}, \
         written without signs or leading zeros (`per_page`).",
        first.join(", ")
    )
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
        assert_eq!(
            PageRequest::parse(Some("2"), Some("101")),
            Err(BadPageQuery::PerPage("101".into()))
        );
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
    fn only_the_offered_page_sizes_are_valid() {
        for size in PER_PAGE_CHOICES {
            assert_eq!(
                canonical_per_page(&size.to_string()),
                Some(size.to_string())
            );
        }
        for other in ["1", "7", "21", "99", "101"] {
            assert_eq!(canonical_per_page(other), None, "{other}");
            assert!(PageRequest::parse(None, Some(other)).is_err(), "{other}");
        }
        assert_eq!(
            bad_per_page("7"),
            "\"7\" is not a number of users per page this list offers: give 5, 10, 20, 50 \
             or 100, written without signs or leading zeros (`per_page`)."
        );
    }

    #[test]
    fn zero_negative_and_words_are_bad_requests() {
        for bad in ["0", "-1", "abc", "", "1.5", "99999999999", "01", "+1"] {
            assert!(PageRequest::parse(Some(bad), None).is_err(), "{bad}");
            assert!(PageRequest::parse(None, Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_bad_page_keeps_the_valid_page_size_for_its_message() {
        assert_eq!(
            PageRequest::parse(Some("0"), Some("5")),
            Err(BadPageQuery::Page {
                raw: "0".into(),
                per_page: 5
            })
        );
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

    #[test]
    fn a_missing_page_is_named_with_the_pages_there_are() {
        assert_eq!(
            no_such_page("0", 3),
            "There is no page 0. Pages go from 1 to 3."
        );
        assert_eq!(
            no_such_page("abc", 3),
            "There is no page \"abc\". Pages go from 1 to 3."
        );
        assert_eq!(
            no_such_page("7", 1),
            "There is no page 7. There is only page 1."
        );
    }
}
