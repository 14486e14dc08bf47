//! Path patterns: `/users/<id>` (one segment per `<name>`), `/api/*` or
//! `/api/<rest..>` (any rest, including none).

use std::collections::HashMap;

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

    /// The captured parameters when `path` (decoded segments) matches.
    pub fn matches(&self, path: &[&str]) -> Option<HashMap<String, String>> {
        let mut captured = HashMap::new();
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Rest => return Some(captured),
                Segment::Literal(text) => {
                    if path.get(i) != Some(&text.as_str()) {
                        return None;
                    }
                }
                Segment::Param(name) => {
                    let value = path.get(i)?;
                    captured.insert(name.clone(), (*value).to_owned());
                }
            }
        }
        (path.len() == self.segments.len()).then_some(captured)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_literals_params_and_rests() {
        let user = PathPattern::parse("/users/<id>");
        assert_eq!(user.matches(&["users", "7"]).unwrap()["id"], "7");
        assert!(user.matches(&["users"]).is_none());
        assert!(user.matches(&["users", "7", "edit"]).is_none());
        assert!(PathPattern::parse("/").matches(&[]).is_some());
        assert!(PathPattern::parse("/").matches(&["x"]).is_none());
        let api = PathPattern::parse("/api/*");
        assert!(api.matches(&["api"]).is_some());
        assert!(api.matches(&["api", "users", "1"]).is_some());
        assert!(api.matches(&["apis"]).is_none());
    }
}
