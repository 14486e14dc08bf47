//! How a request becomes a key.
//!
//! `namespace:v1:generation:host:/path?query`, where the host is lower-cased
//! without its port and without the trailing dot of its fully qualified form
//! (`localhost.` is `localhost`), path segments are re-encoded (so `%2F` cannot pass for `/`),
//! and the query keeps only the parameters the route declared, stably sorted by
//! name (repeats keep their order: `?a=1&a=2` and `?a=2&a=1` differ, as they may
//! for the route). A key longer than [`MAX_PLAIN_KEY`] is replaced by its SHA-256.

use sha2::{Digest, Sha256};

/// Format segment of every key; bump when the key scheme changes.
pub const KEY_FORMAT: &str = "v1";
/// Keys up to this length are kept readable; longer ones are hashed.
pub const MAX_PLAIN_KEY: usize = 200;

/// The parts of a request that make its key.
pub struct RequestParts<'a> {
    pub host: &'a str,
    pub path: &'a [&'a str],
    pub query: &'a [(&'a str, &'a str)],
    /// Values of the request headers the route varies on, in declared order.
    pub vary: &'a [Option<&'a str>],
}

/// `namespace:v1:generation:` — the start of every page and memo key of a deploy.
pub fn key_base(namespace: &str, generation: &str) -> String {
    format!("{namespace}:{KEY_FORMAT}:{generation}:")
}

/// The host as keys and the allow-list compare it: `example.com.` (the fully
/// qualified spelling, which DNS resolves alike) is `example.com`. One dot only:
/// `example.com..` is no host name and stays apart.
pub fn host_name(domain: &str) -> &str {
    domain.strip_suffix('.').unwrap_or(domain)
}

/// The page key of a request under `base`, keeping only `declared` parameters.
/// Built in one buffer: every request, hits included, makes one.
pub fn page_key(base: &str, parts: &RequestParts<'_>, declared: &[String]) -> String {
    let mut key = String::with_capacity(base.len() + 64);
    key.push_str(base);
    let host_at = key.len();
    key.push_str(host_name(parts.host));
    key[host_at..].make_ascii_lowercase();
    key.push(':');
    push_normalised_path(&mut key, parts.path);
    let mut kept: Vec<&(&str, &str)> = parts
        .query
        .iter()
        .filter(|(name, _)| declared.iter().any(|d| d == name))
        .collect();
    kept.sort_by_key(|(name, _)| *name);
    for (i, (name, value)) in kept.iter().enumerate() {
        key.push(if i == 0 { '?' } else { '&' });
        encode_into(&mut key, name);
        key.push('=');
        encode_into(&mut key, value);
    }
    for value in parts.vary {
        key.push('|');
        if let Some(value) = value {
            encode_into(&mut key, value);
        }
    }
    if key.len() > MAX_PLAIN_KEY {
        let digest = hex_sha256(&key.as_bytes()[base.len()..]);
        key.truncate(base.len());
        key.push('#');
        key.push_str(&digest);
    }
    key
}

/// The key of a fragment: `base` `frag:` the name, then each vary pair in the
/// order given (`?role=admin&after=20`), every part percent-encoded so that no
/// name or value can pose as another; past [`MAX_PLAIN_KEY`], the part after
/// `base` is replaced by its SHA-256, as a page key's is.
pub fn fragment_key(base: &str, name: &str, vary: &[(&str, &str)]) -> String {
    let mut rest = String::with_capacity(64);
    rest.push_str("frag:");
    encode_into(&mut rest, name);
    for (i, (key, value)) in vary.iter().enumerate() {
        rest.push(if i == 0 { '?' } else { '&' });
        encode_into(&mut rest, key);
        rest.push('=');
        encode_into(&mut rest, value);
    }
    if base.len() + rest.len() > MAX_PLAIN_KEY {
        rest = format!("#frag:{}", hex_sha256(rest.as_bytes()));
    }
    format!("{base}{rest}")
}

/// Tags up to this length are kept readable; longer ones are hashed.
pub const MAX_PLAIN_TAG: usize = 128;

/// A tag as the store files it: itself, or `#` and its SHA-256 when longer than
/// [`MAX_PLAIN_TAG`], so that a long path cannot make long set names. Applying it
/// twice changes nothing, so purges and stores agree.
pub fn bounded_tag(tag: String) -> String {
    if tag.len() <= MAX_PLAIN_TAG {
        return tag;
    }
    format!("#{}", hex_sha256(tag.as_bytes()))
}

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `/a/b` from decoded segments, each re-encoded.
pub fn normalised_path(segments: &[&str]) -> String {
    let mut path = String::new();
    push_normalised_path(&mut path, segments);
    path
}

/// Appends [`normalised_path`] of `segments` to `out`.
fn push_normalised_path(out: &mut String, segments: &[&str]) {
    if segments.is_empty() {
        out.push('/');
    }
    for segment in segments {
        out.push('/');
        encode_into(out, segment);
    }
}

/// A path as a client sends it (`/users/a%2Fb?x=1`) in the form keys and path
/// tags use: query and fragment dropped, segments decoded then re-encoded. `None`
/// when it does not start with `/` or is not percent-encoded UTF-8.
pub fn normalise_request_path(raw: &str) -> Option<String> {
    let path = raw.split(['?', '#']).next().unwrap_or_default();
    if !path.starts_with('/') {
        return None;
    }
    let decoded: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|segment| {
            rocket::http::RawStr::new(segment)
                .percent_decode()
                .ok()
                .map(std::borrow::Cow::into_owned)
        })
        .collect::<Option<_>>()?;
    let segments: Vec<&str> = decoded.iter().map(String::as_str).collect();
    Some(normalised_path(&segments))
}

/// Percent-encodes everything but unreserved characters.
fn encode_into(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragment_keys_name_their_vary_and_stay_bounded() {
        let base = "ns:v1:g:";
        assert_eq!(
            fragment_key(base, "users list", &[("role", "admin"), ("after", "20")]),
            "ns:v1:g:frag:users%20list?role=admin&after=20"
        );
        // A value cannot pose as another pair.
        assert_ne!(
            fragment_key(base, "a", &[("x", "1&y=2")]),
            fragment_key(base, "a", &[("x", "1"), ("y", "2")])
        );
        let long = "v".repeat(500);
        let hashed = fragment_key(base, "a", &[("x", &long)]);
        assert!(hashed.starts_with("ns:v1:g:#frag:"), "{hashed}");
        assert!(hashed.len() <= MAX_PLAIN_KEY, "{hashed}");
    }

    fn key(path: &[&str], query: &[(&str, &str)]) -> String {
        let parts = RequestParts {
            host: "LocalHost",
            path,
            query,
            vary: &[],
        };
        page_key("ns:v1:g:", &parts, &["page".into(), "per_page".into()])
    }

    #[test]
    fn undeclared_parameters_are_left_out_and_the_rest_sorted() {
        assert_eq!(key(&[], &[]), "ns:v1:g:localhost:/");
        assert_eq!(key(&[], &[("utm", "1")]), key(&[], &[]));
        assert_eq!(
            key(&[], &[("per_page", "5"), ("utm", "x"), ("page", "2")]),
            "ns:v1:g:localhost:/?page=2&per_page=5"
        );
    }

    #[test]
    fn the_fully_qualified_host_is_the_same_host() {
        assert_eq!(host_name("localhost."), "localhost");
        assert_eq!(host_name("127.0.0.1."), "127.0.0.1");
        assert_eq!(host_name("localhost"), "localhost");
        assert_eq!(host_name("localhost.."), "localhost.", "one dot only");
        let parts = |host| RequestParts {
            host,
            path: &[],
            query: &[],
            vary: &[],
        };
        assert_eq!(
            page_key("ns:", &parts("LocalHost."), &[]),
            page_key("ns:", &parts("localhost"), &[])
        );
    }

    #[test]
    fn repeated_parameters_keep_their_order() {
        assert_ne!(
            key(&[], &[("page", "1"), ("page", "2")]),
            key(&[], &[("page", "2"), ("page", "1")])
        );
    }

    #[test]
    fn an_encoded_slash_is_not_a_path_separator() {
        assert_ne!(key(&["users", "a/b"], &[]), key(&["users", "a", "b"], &[]));
        assert_eq!(
            key(&["users", "a/b"], &[]),
            "ns:v1:g:localhost:/users/a%2Fb"
        );
    }

    #[test]
    fn request_paths_normalise_to_the_form_keys_use() {
        assert_eq!(normalise_request_path("/").as_deref(), Some("/"));
        assert_eq!(
            normalise_request_path("/users//1/?page=2#x").as_deref(),
            Some("/users/1")
        );
        assert_eq!(
            normalise_request_path("/users/a%2Fb").as_deref(),
            Some("/users/a%2Fb")
        );
        assert_eq!(
            normalise_request_path("/users/%7E").as_deref(),
            Some("/users/~")
        );
        assert_eq!(normalise_request_path("users/1"), None);
        assert_eq!(normalise_request_path("/%ff"), None);
    }

    #[test]
    fn long_keys_are_hashed() {
        let long = "x".repeat(300);
        let hashed = key(&[&long], &[]);
        assert!(hashed.starts_with("ns:v1:g:#"));
        assert_eq!(hashed.len(), "ns:v1:g:#".len() + 64);
        assert_ne!(hashed, key(&[&"y".repeat(300)], &[]));
    }

    #[test]
    fn long_tags_are_hashed_once() {
        assert_eq!(bounded_tag("user:1".into()), "user:1");
        let long = bounded_tag(format!("path:/{}", "x".repeat(7000)));
        assert_eq!(long.len(), 65);
        assert_eq!(bounded_tag(long.clone()), long);
    }

    #[test]
    fn vary_values_split_the_key() {
        let parts = |v| RequestParts {
            host: "h",
            path: &[],
            query: &[],
            vary: v,
        };
        let en = page_key("b:", &parts(&[Some("en")]), &[]);
        let fr = page_key("b:", &parts(&[Some("fr")]), &[]);
        let none = page_key("b:", &parts(&[None]), &[]);
        assert_ne!(en, fr);
        assert_ne!(en, none);
    }
}
