//! MariaDB GTID positions (`domain-server-sequence`, one per replication
//! domain, comma-separated: `0-1-4711,1-2-12`), as `@@gtid_binlog_pos` on the
//! primary and `Gtid_Slave_Pos` on a replica write them.
//!
//! Within a domain the sequence numbers grow with each transaction, whichever
//! server wrote it, and a replica applies them in that order: a position
//! covers another when, in every domain of the other, its sequence is at least
//! as far. `MASTER_GTID_WAIT` compares the same way.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// One transaction's id: the domain it belongs to, the server that wrote it,
/// and its sequence number in the domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Gtid {
    server: u32,
    sequence: u64,
}

/// The last transaction of each domain; see the module's doc. Empty before
/// any transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GtidPosition {
    domains: BTreeMap<u32, Gtid>,
}

/// A position that does not read as MariaDB GTIDs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a MariaDB GTID position (domain-server-sequence, comma-separated): {0:?}")]
pub struct BadGtid(pub String);

impl GtidPosition {
    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }

    /// Whether every transaction `other` names is within this position.
    pub fn covers(&self, other: &Self) -> bool {
        other.domains.iter().all(|(domain, theirs)| {
            self.domains
                .get(domain)
                .is_some_and(|ours| ours.sequence >= theirs.sequence)
        })
    }

    /// Moves each domain forward to `other`'s where that is further; whether
    /// anything moved.
    pub fn raise_to(&mut self, other: &Self) -> bool {
        let mut moved = false;
        for (&domain, &theirs) in &other.domains {
            match self.domains.get_mut(&domain) {
                Some(ours) if ours.sequence >= theirs.sequence => {}
                Some(ours) => {
                    *ours = theirs;
                    moved = true;
                }
                None => {
                    self.domains.insert(domain, theirs);
                    moved = true;
                }
            }
        }
        moved
    }
}

impl FromStr for GtidPosition {
    type Err = BadGtid;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BadGtid(text.chars().take(200).collect());
        let mut domains = BTreeMap::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut fields = part.split('-');
            let (Some(domain), Some(server), Some(sequence), None) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                return Err(bad());
            };
            let domain: u32 = domain.parse().map_err(|_| bad())?;
            let gtid = Gtid {
                server: server.parse().map_err(|_| bad())?,
                sequence: sequence.parse().map_err(|_| bad())?,
            };
            if domains.insert(domain, gtid).is_some() {
                return Err(bad());
            }
        }
        Ok(Self { domains })
    }
}

impl fmt::Display for GtidPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (domain, gtid)) in self.domains.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{domain}-{}-{}", gtid.server, gtid.sequence)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position(text: &str) -> GtidPosition {
        text.parse().unwrap()
    }

    #[test]
    fn positions_read_and_write_as_mariadb_does() {
        assert_eq!(position("0-1-4711,1-2-12").to_string(), "0-1-4711,1-2-12");
        assert_eq!(
            position(" 1-2-12 , 0-1-4711 ").to_string(),
            "0-1-4711,1-2-12"
        );
        assert!(position("").is_empty());
        for bad in ["0-1", "0-1-2-3", "a-1-2", "0-1-2,0-1-3", "0-1--2"] {
            assert!(bad.parse::<GtidPosition>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_position_covers_what_it_has_applied_in_every_domain() {
        let applied = position("0-1-10,1-2-5");
        assert!(applied.covers(&position("0-1-10")));
        assert!(applied.covers(&position("0-3-9,1-2-5")), "any server's");
        assert!(!applied.covers(&position("0-1-11")));
        assert!(!applied.covers(&position("2-1-1")), "a domain it never saw");
        assert!(applied.covers(&GtidPosition::default()));
    }

    #[test]
    fn raising_keeps_the_furthest_of_each_domain() {
        let mut mark = position("0-1-10");
        assert!(mark.raise_to(&position("0-1-12,1-2-3")));
        assert!(!mark.raise_to(&position("0-1-11")), "never backwards");
        assert_eq!(mark.to_string(), "0-1-12,1-2-3");
    }
}
