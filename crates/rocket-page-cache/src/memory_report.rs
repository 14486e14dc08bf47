//! At start, one line saying what happens when the Redis behind the cache is
//! full, from its `maxmemory` and `maxmemory-policy` (every master's, on a
//! cluster).
//!
//! The cache stores every valid page anyone asks for, each for its lifetime plus
//! grace and stale-if-error, so what bounds its share of Redis is Redis's own
//! limit. Redis ships with none (`maxmemory 0`) and with `noeviction`: then
//! nothing bounds it, and the line is a loud warning saying what to set. With a
//! limit and `noeviction`, writes fail once full and pages are served uncached
//! (rendered every time): a warning too (purges still remove pages then).
//!
//! With a limit, the policy must be a `volatile-*` one: every page has a
//! lifetime and may be evicted, while the tag index (the sets a purge finds
//! pages by, and the purge marks) has none, so Redis never evicts it and a purge
//! never misses a page (`index_sweep` keeps the index bounded). An `allkeys-*`
//! policy could evict a tag's set and leave its pages served after their rows
//! changed: the cache refuses to start on it.
use super::store::MemoryLimit;

/// How loud the line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Loudness {
    Info,
    Warn,
    /// The cache would not be correct on this server: it does not start.
    Refuse,
}

/// The line to log about `limits`, and how loud; `None` when there is no
/// server to speak of (the in-process backends).
pub fn describe(limits: &[MemoryLimit]) -> Option<(Loudness, String)> {
    let mut groups: Vec<(&MemoryLimit, Vec<&str>)> = Vec::new();
    for limit in limits {
        match groups
            .iter_mut()
            .find(|(first, _)| first.max_bytes == limit.max_bytes && first.policy == limit.policy)
        {
            Some((_, nodes)) => nodes.push(&limit.node),
            None => groups.push((limit, vec![&limit.node])),
        }
    }
    let mut loudness = Loudness::Info;
    let parts: Vec<String> = groups
        .iter()
        .map(|(limit, nodes)| {
            let (loud, consequence) = consequence(limit);
            loudness = loudness.max(loud);
            let bound = if limit.max_bytes == 0 {
                "no maxmemory".to_owned()
            } else {
                format!("maxmemory {}", mebibytes(limit.max_bytes))
            };
            format!(
                "Redis {}: {bound}, maxmemory-policy {}: {consequence}",
                nodes.join(", "),
                limit.policy
            )
        })
        .collect();
    if parts.is_empty() {
        return None;
    }
    Some((loudness, format!("page cache: {}", parts.join("; "))))
}

/// What one server does when full, and how loudly to say it.
fn consequence(limit: &MemoryLimit) -> (Loudness, String) {
    let policy = limit.policy.as_str();
    let evicts_any_key = policy.starts_with("allkeys-");
    let evicts_pages = policy.starts_with("volatile-");
    match limit.max_bytes {
        0 if evicts_any_key || evicts_pages => (
            Loudness::Warn,
            format!(
                "without maxmemory the {policy} policy never applies, so nothing bounds the \
                 cache until the machine runs out of memory; set `maxmemory` (e.g. 1gb) and \
                 `maxmemory-policy volatile-lru`"
            ),
        ),
        0 => (
            Loudness::Warn,
            "NOTHING bounds the cache: every valid page anyone asks for is kept for its \
             lifetime, grace and stale-if-error, until the machine runs out of memory; set \
             `maxmemory` (e.g. 1gb) and `maxmemory-policy volatile-lru` on this Redis"
                .to_owned(),
        ),
        _ if evicts_pages => (
            Loudness::Info,
            "when full, Redis evicts pages (each has a lifetime) to make room, never the \
             tag index that purges find pages by (it has none; the index sweep bounds it); \
             pages evicted are rendered again when asked for"
                .to_owned(),
        ),
        _ if evicts_any_key => (
            Loudness::Refuse,
            format!(
                "the {policy} policy may evict the tag index that purges find pages by, and a \
                 page whose rows changed would then be served until it expires; set \
                 `maxmemory-policy volatile-lru` (or another volatile-* policy): pages have \
                 lifetimes and are evicted first, the index has none"
            ),
        ),
        _ => (
            Loudness::Warn,
            "when full, Redis refuses writes: new pages are then served uncached (rendered \
             every time) until keys expire, while purges still remove pages; set \
             `maxmemory-policy volatile-lru` to let Redis make room"
                .to_owned(),
        ),
    }
}

/// Bytes as MiB with one decimal, for a log line.
fn mebibytes(bytes: u64) -> String {
    let tenths = bytes.saturating_mul(10) / (1024 * 1024);
    format!("{}.{} MiB", tenths / 10, tenths % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(node: &str, max_bytes: u64, policy: &str) -> MemoryLimit {
        MemoryLimit {
            node: node.to_owned(),
            max_bytes,
            policy: policy.to_owned(),
        }
    }

    #[test]
    fn redis_out_of_the_box_is_a_loud_warning_saying_what_to_set() {
        let (loudness, line) = describe(&[limit("r:6379", 0, "noeviction")]).unwrap();
        assert_eq!(loudness, Loudness::Warn);
        assert!(line.starts_with("page cache: Redis r:6379: no maxmemory, maxmemory-policy noeviction: NOTHING bounds"), "{line}");
        assert!(line.contains("volatile-lru"), "{line}");
    }

    #[test]
    fn a_limit_with_noeviction_warns_that_writes_fail_and_pages_go_uncached() {
        let (loudness, line) = describe(&[limit("r:6379", 64 << 20, "noeviction")]).unwrap();
        assert_eq!(loudness, Loudness::Warn);
        assert!(line.contains("maxmemory 64.0 MiB"), "{line}");
        assert!(
            line.contains("refuses writes") && line.contains("uncached"),
            "{line}"
        );
    }

    #[test]
    fn a_limit_with_a_volatile_policy_is_information_and_masters_alike_share_a_line() {
        let masters = [
            limit("a:7000", 64 << 20, "volatile-lru"),
            limit("b:7001", 64 << 20, "volatile-lru"),
        ];
        let (loudness, line) = describe(&masters).unwrap();
        assert_eq!(loudness, Loudness::Info);
        assert!(
            line.starts_with("page cache: Redis a:7000, b:7001: maxmemory 64.0 MiB"),
            "{line}"
        );
        assert!(line.contains("evicts pages"), "{line}");
        let mixed = [
            limit("a:7000", 64 << 20, "volatile-lru"),
            limit("b:7001", 0, "noeviction"),
        ];
        let (loudness, line) = describe(&mixed).unwrap();
        assert_eq!(loudness, Loudness::Warn, "one master unbounded is enough");
        assert!(line.contains("; Redis b:7001: no maxmemory"), "{line}");
        assert_eq!(describe(&[]), None);
    }

    #[test]
    fn a_policy_that_may_evict_the_index_is_refused_naming_the_fix() {
        for policy in ["allkeys-lru", "allkeys-lfu", "allkeys-random"] {
            let masters = [
                limit("a:7000", 64 << 20, "volatile-lru"),
                limit("b:7001", 64 << 20, policy),
            ];
            let (loudness, line) = describe(&masters).unwrap();
            assert_eq!(loudness, Loudness::Refuse, "{policy}");
            assert!(line.contains("volatile-lru"), "{line}");
        }
        let unbounded = describe(&[limit("a:7000", 0, "allkeys-lru")]).unwrap();
        assert_eq!(unbounded.0, Loudness::Warn, "no limit: nothing is evicted");
    }
}
