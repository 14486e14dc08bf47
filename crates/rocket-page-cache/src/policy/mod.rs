//! What is cacheable and for how long.
//!
//! Routes declare their policy in code ([`RoutePolicy`]: the `@cache.cached()` of
//! this engine); `[[cache.rules]]` entries override it per path pattern; a handler
//! has the last word per response through `Cache-Control`.
//!
//! - [`pattern`]: the path patterns policies are declared for.
//! - here: a route's policy, the rules over it, and what a request resolves to.
//! - [`storable`]: whether, and for how long, a response may be stored.

use std::time::Duration;

mod pattern;
mod storable;

use super::config::{CacheConfig, RuleConfig};
use super::route_stats::RouteId;

pub use pattern::PathPattern;
pub use storable::{storable_ttl, Refusal, ResponseDirectives, ResponseFacts};

/// How a route writes one parameter: the canonical spelling of a raw value, or
/// `None` when the route refuses the value. Give the route's own parser, so that
/// the key is built from what the route will parse.
pub type Canonical = fn(&str) -> Option<String>;

/// A route's cache declaration, made next to the route in code.
///
/// ```
/// use rocket_page_cache::RoutePolicy;
/// fn id(raw: &str) -> Option<String> {
///     raw.parse::<u32>().ok().map(|n| n.to_string())
/// }
/// // The users list: cached for the default lifetime, keyed on two query
/// // parameters (others are ignored), purged by the `users` tag.
/// let list = RoutePolicy::new("/").query(&["page", "per_page"]).tags(&["users"]);
/// // One user for 50 s, purged by its own tag; `/users/007` is not the same
/// // spelling as `/users/7`, so it is never stored.
/// let one = RoutePolicy::new("/users/<id>").ttl(50).tags(&["user:<id>"]).param("id", id);
/// ```
#[derive(Debug, Clone)]
pub struct RoutePolicy {
    pattern: PathPattern,
    ttl: Option<Duration>,
    query: Vec<String>,
    tags: Vec<String>,
    vary: Vec<String>,
    params: Vec<(String, Canonical)>,
    public: bool,
}

impl RoutePolicy {
    /// The policy of the routes `pattern` matches (`<name>` is one segment, `*`
    /// or `<rest..>` any rest), with the config's defaults until set.
    pub fn new(pattern: &str) -> Self {
        Self {
            pattern: PathPattern::parse(pattern),
            ttl: None,
            query: Vec::new(),
            tags: Vec::new(),
            vary: Vec::new(),
            params: Vec::new(),
            public: false,
        }
    }

    /// The page is the same for every client, credentials or not: a request
    /// carrying `Authorization` may then be answered from a stored copy, as RFC
    /// 9111 (section 3.5) lets a shared cache do for a `public` response, instead
    /// of rendering from the data layer each time. What such a request renders
    /// (on a miss) is still never stored. Without this, `Authorization` bypasses
    /// the cache altogether, for routes whose page depends on who asks.
    #[must_use]
    pub fn public(mut self) -> Self {
        self.public = true;
        self
    }

    /// How the path parameter `<name>` or the declared query parameter `name` is
    /// spelled canonically. A request that spells it otherwise (`007` for `7`), or
    /// with a value the route refuses, never reads or fills the cache: every
    /// spelling of a resource is one key, and a flood of spellings stores nothing.
    #[must_use]
    pub fn param(mut self, name: &str, canonical: Canonical) -> Self {
        self.params.push((name.to_owned(), canonical));
        self
    }

    /// Request headers whose value changes the page (the route's `Vary`): each
    /// variant gets its own entry. A response that varies on anything else is
    /// not stored.
    #[must_use]
    pub fn vary(mut self, headers: &[&str]) -> Self {
        self.vary = headers.iter().map(|h| h.to_ascii_lowercase()).collect();
        self
    }

    /// Shared lifetime in seconds (`@cache.cached(timeout=...)`); default `cache.default_ttl`.
    #[must_use]
    pub fn ttl(mut self, secs: u64) -> Self {
        self.ttl = Some(Duration::from_secs(secs));
        self
    }

    /// Query parameters that change the page; all others are left out of the key.
    #[must_use]
    pub fn query(mut self, names: &[&str]) -> Self {
        self.query = names.iter().map(|&n| n.to_owned()).collect();
        self
    }

    /// Tags the page is filed under; `<name>` is replaced by the path parameter.
    #[must_use]
    pub fn tags(mut self, tags: &[&str]) -> Self {
        self.tags = tags.iter().map(|&t| t.to_owned()).collect();
        self
    }
}

/// The policy that applies to one request, borrowed from the declarations:
/// resolving it allocates nothing, so a hit pays for none of what only a
/// render needs (its tags, its owned [`Storing`]).
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'p> {
    policies: &'p Policies,
    route_policy: Option<&'p RoutePolicy>,
    rule: Option<&'p (PathPattern, RuleConfig)>,
    /// Shared lifetime; zero means not cached.
    pub ttl: Duration,
    /// The query parameters that are part of the key.
    pub query: &'p [String],
    /// Lower-case names of request headers that are part of the key.
    pub vary: &'p [String],
    /// Whether a request carrying `Authorization` may be served a stored copy
    /// ([`RoutePolicy::public`]).
    pub public: bool,
    /// Whether every path parameter is spelled as the route writes it.
    pub canonical_path: bool,
    /// The label the request is counted under: the matching route's pattern,
    /// else the matching rule's (never the request's own path).
    pub route: RouteId,
}

/// What a render is stored under: the lifetimes and the declared `Vary` of
/// its policy, owned, since the render outlives the lookup that resolved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Storing {
    pub ttl: Duration,
    /// Whole seconds, as a stored entry keeps them.
    pub browser_ttl: u32,
    pub grace: u32,
    pub stale_if_error: u32,
    /// Lower-case names of request headers that are part of the key.
    pub vary: Vec<String>,
}

/// Why a request's spelling keeps it away from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misspelling {
    /// A parameter is not written as the route writes it, or is refused by it.
    NonCanonical,
    /// A declared query parameter is given more than once.
    Repeated,
}

impl Resolved<'_> {
    /// Checks the query's declared parameters: each at most once, each spelled
    /// canonically; `query` holds decoded pairs.
    pub fn check_spelling(&self, query: &[(&str, &str)]) -> Result<(), Misspelling> {
        if !self.canonical_path {
            return Err(Misspelling::NonCanonical);
        }
        for name in self.query {
            let mut values = query.iter().filter(|(n, _)| n == name).map(|(_, v)| *v);
            let Some(value) = values.next() else { continue };
            if values.next().is_some() {
                return Err(Misspelling::Repeated);
            }
            if self
                .spelling_of(name)
                .is_some_and(|canonical| canonical(value).as_deref() != Some(value))
            {
                return Err(Misspelling::NonCanonical);
            }
        }
        Ok(())
    }

    /// How the route spells the parameter `name`, if it said.
    fn spelling_of(&self, name: &str) -> Option<Canonical> {
        let params = self.route_policy.map(|r| r.params.as_slice())?;
        params.iter().find(|(n, _)| n == name).map(|&(_, c)| c)
    }

    /// The tags of a page at `path` (the path this policy was resolved for):
    /// the route's, then the rule's, with `<name>` replaced by the path's values.
    pub fn tags(&self, path: &[&str]) -> Vec<String> {
        let mut tags = Vec::new();
        if let Some(route) = self.route_policy {
            let params = route.pattern.captures(path);
            tags.extend(route.tags.iter().map(|t| expand(t, &params)));
        }
        if let Some((pattern, rule)) = self.rule {
            let params = pattern.captures(path);
            let extra = rule.tags.iter().flatten();
            tags.extend(extra.map(|t| expand(t, &params)));
        }
        tags
    }

    /// What a render under this policy is stored with: the rule's lifetimes
    /// where it gives them, else the config's.
    pub fn storing(&self) -> Storing {
        let rule = self.rule.map(|(_, rule)| rule);
        let defaults = self.policies;
        // Whole seconds, as a stored entry keeps them.
        let secs = |value: Option<Duration>, default: Duration| {
            u32::try_from(value.unwrap_or(default).as_secs()).unwrap_or(u32::MAX)
        };
        Storing {
            ttl: self.ttl,
            browser_ttl: secs(rule.and_then(|r| r.browser_ttl), defaults.browser_ttl),
            grace: secs(rule.and_then(|r| r.grace), defaults.grace),
            stale_if_error: secs(rule.and_then(|r| r.stale_if_error), defaults.stale_if_error),
            vary: self.vary.to_vec(),
        }
    }
}

/// Every route policy and config rule, resolved per request path.
#[derive(Debug, Clone)]
pub struct Policies {
    routes: Vec<RoutePolicy>,
    rules: Vec<(PathPattern, RuleConfig)>,
    /// Each distinct pattern of `routes` then `rules`, once: the route labels.
    labels: Vec<String>,
    default_ttl: Duration,
    browser_ttl: Duration,
    grace: Duration,
    stale_if_error: Duration,
}

impl Policies {
    pub fn new(routes: Vec<RoutePolicy>, config: &CacheConfig) -> Self {
        let rules: Vec<(PathPattern, RuleConfig)> = config
            .rules
            .iter()
            .map(|rule| (PathPattern::parse(&rule.path), rule.clone()))
            .collect();
        let mut labels: Vec<String> = Vec::new();
        let declared = routes.iter().map(|r| &r.pattern.text);
        for text in declared.chain(rules.iter().map(|(p, _)| &p.text)) {
            if !labels.contains(text) {
                labels.push(text.clone());
            }
        }
        Self {
            routes,
            rules,
            labels,
            default_ttl: config.default_ttl,
            browser_ttl: config.browser_ttl,
            grace: config.grace,
            stale_if_error: config.stale_if_error,
        }
    }

    /// The route patterns the cache counts by, each once: the routes' then the
    /// rules' (a rule with a route's pattern shares its label).
    pub fn route_labels(&self) -> &[String] {
        &self.labels
    }

    /// The policy for `path` (decoded segments), or `None` when nothing declares
    /// it cacheable. The first matching config rule overrides the route's values;
    /// a rule alone makes a path cacheable.
    pub fn resolve(&self, path: &[&str]) -> Option<Resolved<'_>> {
        let route = self.routes.iter().find(|r| r.pattern.matches(path));
        let rule_entry = self.rules.iter().find(|(pattern, _)| pattern.matches(path));
        let label = match (route, rule_entry) {
            (Some(route), _) => &route.pattern.text,
            (None, Some((pattern, _))) => &pattern.text,
            (None, None) => return None,
        };
        // Every route's and rule's pattern is in `labels` (built from them).
        let route_id = RouteId(self.labels.iter().position(|l| l == label)?);
        let rule = rule_entry.map(|(_, rule)| rule);
        let ttl = rule
            .and_then(|r| r.ttl)
            .or_else(|| route.and_then(|r| r.ttl))
            .unwrap_or(self.default_ttl);
        let query = rule
            .and_then(|r| r.query.as_deref())
            .or_else(|| route.map(|r| r.query.as_slice()))
            .unwrap_or_default();
        let canonical_path = route.is_none_or(|r| r.pattern.spelled_canonically(path, &r.params));
        Some(Resolved {
            policies: self,
            route_policy: route,
            rule: rule_entry,
            ttl,
            query,
            vary: route.map(|r| r.vary.as_slice()).unwrap_or_default(),
            public: route.is_some_and(|r| r.public),
            canonical_path,
            route: route_id,
        })
    }
}

/// `template` with each `<name>` replaced by its captured value.
fn expand(template: &str, params: &[(&str, &str)]) -> String {
    params
        .iter()
        .fold(template.to_owned(), |tag, (name, value)| {
            tag.replace(&format!("<{name}>"), value)
        })
}
#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn policies(rules: Vec<RuleConfig>) -> Policies {
        let config = CacheConfig {
            rules,
            ..CacheConfig::default()
        };
        Policies::new(
            vec![
                RoutePolicy::new("/").query(&["page"]).tags(&["users"]),
                RoutePolicy::new("/users/<id>").ttl(50).tags(&["user:<id>"]),
            ],
            &config,
        )
    }

    fn rule(path: &str, ttl: Option<u64>) -> RuleConfig {
        RuleConfig {
            path: path.into(),
            ttl: ttl.map(Duration::from_secs),
            browser_ttl: None,
            grace: None,
            stale_if_error: None,
            query: None,
            tags: None,
        }
    }

    #[test]
    fn route_values_then_rule_overrides() {
        let p = policies(vec![]);
        let user = p.resolve(&["users", "3"]).unwrap();
        assert_eq!(user.ttl, Duration::from_secs(50));
        assert_eq!(user.tags(&["users", "3"]), vec!["user:3"]);
        assert_eq!(p.resolve(&[]).unwrap().ttl, Duration::from_mins(5));
        assert!(p.resolve(&["health", "ready"]).is_none());

        let p = policies(vec![rule("/", Some(2)), rule("/users/*", Some(0))]);
        assert_eq!(p.resolve(&[]).unwrap().ttl, Duration::from_secs(2));
        assert_eq!(p.resolve(&[]).unwrap().query, ["page"]);
        assert!(p.resolve(&["users", "1"]).unwrap().ttl.is_zero());
    }

    #[test]
    fn a_render_is_stored_with_the_rules_lifetimes_else_the_configs() {
        let mut lasting = rule("/users/<id>", None);
        lasting.grace = Some(Duration::from_secs(7));
        lasting.browser_ttl = Some(Duration::from_secs(9));
        let p = policies(vec![lasting]);
        let user = p.resolve(&["users", "3"]).unwrap().storing();
        assert_eq!((user.grace, user.browser_ttl), (7, 9));
        let defaults = CacheConfig::default();
        let stale_if_error = u32::try_from(defaults.stale_if_error.as_secs()).unwrap();
        assert_eq!(user.stale_if_error, stale_if_error);
        assert_eq!(user.ttl, Duration::from_secs(50));
        let list = p.resolve(&[]).unwrap().storing();
        let grace = u32::try_from(defaults.grace.as_secs()).unwrap();
        assert_eq!((list.grace, list.browser_ttl), (grace, 0));
    }

    #[test]
    fn a_rule_can_add_tags_with_path_parameters() {
        let mut tagged = rule("/users/<n>", None);
        tagged.tags = Some(vec!["person:<n>".into()]);
        let p = policies(vec![tagged]);
        assert_eq!(
            p.resolve(&["users", "4"]).unwrap().tags(&["users", "4"]),
            vec!["user:4", "person:4"]
        );
    }

    fn number(raw: &str) -> Option<String> {
        raw.parse::<u32>().ok().map(|n| n.to_string())
    }

    #[test]
    fn parameters_must_be_spelled_as_the_route_writes_them() {
        let p = Policies::new(
            vec![
                RoutePolicy::new("/").query(&["page"]).param("page", number),
                RoutePolicy::new("/users/<id>").param("id", number),
            ],
            &CacheConfig::default(),
        );
        let user = |id| p.resolve(&["users", id]).unwrap().check_spelling(&[]);
        assert_eq!(user("11"), Ok(()));
        for misspelt in ["011", "+11", "x", ""] {
            assert_eq!(user(misspelt), Err(Misspelling::NonCanonical), "{misspelt}");
        }
        let list = p.resolve(&[]).unwrap();
        assert_eq!(list.check_spelling(&[("page", "2"), ("utm", "01")]), Ok(()));
        assert_eq!(
            list.check_spelling(&[("page", "02")]),
            Err(Misspelling::NonCanonical)
        );
        assert_eq!(
            list.check_spelling(&[("page", "1"), ("page", "1")]),
            Err(Misspelling::Repeated)
        );
    }

    #[test]
    fn a_rule_alone_makes_a_path_cacheable() {
        let p = policies(vec![rule("/about", None)]);
        assert_eq!(p.resolve(&["about"]).unwrap().ttl, Duration::from_mins(5));
    }

    #[test]
    fn requests_are_labelled_by_the_pattern_of_their_policy_never_their_path() {
        let p = policies(vec![rule("/users/<id>", Some(5)), rule("/about", None)]);
        assert_eq!(p.route_labels(), ["/", "/users/<id>", "/about"]);
        let label = |path: &[&str]| {
            p.resolve(path)
                .map(|policy| p.route_labels()[policy.route.0].clone())
        };
        assert_eq!(label(&["users", "7"]).as_deref(), Some("/users/<id>"));
        assert_eq!(label(&["users", "8"]).as_deref(), Some("/users/<id>"));
        assert_eq!(label(&[]).as_deref(), Some("/"));
        assert_eq!(label(&["about"]).as_deref(), Some("/about"));
        assert_eq!(label(&["health"]), None);
    }
}
