//! One page of the users list and where the pages around it start, for the HTML
//! list and the JSON API alike.
//!
//! Every statement here is a seek on the primary key that reads at most a few
//! pages' worth of ids, so a page costs the same on a table of a thousand users
//! as on one of a million (issue 18). The only count that could grow with the
//! table, the total, is bounded ([`Total`]) and memoised.
//!
//! Pages are aligned from the first: the previous page of `?after=X` ends at X.
//! The last page is aligned to the first too while the total is exact (it holds
//! the remainder), and holds the last full page's worth of users once the total
//! is an estimate: every link is an id that exists, so no total, stale or
//! estimated, can make a link lead to an error.

use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::pagination::{BadPageQuery, PageRequest};
use super::render_db::RenderDb;
use crate::db::users::{self, User, UserId};
use crate::db::DbConn;
use crate::web::error::AppError;
use futures_util::FutureExt;
use rocket::response::Redirect;
use rocket_page_cache::{Cache, Reads};

/// Pages linked on each side of the current one (by number, when it is known).
pub const NEAR_PAGES: u32 = 2;
/// Up to this many users the total is counted exactly (about 1.5 ms at the
/// limit); beyond it, the optimiser's estimate is shown instead.
pub const EXACT_TOTAL_UP_TO: u64 = 10_000;
/// Past this estimate the total is not counted, even up to the limit: InnoDB's
/// estimate is off by tens of percent at most, never by a factor of four.
const ESTIMATE_ALONE_FROM: u64 = 4 * EXACT_TOTAL_UP_TO;
/// In a table too large for an exact total, a page is numbered only while it
/// starts after an id up to this one (a count that stays under 0.3 ms).
const NUMBERED_UP_TO: u64 = 1_000;
/// How long the total is memoised; purged when users come or go.
const TOTAL_TTL: Duration = Duration::from_mins(5);

/// How many users there are: counted while there are few, else estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Total {
    Exact(u64),
    /// The optimiser's estimate (never below [`EXACT_TOTAL_UP_TO`] + 1 when
    /// the rows were counted up to there).
    About(u64),
}

impl Total {
    pub fn rows(self) -> u64 {
        match self {
            Self::Exact(n) | Self::About(n) => n,
        }
    }

    pub fn is_exact(self) -> bool {
        matches!(self, Self::Exact(_))
    }

    /// "46", or "about 1.0 million": a number worded for people.
    pub fn words(self) -> String {
        match self {
            Self::Exact(n) => thousands(n),
            Self::About(n) => format!("about {}", rounded(n)),
        }
    }
}

/// `n` with thousands separators: 12,345.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An estimate said no more precisely than it is known: "1.0 million",
/// "250,000", "12,000".
fn rounded(n: u64) -> String {
    #[allow(clippy::cast_precision_loss)] // one decimal of a count is all we show
    let millions = n as f64 / 1e6;
    if n >= 999_950 {
        format!("{millions:.1} million")
    } else {
        thousands((n + 500) / 1_000 * 1_000)
    }
}

/// One page of the list with the ways out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub request: PageRequest,
    pub items: Vec<User>,
    pub total: Total,
    /// Users before this page, when known exactly (see `NUMBERED_UP_TO`).
    pub position: Option<u64>,
    /// Where the pages before this one start, nearest first; `None` is the first
    /// page. Empty on the first page.
    pub before: Vec<Option<UserId>>,
    /// Where the pages after this one start, nearest first.
    pub ahead: Vec<UserId>,
    /// Where the last page starts; `None` when this is the last page.
    #[allow(clippy::option_option)]
    // a page that may not exist, whose start may be the first page's
    pub last: Option<Option<UserId>>,
}

/// What a list request gets.
#[derive(Debug)]
pub enum Listed {
    Page(Listing),
    /// `after` names no user (deleted, or never there): the same users are the
    /// page after this one, the greatest id below it (`None`: the first page).
    Moved(PageRequest),
}

impl Listing {
    /// This page's number, counted from 1, when its position is known. A page
    /// after the last user (emptied by deletes) has none.
    pub fn number(&self) -> Option<u64> {
        let per_page = u64::from(self.request.per_page);
        let emptied = self.items.is_empty() && !self.is_first();
        self.position
            .filter(|_| !emptied)
            .map(|rows| rows.div_ceil(per_page) + 1)
    }

    /// How many pages there are, when the total is exact.
    pub fn pages(&self) -> Option<u64> {
        let Total::Exact(rows) = self.total else {
            return None;
        };
        let counted = rows.div_ceil(u64::from(self.request.per_page)).max(1);
        let reached = self.number().map_or(0, |n| n + self.ahead.len() as u64);
        Some(counted.max(reached))
    }

    /// About how many pages there are, from the estimated total.
    pub fn pages_about(&self) -> u64 {
        self.total
            .rows()
            .div_ceil(u64::from(self.request.per_page))
            .max(1)
    }

    pub fn is_first(&self) -> bool {
        self.request.after.is_none()
    }

    /// The page before this one (`Some(None)` is the first page).
    #[allow(clippy::option_option)] // as `last`
    pub fn prev(&self) -> Option<Option<UserId>> {
        self.before.first().copied()
    }

    /// The page after this one.
    pub fn next(&self) -> Option<UserId> {
        self.ahead.first().copied()
    }
}

/// A list route's answer: its page, or the page's one address to go to instead.
pub enum ListAnswer {
    Page(Listing),
    Redirect(Redirect),
}

/// The href of the page after `after` at `per_page` of the list at `base` (`/`
/// or `/api/users`).
pub fn list_href(base: &str, after: Option<UserId>, per_page: u32) -> String {
    format!("{base}{}", PageRequest::query_for(after, per_page))
}

/// What the list at `base` answers `request`: `per_page` written out at its
/// default goes (permanently) to the address without it, a cursor that names no
/// user (temporarily) to the page of the same users; a refused query is the
/// error, for the route to word.
pub async fn answer_list(
    db: &RenderDb<'_>,
    cache: &Cache,
    reads: &Reads,
    request: Result<PageRequest, BadPageQuery>,
    base: &str,
) -> Result<ListAnswer, AppError> {
    let request = match accepted_request(request, base)? {
        Ok(request) => request,
        Err(redirect) => return Ok(ListAnswer::Redirect(redirect)),
    };
    Ok(match load_listing(db, cache, reads, request).await? {
        Listed::Page(listing) => ListAnswer::Page(listing),
        Listed::Moved(to) => ListAnswer::Redirect(moved_to(base, &to)),
    })
}

/// The request the list at `base` reads (`Ok`), or the address it goes to
/// instead (`per_page` written out at its default: permanently to the address
/// without it); a refused query is the error.
pub fn accepted_request(
    request: Result<PageRequest, BadPageQuery>,
    base: &str,
) -> Result<Result<PageRequest, Redirect>, AppError> {
    match request {
        Ok(request) => Ok(Ok(request)),
        Err(BadPageQuery::DefaultSize(canonical)) => {
            Ok(Err(Redirect::permanent(format!("{base}{canonical}"))))
        }
        Err(bad) => Err(bad.into()),
    }
}

/// Where a list request whose cursor names no user goes (temporarily): the
/// page of the same users.
pub fn moved_to(base: &str, to: &PageRequest) -> Redirect {
    Redirect::temporary(list_href(base, to.after, to.per_page))
}

/// Reads the page `request` names, with its neighbours' starts and the total:
/// the total from the memo, then one statement (the page's rows and the ids
/// around it) and, on a page whose number is not yet known but can be counted
/// cheaply, a bounded count.
pub async fn load_listing(
    db: &RenderDb<'_>,
    cache: &Cache,
    reads: &Reads,
    request: PageRequest,
) -> Result<Listed, AppError> {
    let total = users_total(db, cache, reads).await?;
    db.read(|conn| {
        let reads = reads.clone();
        async move { listing_on(conn, &reads, request, total).await }.boxed()
    })
    .await
}

/// [`load_listing`] after the total, on one connection.
async fn listing_on(
    conn: &mut DbConn,
    reads: &Reads,
    request: PageRequest,
    total: Total,
) -> Result<Listed, AppError> {
    let per_page = u64::from(request.per_page);
    let span = u64::from(NEAR_PAGES) * per_page + 1;
    let around = users::page_around(
        conn,
        reads,
        request.after,
        request.per_page,
        span,
        on_last_page(total, request.per_page),
    )
    .await?;

    let (before, mut position) = match request.after {
        None => (Vec::new(), Some(0)),
        Some(after) => {
            if around.through.first() != Some(&after) {
                return Ok(Listed::Moved(PageRequest {
                    after: around.through.first().copied(),
                    ..request
                }));
            }
            // All ids up to `after` fit in the span: their number is the position.
            let all = (around.through.len() as u64) < span;
            let position = all.then_some(around.through.len() as u64);
            (starts_before(&around.through, request.per_page), position)
        }
    };
    let ahead = starts_ahead(&around.after, request.per_page);
    let last = if ahead.is_empty() {
        None
    } else if (around.after.len() as u64) < span {
        // Every page after this one is in view: the last is the farthest.
        ahead.last().copied().map(Some)
    } else {
        Some(around.from_last)
    };
    if let (None, Some(after)) = (position, request.after) {
        position = position_of(conn, reads, total, after).await?;
    }
    Ok(Listed::Page(Listing {
        request,
        items: around.rows,
        total,
        position,
        before,
        ahead,
        last,
    }))
}

/// Where the pages before one start, from the ids up to its cursor (greatest
/// first, the cursor itself included): the previous page ends at the cursor and
/// starts after the id `per_page` further down; when there is none, the previous
/// page is the first page.
fn starts_before(ids_down: &[UserId], per_page: u32) -> Vec<Option<UserId>> {
    let per_page = per_page as usize;
    let mut starts = Vec::new();
    for step in 1..=NEAR_PAGES as usize {
        let start = ids_down.get(step * per_page).copied();
        starts.push(start);
        if start.is_none() {
            break;
        }
    }
    starts
}

/// Where the pages after one start, from the ids after its cursor (in order): a
/// page exists when there is an id after its start.
fn starts_ahead(ids_up: &[UserId], per_page: u32) -> Vec<UserId> {
    let per_page = per_page as usize;
    (1..=NEAR_PAGES as usize)
        .filter(|step| ids_up.len() > step * per_page)
        .map(|step| ids_up[step * per_page - 1])
        .collect()
}

/// How many users the last page holds: the remainder of an exact total (so
/// that it lines up with the pages counted from the first), else a full page.
fn on_last_page(total: Total, per_page: u32) -> u64 {
    let per_page = u64::from(per_page);
    match total {
        Total::Exact(rows) if rows > 0 => (rows - 1) % per_page + 1,
        _ => per_page,
    }
}

/// How many users come up to `after`, when that can be counted cheaply: in a
/// table with an exact total, or among the first ids of a larger one (there
/// are at most `after` users up to `after`, so a larger id is not counted).
async fn position_of(
    conn: &mut DbConn,
    reads: &Reads,
    total: Total,
    after: UserId,
) -> Result<Option<u64>, AppError> {
    let limit = if total.is_exact() {
        EXACT_TOTAL_UP_TO
    } else if u64::from(after.0) <= NUMBERED_UP_TO {
        NUMBERED_UP_TO
    } else {
        return Ok(None);
    };
    let counted = users::count_through(conn, reads, after, limit + 1).await?;
    Ok((counted <= limit).then_some(counted))
}

/// How many users there are, memoised and filed under what counting read (the
/// table's membership), which the page that shows it inherits.
pub async fn users_total(
    db: &RenderDb<'_>,
    cache: &Cache,
    reads: &Reads,
) -> Result<Total, AppError> {
    cache
        .get_or_compute_recorded("users:total", TOTAL_TTL, reads, |own| async move {
            // Read after the memo's own purge sequence: the replica's wait then
            // covers every purge the memo's store could miss.
            db.read(|conn| {
                let own = own.clone();
                async move { count_users(conn, &own).await }.boxed()
            })
            .await
        })
        .await
}

/// How many users there are, counted while there are few, else estimated.
async fn count_users(conn: &mut DbConn, own: &Reads) -> Result<Total, AppError> {
    // A table the estimate puts far past the limit is not counted at all,
    // which matters where nothing memoises the total.
    let size = users::size(conn, own, EXACT_TOTAL_UP_TO + 1, ESTIMATE_ALONE_FROM).await?;
    Ok(match size.counted {
        Some(counted) if counted <= EXACT_TOTAL_UP_TO => Total::Exact(counted),
        Some(counted) => Total::About(size.estimate.max(counted)),
        None => Total::About(size.estimate),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(range: impl Iterator<Item = u32>) -> Vec<UserId> {
        range.map(UserId).collect()
    }

    #[test]
    fn totals_are_worded_as_precisely_as_they_are_known() {
        assert_eq!(Total::Exact(46).words(), "46");
        assert_eq!(Total::Exact(10_000).words(), "10,000");
        assert_eq!(Total::About(1_000_000).words(), "about 1.0 million");
        assert_eq!(Total::About(994_136).words(), "about 994,000");
        assert_eq!(Total::About(1_263_000).words(), "about 1.3 million");
        assert_eq!(Total::About(12_345).words(), "about 12,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
    }

    #[test]
    fn the_previous_page_ends_at_the_cursor() {
        // Ids 1..=50 exist; the page after 40 at 10 a page.
        let down = ids((20..=40).rev());
        assert_eq!(
            starts_before(&down, 10),
            vec![Some(UserId(30)), Some(UserId(20))]
        );
        // After 15: the page before ends at 15 and starts after 5; the one
        // before that is the first page.
        let down = ids((1..=15).rev());
        assert_eq!(starts_before(&down, 10), vec![Some(UserId(5)), None]);
        // After 10: the page before is the first page, and nothing is before it.
        let down = ids((1..=10).rev());
        assert_eq!(starts_before(&down, 10), vec![None]);
    }

    #[test]
    fn a_page_ahead_exists_only_when_a_user_is_after_its_start() {
        assert_eq!(
            starts_ahead(&ids(41..=61), 10),
            vec![UserId(50), UserId(60)]
        );
        assert_eq!(starts_ahead(&ids(41..=60), 10), vec![UserId(50)]);
        assert_eq!(starts_ahead(&ids(41..=50), 10), vec![]);
        assert_eq!(starts_ahead(&ids(41..=45), 10), vec![]);
    }
}
