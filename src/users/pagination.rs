//! `?after=<id>&per_page=M`, shared by the HTML list and the JSON API.
//!
//! A page of the list is named by the id of the user just before it: `/` is the
//! first page, `/?after=40` the users after user 40. Such a page is found with a
//! seek on the primary key, so its cost does not grow with the table, and it
//! holds the same users however many were added or removed before it (a page
//! number would shift under every insert and delete).
//!
//! Each page has one spelling: `after=040`, `per_page=+20`, `per_page=500`,
//! `after=0` (the first page is `/`) or a repeated parameter is a 400, not another
//! copy of a page. `page=N`, the numbering this list had before, is refused with a
//! message that says how pages are named now. The cache policies use
//! [`canonical_after`], [`canonical_per_page`] and [`no_page_numbers`], the
//! parsers the routes use, so no other spelling ever reaches the shared cache or
//! `MySQL`.

use rocket::request::{FromRequest, Outcome, Request};

use crate::db::users::UserId;
use crate::web::error::AppError;

/// Rows per page when the request does not say.
pub const DEFAULT_PER_PAGE: u32 = 20;
/// The page sizes a list offers; any other `per_page` is a 400. A few sizes,
/// not every count up to the largest: each size is another set of list pages
/// the cache may hold, and with a million users every count from 1 to 100
/// would make 5.2 million valid list URLs where these make 380,000.
pub const PER_PAGE_CHOICES: [u32; 5] = [5, 10, 20, 50, 100];

/// A validated list request: which page (after which user) and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// The user just before the page; `None` for the first page.
    pub after: Option<UserId>,
    pub per_page: u32,
}

/// Why a list query was refused; said the same way by the HTML list and the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadPageQuery {
    /// `after` is not a user id written plainly (as typed).
    After(String),
    /// `per_page` is not one of [`PER_PAGE_CHOICES`] (as typed).
    PerPage(String),
    /// A parameter given more than once.
    Repeated(&'static str),
    /// `page=N`: pages are not numbered in addresses any more.
    PageNumber,
    /// `per_page` written out at its default: the page's one address leaves it
    /// out, and this is that address (`?after=40` for `?after=40&per_page=20`).
    DefaultSize(String),
}

impl BadPageQuery {
    /// The reason, worded for a person reading the error page.
    pub fn message(&self) -> String {
        match self {
            Self::After(raw) => format!(
                "{raw:?} is not a user id to start after: give a whole number from 1, \
                 written without signs or leading zeros (`after`); the first page has \
                 no `after`."
            ),
            Self::PerPage(raw) => bad_per_page(raw),
            Self::Repeated(name) => format!("`{name}` is given more than once; give it once."),
            Self::PageNumber => "Pages of the list are not addressed by number: a page is \
                                 named by the user it starts after (`?after=40`). Start \
                                 from the first page and follow its links."
                .to_owned(),
            Self::DefaultSize(canonical) => format!(
                "{DEFAULT_PER_PAGE} users per page is the default; this page's address \
                 leaves `per_page` out: {canonical:?}."
            ),
        }
    }
}

impl From<BadPageQuery> for AppError {
    fn from(bad: BadPageQuery) -> Self {
        AppError::BadRequest(bad.message())
    }
}

impl PageRequest {
    /// Parses the raw parameters: missing means the first page and the default
    /// size; anything but a whole number written plainly (`1`, not `01` or `+1`),
    /// within range, is refused.
    pub fn parse(after: Option<&str>, per_page: Option<&str>) -> Result<Self, BadPageQuery> {
        let per_page = match per_page {
            None => DEFAULT_PER_PAGE,
            Some(raw) => parse_per_page(raw).ok_or_else(|| BadPageQuery::PerPage(raw.into()))?,
        };
        let after = match after {
            None => None,
            Some(raw) => Some(UserId(
                parse_number(raw, u32::MAX).ok_or_else(|| BadPageQuery::After(raw.into()))?,
            )),
        };
        Ok(Self { after, per_page })
    }

    /// From a request's query: as [`parse`](Self::parse); a parameter given twice
    /// (which one would the page show?) and a page number are refused.
    pub fn from_query(request: &Request<'_>) -> Result<Self, BadPageQuery> {
        let pairs: Vec<(&str, &str)> = request
            .uri()
            .query()
            .map(|q| q.segments().collect())
            .unwrap_or_default();
        if pairs.iter().any(|(name, _)| *name == "page") {
            return Err(BadPageQuery::PageNumber);
        }
        let single = |name: &'static str| {
            let mut values = pairs.iter().filter(|(n, _)| *n == name).map(|(_, v)| *v);
            let first = values.next();
            match values.next() {
                Some(_) => Err(BadPageQuery::Repeated(name)),
                None => Ok(first),
            }
        };
        let request = Self::parse(single("after")?, single("per_page")?)?;
        if single("per_page")?.is_some() && request.per_page == DEFAULT_PER_PAGE {
            return Err(BadPageQuery::DefaultSize(Self::query_for(
                request.after,
                DEFAULT_PER_PAGE,
            )));
        }
        Ok(request)
    }

    /// The query string of the page that starts after `after` at this size, as
    /// the links write it: `after` when there is one, `per_page` when it is not
    /// the default; empty for the first page at the default size.
    pub fn query_for(after: Option<UserId>, per_page: u32) -> String {
        let mut pairs = Vec::with_capacity(2);
        if let Some(after) = after {
            pairs.push(format!("after={after}"));
        }
        if per_page != DEFAULT_PER_PAGE {
            pairs.push(format!("per_page={per_page}"));
        }
        if pairs.is_empty() {
            String::new()
        } else {
            format!("?{}", pairs.join("&"))
        }
    }
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

/// The cursor as the list routes write it (the cache policies' spelling).
pub fn canonical_after(raw: &str) -> Option<String> {
    parse_number(raw, u32::MAX).map(|n| n.to_string())
}

/// The page size as the list routes write it (the cache policies' spelling):
/// the default is not written at all.
pub fn canonical_per_page(raw: &str) -> Option<String> {
    parse_per_page(raw)
        .filter(|&n| n != DEFAULT_PER_PAGE)
        .map(|n| n.to_string())
}

/// `page` has no spelling the routes accept: a request that names it never
/// reads or fills the cache, and the route answers 400 without asking `MySQL`.
pub fn no_page_numbers(_raw: &str) -> Option<String> {
    None
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_the_largest_page_size() {
        assert_eq!(
            PageRequest::parse(None, None).unwrap(),
            PageRequest {
                after: None,
                per_page: DEFAULT_PER_PAGE
            }
        );
        assert_eq!(
            PageRequest::parse(Some("2"), Some("100")).unwrap(),
            PageRequest {
                after: Some(UserId(2)),
                per_page: 100
            }
        );
        assert_eq!(
            PageRequest::parse(Some("2"), Some("101")),
            Err(BadPageQuery::PerPage("101".into()))
        );
    }

    #[test]
    fn each_number_has_one_spelling() {
        assert_eq!(canonical_after("12").as_deref(), Some("12"));
        assert_eq!(canonical_after("4294967295").as_deref(), Some("4294967295"));
        for other in ["012", "+12", " 12", "12 ", "1e1", "0", "4294967296"] {
            assert_eq!(canonical_after(other), None, "{other}");
        }
        assert_eq!(canonical_per_page("100").as_deref(), Some("100"));
        assert_eq!(canonical_per_page("500"), None);
        assert_eq!(canonical_per_page("20"), None, "the default is left out");
        assert_eq!(no_page_numbers("1"), None);
    }

    #[test]
    fn only_the_offered_page_sizes_are_valid() {
        for size in PER_PAGE_CHOICES {
            let expected = (size != DEFAULT_PER_PAGE).then(|| size.to_string());
            assert_eq!(canonical_per_page(&size.to_string()), expected);
            assert!(PageRequest::parse(None, Some(&size.to_string())).is_ok());
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
    fn links_write_only_what_differs_from_the_first_page_at_the_default_size() {
        assert_eq!(PageRequest::query_for(None, DEFAULT_PER_PAGE), "");
        assert_eq!(PageRequest::query_for(None, 5), "?per_page=5");
        assert_eq!(
            PageRequest::query_for(Some(UserId(40)), DEFAULT_PER_PAGE),
            "?after=40"
        );
        assert_eq!(
            PageRequest::query_for(Some(UserId(40)), 5),
            "?after=40&per_page=5"
        );
    }

    #[test]
    fn every_refusal_says_what_to_write_instead() {
        assert!(BadPageQuery::After("x".into()).message().contains("after"));
        assert!(BadPageQuery::PageNumber.message().contains("?after="));
        assert!(BadPageQuery::Repeated("after").message().contains("once"));
    }
}
