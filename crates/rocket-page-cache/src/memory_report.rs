//! At start, one line saying what happens when the Redis behind the cache is
//! full, from its `maxmemory` and `maxmemory-policy` (every master's, on a
//! cluster).
//!
//! The cache stores every valid page anyone asks for, each for its lifetime plus
//! grace and stale-if-error, so what bounds its share of Redis is Redis's own
//! limit. Redis ships with none (`maxmemory 0`) and with `noeviction`: then
//! nothing bounds it, and the line is a loud warning saying what to set. With a
//! limit and `noeviction`, writes fail once full and pages are served uncached
//! (rendered every time): a warning too. With a limit and an eviction policy,
//! Redis makes room itself: an information line.

use super::store::MemoryLimit;

/// How loud the line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loudness {
    Info,
    Warn,
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
            if loud == Loudness::Warn {
                loudness = Loudness::Warn;
            }
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

/// What one server does when full, and whether that deserves a warning.
fn consequence(limit: &MemoryLimit) -> (Loudness, String) {
    let evicts = limit.policy.starts_with("allkeys-") || limit.policy.starts_with("volatile-");
    match (limit.max_bytes, evicts) {
        (0, false) => (
            Loudness::Warn,
            "NOTHING bounds the cache: every valid page anyone asks for is kept for its \
             lifetime, grace and stale-if-error, until the machine runs out of memory; set \
             `maxmemory` (e.g. 1gb) and `maxmemory-policy allkeys-lru` on this Redis"
                .to_owned(),
        ),
        (0, true) => (
            Loudness::Warn,
            format!(
                "without maxmemory the {} policy never applies, so nothing bounds the cache \
                 until the machine runs out of memory; set `maxmemory` (e.g. 1gb)",
                limit.policy
            ),
        ),
        (_, false) => (
            Loudness::Warn,
            "when full, Redis refuses writes: new pages are then served uncached (rendered \
             every time) until keys expire; set `maxmemory-policy allkeys-lru` to let Redis \
             make room"
                .to_owned(),
        ),
        (_, true) if limit.policy.starts_with("volatile-") => (
            Loudness::Info,
            "when full, Redis evicts keys that have a lifetime (every key the cache writes \
             has one) to make room; pages evicted are rendered again when asked for"
                .to_owned(),
        ),
        (_, true) => (
            Loudness::Info,
            "when full, Redis evicts keys to make room; pages evicted are rendered again \
             when asked for"
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
        assert!(line.contains("allkeys-lru"), "{line}");
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
    fn a_limit_with_eviction_is_information_and_masters_alike_share_a_line() {
        let masters = [
            limit("a:7000", 64 << 20, "allkeys-lru"),
            limit("b:7001", 64 << 20, "allkeys-lru"),
        ];
        let (loudness, line) = describe(&masters).unwrap();
        assert_eq!(loudness, Loudness::Info);
        assert!(
            line.starts_with("page cache: Redis a:7000, b:7001: maxmemory 64.0 MiB"),
            "{line}"
        );
        assert!(line.contains("evicts"), "{line}");
        let mixed = [
            limit("a:7000", 64 << 20, "allkeys-lru"),
            limit("b:7001", 0, "noeviction"),
        ];
        let (loudness, line) = describe(&mixed).unwrap();
        assert_eq!(loudness, Loudness::Warn, "one master unbounded is enough");
        assert!(line.contains("; Redis b:7001: no maxmemory"), "{line}");
        assert_eq!(describe(&[]), None);
    }
}
