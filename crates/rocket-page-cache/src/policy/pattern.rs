//! Path patterns: `/users/<id>` (one segment per `<name>`), `/api/*` or
//! `/api/<rest..>` (any rest, including none).

use super::Canonical;

/// A path pattern: `/users/<id>` (one segment per `<name>`), `/api/*` or
/// `/api/<rest..>` (any rest, including none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    /// As declared: the route's label in metrics.
    pub(super) text: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    Rest,
}

impl PathPattern {
    pub fn parse(pattern: &str) -> Self {
        let segments = pattern
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                if s == "*" || (s.starts_with('<') && s.ends_with("..>")) {
                    Segment::Rest
                } else if let Some(name) = s.strip_prefix('<').and_then(|s| s.strip_suffix('>')) {
                    Segment::Param(name.to_owned())
                } else {
                    Segment::Literal(s.to_owned())
                }
            })
            .collect();
        Self {
            text: pattern.to_owned(),
            segments,
        }
    }

    /// Whether `path` (decoded segments) matches; allocates nothing.
    pub fn matches(&self, path: &[&str]) -> bool {
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Rest => return true,
                Segment::Literal(text) => {
                    if path.get(i) != Some(&text.as_str()) {
                        return false;
                    }
                }
                Segment::Param(_) => {
                    if i >= path.len() {
                        return false;
                    }
                }
            }
        }
        path.len() == self.segments.len()
    }

    /// The `(name, value)` of each parameter of a `path` that [`matches`](Self::matches).
    pub fn captures<'a>(&'a self, path: &[&'a str]) -> Vec<(&'a str, &'a str)> {
        self.params(path).collect()
    }

    /// Whether each parameter of a matching `path` is written as `spellings`
    /// say its route writes it (a parameter without one is taken as it is).
    pub fn spelled_canonically(&self, path: &[&str], spellings: &[(String, Canonical)]) -> bool {
        self.params(path).all(|(name, value)| {
            spellings
                .iter()
                .find(|(n, _)| n == name)
                .is_none_or(|(_, canonical)| canonical(value).as_deref() == Some(value))
        })
    }

    fn params<'a, 'p>(
        &'a self,
        path: &'p [&'a str],
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'p
    where
        'a: 'p,
    {
        self.segments
            .iter()
            .zip(path)
            .filter_map(|(segment, value)| match segment {
                Segment::Param(name) => Some((name.as_str(), *value)),
                _ => None,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_literals_params_and_rests() {
        let user = PathPattern::parse("/users/<id>");
        assert!(user.matches(&["users", "7"]));
        assert_eq!(user.captures(&["users", "7"]), [("id", "7")]);
        assert!(!user.matches(&["users"]));
        assert!(!user.matches(&["users", "7", "edit"]));
        assert!(PathPattern::parse("/").matches(&[]));
        assert!(!PathPattern::parse("/").matches(&["x"]));
        let api = PathPattern::parse("/api/*");
        assert!(api.matches(&["api"]));
        assert!(api.matches(&["api", "users", "1"]));
        assert!(!api.matches(&["apis"]));
    }
}
