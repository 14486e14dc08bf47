//! `?page=N&per_page=M`, shared by the HTML list and the JSON API.

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
    /// Parses the raw parameters: missing means the default, `per_page` above the
    /// maximum is clamped, anything that is not a whole number from 1 is a 400.
    pub fn parse(page: Option<&str>, per_page: Option<&str>) -> Result<Self, AppError> {
        let page = parse_positive("page", page)?.unwrap_or(1);
        let per_page = parse_positive("per_page", per_page)?
            .unwrap_or(DEFAULT_PER_PAGE)
            .min(MAX_PER_PAGE);
        Ok(Self { page, per_page })
    }

    pub fn offset(self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.per_page)
    }

    /// Where this page stands among `total` rows; a page past the last is a 400
    /// that names the last page (page 1 of an empty table is fine).
    pub fn locate(self, total: u64) -> Result<PageInfo, AppError> {
        let pages = total.div_ceil(u64::from(self.per_page)).max(1);
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

fn parse_positive(name: &str, raw: Option<&str>) -> Result<Option<u32>, AppError> {
    let Some(raw) = raw else { return Ok(None) };
    match raw.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(Some(n)),
        _ => Err(AppError::BadRequest(format!(
            "`{name}` must be a whole number from 1 to {}; got {raw:?}.",
            u32::MAX
        ))),
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
    format!(
        "{raw:?} is not a number of users per page: give a whole number from 1 \
         (pages show at most {MAX_PER_PAGE})."
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
    fn defaults_and_clamping() {
        assert_eq!(
            PageRequest::parse(None, None).unwrap(),
            PageRequest {
                page: 1,
                per_page: DEFAULT_PER_PAGE
            }
        );
        assert_eq!(
            PageRequest::parse(Some("2"), Some("1000"))
                .unwrap()
                .per_page,
            MAX_PER_PAGE
        );
    }

    #[test]
    fn zero_negative_and_words_are_bad_requests() {
        for bad in ["0", "-1", "abc", "", "1.5", "99999999999"] {
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
