//! What a committed transaction of the binlog purges, in the cache's words.

use rocket_page_cache::Change;

use crate::db::binlog::{CommittedTransaction, TableChange};

/// The changes a transaction made: each row key, plus the table's membership
/// when rows came or went; a table the reader could not map row by row is
/// purged whole.
pub fn of_transaction(transaction: &CommittedTransaction) -> Vec<Change> {
    let mut changes = Vec::new();
    for change in &transaction.changes {
        match change {
            TableChange::Rows {
                table,
                keys,
                membership,
            } => {
                changes.extend(keys.iter().map(|key| Change::Row {
                    table: table.clone(),
                    key: key.clone(),
                }));
                if *membership {
                    changes.push(Change::Membership {
                        table: table.clone(),
                    });
                }
            }
            TableChange::Whole { table } => changes.push(Change::Table {
                table: table.clone(),
            }),
        }
    }
    changes
}

/// Everything cached from these tables: what is purged when changes may have
/// been missed (no checkpoint, or one the server no longer has).
pub fn whole_tables(tables: &[String]) -> Vec<Change> {
    tables
        .iter()
        .map(|table| Change::Table {
            table: table.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::binlog::BinlogPosition;

    #[test]
    fn rows_give_row_changes_and_membership_only_when_rows_came_or_went() {
        let transaction = CommittedTransaction {
            changes: vec![
                TableChange::Rows {
                    table: "user".into(),
                    keys: vec!["7".into()],
                    membership: false,
                },
                TableChange::Rows {
                    table: "post".into(),
                    keys: vec!["1".into(), "2".into()],
                    membership: true,
                },
                TableChange::Whole {
                    table: "tag".into(),
                },
            ],
            end: BinlogPosition::new("binlog.000001", 400),
            committed_at_unix: 0,
        };
        let row = |table: &str, key: &str| Change::Row {
            table: table.into(),
            key: key.into(),
        };
        assert_eq!(
            of_transaction(&transaction),
            [
                row("user", "7"),
                row("post", "1"),
                row("post", "2"),
                Change::Membership {
                    table: "post".into()
                },
                Change::Table {
                    table: "tag".into()
                },
            ]
        );
    }
}
