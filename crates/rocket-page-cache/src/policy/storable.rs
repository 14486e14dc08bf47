//! Whether a response may be stored by a shared cache, and for how long: the
//! route's policy, then what the response itself says (status, cookies,
//! `Cache-Control`, `Vary`, size).

use std::time::Duration;

use super::Storing;

/// The parts of a response's `Cache-Control` that a shared cache obeys.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ResponseDirectives {
    pub no_store: bool,
    pub private: bool,
    pub no_cache: bool,
    pub s_maxage: Option<u64>,
}

impl ResponseDirectives {
    pub fn parse<'a>(values: impl Iterator<Item = &'a str>) -> Self {
        let mut directives = Self::default();
        for directive in values.flat_map(|v| v.split(',')) {
            let directive = directive.trim().to_ascii_lowercase();
            let (name, arg) = directive
                .split_once('=')
                .map_or((directive.as_str(), None), |(n, a)| {
                    (n.trim(), Some(a.trim().trim_matches('"')))
                });
            match name {
                "no-store" => directives.no_store = true,
                "private" => directives.private = true,
                "no-cache" => directives.no_cache = true,
                "s-maxage" => directives.s_maxage = arg.and_then(|a| a.parse().ok()),
                _ => {}
            }
        }
        directives
    }
}

/// Why a response was not stored; shown in `Cache-Status: ...; detail=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Status,
    SetCookie,
    Private,
    NoStore,
    Vary,
    TooLarge,
    ZeroTtl,
    /// A 404 past this instance's `max_negative_entries` for the window.
    NegativeBudget,
    /// The render read more tables than an entry can be tagged with.
    UnboundedReads,
}

impl Refusal {
    pub fn detail(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::SetCookie => "set-cookie",
            Self::Private => "private",
            Self::NoStore => "no-store",
            Self::Vary => "vary",
            Self::TooLarge => "too-large",
            Self::ZeroTtl => "ttl-zero",
            Self::NegativeBudget => "negative-budget",
            Self::UnboundedReads => "unbounded-reads",
        }
    }
}

/// What a response tells a shared cache, gathered from its status and headers.
pub struct ResponseFacts<'a> {
    pub status: u16,
    pub cache_control: ResponseDirectives,
    pub has_set_cookie: bool,
    pub vary: Vec<&'a str>,
    pub body_len: Option<usize>,
}

/// The shared lifetime to store a response for, or why it must not be stored.
/// Only 200 and 404 are stored; the handler's `s-maxage` wins over the policy.
pub fn storable_ttl(
    policy: &Storing,
    facts: &ResponseFacts<'_>,
    not_found_ttl: Duration,
    max_body_bytes: usize,
) -> Result<Duration, Refusal> {
    let ttl = match facts.status {
        200 => policy.ttl,
        404 if !policy.ttl.is_zero() => not_found_ttl,
        _ => return Err(Refusal::Status),
    };
    if facts.has_set_cookie {
        return Err(Refusal::SetCookie);
    }
    if facts.cache_control.private {
        return Err(Refusal::Private);
    }
    if facts.cache_control.no_store || facts.cache_control.no_cache {
        return Err(Refusal::NoStore);
    }
    let undeclared_vary = facts
        .vary
        .iter()
        .flat_map(|v| v.split(','))
        .map(|h| h.trim().to_ascii_lowercase())
        .any(|h| !h.is_empty() && !policy.vary.contains(&h));
    if undeclared_vary {
        return Err(Refusal::Vary);
    }
    if facts.body_len.is_some_and(|len| len > max_body_bytes) {
        return Err(Refusal::TooLarge);
    }
    let ttl = facts
        .cache_control
        .s_maxage
        .map_or(ttl, Duration::from_secs);
    if ttl.is_zero() {
        return Err(Refusal::ZeroTtl);
    }
    Ok(ttl)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::tests::policies;

    fn facts(status: u16) -> ResponseFacts<'static> {
        ResponseFacts {
            status,
            cache_control: ResponseDirectives::default(),
            has_set_cookie: false,
            vary: vec![],
            body_len: Some(10),
        }
    }

    #[test]
    fn storability_rules() {
        let policy = policies(vec![]).resolve(&[]).unwrap().storing();
        let ttl = |f: &ResponseFacts<'_>| storable_ttl(&policy, f, Duration::from_secs(30), 100);
        assert_eq!(ttl(&facts(200)), Ok(Duration::from_mins(5)));
        assert_eq!(ttl(&facts(404)), Ok(Duration::from_secs(30)));
        assert_eq!(ttl(&facts(500)), Err(Refusal::Status));
        assert_eq!(ttl(&facts(302)), Err(Refusal::Status));
        let mut f = facts(200);
        f.has_set_cookie = true;
        assert_eq!(ttl(&f), Err(Refusal::SetCookie));
        let mut f = facts(200);
        f.cache_control = ResponseDirectives::parse(["public, s-maxage=7"].into_iter());
        assert_eq!(ttl(&f), Ok(Duration::from_secs(7)));
        f.cache_control = ResponseDirectives::parse(["Private"].into_iter());
        assert_eq!(ttl(&f), Err(Refusal::Private));
        f.cache_control = ResponseDirectives::parse(["no-store"].into_iter());
        assert_eq!(ttl(&f), Err(Refusal::NoStore));
        let mut f = facts(200);
        f.vary = vec!["Accept, *"];
        assert_eq!(ttl(&f), Err(Refusal::Vary));
        f.vary = vec!["Accept-Language"];
        assert_eq!(ttl(&f), Err(Refusal::Vary));
        let mut varying = policy.clone();
        varying.vary = vec!["accept-language".into()];
        assert!(storable_ttl(&varying, &f, Duration::from_secs(30), 100).is_ok());
        let mut f = facts(200);
        f.body_len = Some(101);
        assert_eq!(ttl(&f), Err(Refusal::TooLarge));
    }
}
