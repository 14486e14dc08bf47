//! What the page cache may keep of the users' pages and JSON: the list and each
//! user, at the same addresses' shapes under `/` and `/api`. Each page is filed
//! under the rows it read (see `users::reads`), so a write purges it.

use rocket_page_cache::RoutePolicy;

use super::id::canonical_user_id;
use super::pagination::{canonical_after, canonical_per_page, no_page_numbers};

/// The HTML list and user pages, then the JSON list and items. `/users/new`
/// (the admin's form) has the shape of a user's page but is never cached: it
/// is declared before `/users/<id>`, with no lifetime.
pub fn policies() -> Vec<RoutePolicy> {
    vec![
        list("/"),
        RoutePolicy::new("/users/new").ttl(0),
        item("/users/<id>"),
        list("/api/users"),
        item("/api/users/<id>"),
    ]
}

/// A list at `path`: one entry per page and size, each spelt one way.
fn list(path: &str) -> RoutePolicy {
    RoutePolicy::new(path)
        .query(&["after", "per_page", "page"])
        .param("after", canonical_after)
        .param("per_page", canonical_per_page)
        .param("page", no_page_numbers)
        .public()
}

/// One user at `path` (with an `<id>` segment), whose id is spelt one way.
fn item(path: &str) -> RoutePolicy {
    RoutePolicy::new(path)
        .param("id", canonical_user_id)
        .public()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where each pattern is declared (the policy's `Debug` is all it shows).
    fn position(policies: &[RoutePolicy], pattern: &str) -> usize {
        let text = format!("text: {pattern:?}");
        policies
            .iter()
            .position(|policy| format!("{policy:?}").contains(&text))
            .unwrap_or_else(|| panic!("no policy for {pattern}"))
    }

    #[test]
    fn the_new_user_form_comes_before_the_user_pages_it_looks_like() {
        let policies = policies();
        assert_eq!(policies.len(), 5);
        assert!(position(&policies, "/users/new") < position(&policies, "/users/<id>"));
        for pattern in ["/", "/api/users", "/api/users/<id>"] {
            position(&policies, pattern);
        }
    }
}
