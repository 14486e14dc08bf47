//! Content codings of a stored page: which one a request gets (`Accept-Encoding`,
//! RFC 9110 §12.5.3) and the entity tag of each representation.
//!
//! Pure functions over header text, no allocation: a request's headers are
//! already bounded by the server, and one linear pass over them is all the work.

/// A content coding the engine can serve a stored page in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    /// The bytes as the route rendered them.
    Identity,
    Br,
    Gzip,
}

impl Coding {
    /// The compressed codings, best first: br is the smaller, gzip the one every
    /// client has.
    pub const COMPRESSED: [Coding; 2] = [Coding::Br, Coding::Gzip];

    /// The token of `Content-Encoding` (none for identity).
    pub fn token(self) -> Option<&'static str> {
        match self {
            Self::Identity => None,
            Self::Br => Some("br"),
            Self::Gzip => Some("gzip"),
        }
    }

    /// Which of ours `token` names (case-insensitive; `x-gzip` is gzip, as RFC
    /// 9110 asks of recipients).
    fn named(token: &str) -> Option<Self> {
        if token.eq_ignore_ascii_case("br") {
            Some(Self::Br)
        } else if token.eq_ignore_ascii_case("gzip") || token.eq_ignore_ascii_case("x-gzip") {
            Some(Self::Gzip)
        } else if token.eq_ignore_ascii_case("identity") {
            Some(Self::Identity)
        } else {
            None
        }
    }

    /// The entity tag of this representation of a page whose identity tag is
    /// `etag`. A compressed representation has bytes of its own, so it must not
    /// share a strong tag with identity (RFC 9110 §8.8.3): it gets the tag with
    /// `-br` or `-gzip` inside the quotes.
    pub fn etag_of(self, etag: &str) -> String {
        match (self.token(), etag.strip_suffix('"')) {
            (Some(token), Some(open)) => format!("{open}-{token}\""),
            _ => etag.to_owned(),
        }
    }
}

/// A quality value in thousandths (`q=0.5` is 500), as RFC 9110 §12.4.2 spells it.
type Quality = u16;

const FULL: Quality = 1000;

/// What one request's `Accept-Encoding` says of each coding we serve.
#[derive(Debug, Default)]
struct Preferences {
    br: Option<Quality>,
    gzip: Option<Quality>,
    identity: Option<Quality>,
    star: Option<Quality>,
}

impl Preferences {
    /// Reads every `Accept-Encoding` value of a request. Elements that do not
    /// parse (a bad `q`, an empty name) are skipped; when a coding is named twice,
    /// the first mention counts.
    fn read<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut prefs = Self::default();
        for element in values.into_iter().flat_map(|v| v.split(',')) {
            let Some((name, quality)) = parse_element(element) else {
                continue;
            };
            let slot = if name == "*" {
                &mut prefs.star
            } else {
                match Coding::named(name) {
                    Some(Coding::Br) => &mut prefs.br,
                    Some(Coding::Gzip) => &mut prefs.gzip,
                    Some(Coding::Identity) => &mut prefs.identity,
                    None => continue,
                }
            };
            slot.get_or_insert(quality);
        }
        prefs
    }

    /// The quality the client gives a compressed coding: its own, else `*`'s,
    /// else none (not acceptable).
    fn compressed(&self, coding: Coding) -> Quality {
        let own = match coding {
            Coding::Br => self.br,
            Coding::Gzip => self.gzip,
            Coding::Identity => return self.identity.or(self.star).unwrap_or(FULL),
        };
        own.or(self.star).unwrap_or(0)
    }
}

/// `name *( OWS ";" OWS param )`: the coding's name and its quality (1 when
/// not given); `None` when the element is empty or its `q` is not a qvalue.
fn parse_element(element: &str) -> Option<(&str, Quality)> {
    let mut parts = element.split(';');
    let name = parts.next()?.trim();
    if name.is_empty() {
        return None;
    }
    let mut quality = FULL;
    for param in parts {
        let (key, value) = param.split_once('=')?;
        if key.trim().eq_ignore_ascii_case("q") {
            quality = parse_qvalue(value.trim())?;
        }
    }
    Some((name, quality))
}

/// `0[.ddd]` or `1[.000]`, in thousandths.
fn parse_qvalue(text: &str) -> Option<Quality> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: Quality = 0;
    for (i, digit) in fraction.bytes().enumerate() {
        thousandths += Quality::from(digit - b'0') * [100, 10, 1][i];
    }
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(FULL),
        _ => None,
    }
}

/// The coding a request with these `Accept-Encoding` values gets, among the
/// compressed ones `available`: the one it rates highest (br before gzip when
/// rated alike), unless it rates identity higher still by naming it. Identity
/// when it accepts none of them, when it sends no `Accept-Encoding` at all (a
/// client with no preference, such as a load generator), and even when it
/// refuses identity too (`identity;q=0`): an answer it may not decode beats no
/// answer, and the page is never refused for it.
pub fn negotiate<'a>(
    accept_encoding: impl IntoIterator<Item = &'a str>,
    available: impl Fn(Coding) -> bool,
) -> Coding {
    let prefs = Preferences::read(accept_encoding);
    let best = Coding::COMPRESSED
        .into_iter()
        .filter(|&coding| available(coding))
        .map(|coding| (coding, prefs.compressed(coding)))
        .filter(|&(_, quality)| quality > 0)
        // `max_by_key` keeps the last of equals: compare in reverse order of
        // preference so that br wins a tie.
        .rev()
        .max_by_key(|&(_, quality)| quality);
    match best {
        Some((coding, quality)) if prefs.identity.is_none_or(|named| named <= quality) => coding,
        _ => Coding::Identity,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(header: &str) -> Coding {
        negotiate([header], |_| true)
    }

    #[test]
    fn browsers_get_br_and_older_clients_gzip() {
        assert_eq!(pick("gzip, deflate, br, zstd"), Coding::Br);
        assert_eq!(pick("gzip, deflate"), Coding::Gzip);
        assert_eq!(pick("x-gzip"), Coding::Gzip);
        assert_eq!(pick("BR"), Coding::Br);
    }

    #[test]
    fn no_header_an_empty_one_or_only_unknown_codings_get_identity() {
        assert_eq!(negotiate([], |_| true), Coding::Identity);
        assert_eq!(pick(""), Coding::Identity);
        assert_eq!(pick("deflate, zstd, compress"), Coding::Identity);
        assert_eq!(pick("identity"), Coding::Identity);
    }

    #[test]
    fn q_values_rank_codings_and_zero_refuses() {
        assert_eq!(pick("br;q=0.5, gzip;q=0.8"), Coding::Gzip);
        assert_eq!(pick("br;q=0.8, gzip;q=0.8"), Coding::Br, "br wins a tie");
        assert_eq!(pick("br;q=0, gzip"), Coding::Gzip);
        assert_eq!(pick("br;q=0.000, gzip;q=0"), Coding::Identity);
        assert_eq!(pick("gzip; Q=1.0"), Coding::Gzip);
        assert_eq!(pick("gzip ;q=0.001"), Coding::Gzip);
    }

    #[test]
    fn star_covers_codings_not_named() {
        assert_eq!(pick("*"), Coding::Br);
        assert_eq!(pick("br;q=0, *"), Coding::Gzip);
        assert_eq!(pick("*;q=0"), Coding::Identity);
        assert_eq!(pick("gzip, *;q=0"), Coding::Gzip);
    }

    #[test]
    fn identity_named_higher_wins_and_refusing_it_still_gets_it_when_nothing_else_fits() {
        assert_eq!(pick("gzip;q=0.5, identity"), Coding::Identity);
        assert_eq!(pick("gzip;q=0.5, identity;q=0.5"), Coding::Gzip);
        assert_eq!(
            pick("gzip;q=0.5"),
            Coding::Gzip,
            "unnamed identity ranks last"
        );
        assert_eq!(pick("identity;q=0"), Coding::Identity);
        assert_eq!(pick("identity;q=0, br"), Coding::Br);
    }

    #[test]
    fn only_stored_variants_are_chosen() {
        assert_eq!(negotiate(["br, gzip"], |c| c == Coding::Gzip), Coding::Gzip);
        assert_eq!(negotiate(["br"], |c| c == Coding::Gzip), Coding::Identity);
        assert_eq!(negotiate(["br, gzip"], |_| false), Coding::Identity);
    }

    #[test]
    fn garbage_elements_are_skipped_and_the_rest_still_counts() {
        assert_eq!(pick("br;q=2, gzip"), Coding::Gzip, "q above 1");
        assert_eq!(
            pick("br;q=0.5000, gzip;q=0.1"),
            Coding::Gzip,
            "four decimals"
        );
        assert_eq!(pick("br;q=abc"), Coding::Identity);
        assert_eq!(pick("br;q=-1"), Coding::Identity);
        assert_eq!(
            pick("br;q"),
            Coding::Identity,
            "a parameter without a value"
        );
        assert_eq!(pick(",,;;, ;q=1, gzip"), Coding::Gzip);
        assert_eq!(pick("\u{0}\u{7f}ü, br"), Coding::Br);
        assert_eq!(
            pick("br;level=5;q=0.9"),
            Coding::Br,
            "other parameters ignored"
        );
    }

    #[test]
    fn the_first_mention_of_a_coding_counts() {
        assert_eq!(pick("br;q=0, br"), Coding::Identity);
        assert_eq!(pick("br, br;q=0"), Coding::Br);
    }

    #[test]
    fn several_header_lines_are_one_list() {
        assert_eq!(negotiate(["gzip;q=0.5", "br"], |_| true), Coding::Br);
        assert_eq!(negotiate(["br;q=0", "gzip"], |_| true), Coding::Gzip);
    }

    #[test]
    fn a_very_long_header_is_read_in_one_pass() {
        let mut header = "unknown;q=0.5, ".repeat(50_000);
        header.push_str("gzip");
        let started = std::time::Instant::now();
        assert_eq!(pick(&header), Coding::Gzip);
        assert_eq!(pick(&"br;q=0,".repeat(50_000)), Coding::Identity);
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn each_compressed_representation_has_a_tag_of_its_own() {
        assert_eq!(Coding::Identity.etag_of("\"abc\""), "\"abc\"");
        assert_eq!(Coding::Br.etag_of("\"abc\""), "\"abc-br\"");
        assert_eq!(Coding::Gzip.etag_of("W/\"abc\""), "W/\"abc-gzip\"");
    }
}
