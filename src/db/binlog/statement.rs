//! What a statement logged as text (a query event) means to the reader.
//!
//! In a row-based binlog the query events are transaction bounds (`BEGIN`,
//! `COMMIT`), DDL, and the odd statement a session chose to log as text. No SQL
//! parser is needed to stay safe: a statement that may change data purges every
//! followed table its text names (each identifier is compared with the tables the
//! database has), and one that names none of them purges every followed table.
//! Naming too much costs a few extra misses; naming too little would leave a
//! stale page, so every doubt goes towards more.

/// The kind of a logged statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Statement {
    /// Opens a transaction whose row events follow.
    Begin,
    /// Ends a transaction: its changes happened.
    Commit,
    /// Ends a transaction that was rolled back. Only changes of non-transactional
    /// tables (MyISAM, Aria) reach the binlog this way, and they cannot be undone:
    /// they happened too.
    Rollback,
    /// `XA PREPARE`: the transaction's changes are held until `XA COMMIT`.
    XaPrepare(String),
    /// `XA COMMIT` of a prepared transaction.
    XaCommit(String),
    /// `XA ROLLBACK` of a prepared transaction: its changes never happen.
    XaRollback(String),
    /// Changes no rows and no table: savepoints, grants, `FLUSH`, MariaDB's dummy
    /// events, routines and triggers (a trigger's own changes are logged as rows).
    Harmless,
    /// `CREATE TABLE` (not `OR REPLACE`): a new, empty table. Its rows, if any
    /// (`CREATE ... SELECT`), come as row events.
    CreateTable,
    /// Changes a table's definition or empties it (`ALTER`, `DROP`, `RENAME`,
    /// `TRUNCATE`, indexes, `OPTIMIZE`, `REPAIR`, `CREATE OR REPLACE`).
    Ddl,
    /// `DROP DATABASE`.
    DropDatabase,
    /// Anything else: data changed in statement form (`INSERT`, `LOAD DATA`, a
    /// procedure `CALL`, ...).
    Other,
}

impl Statement {
    pub(crate) fn classify(query: &str) -> Self {
        let words: Vec<String> = leading_words(query, 4);
        let word = |i: usize| words.get(i).map_or("", String::as_str);
        match word(0) {
            "BEGIN" => Self::Begin,
            "START" if word(1) == "TRANSACTION" => Self::Begin,
            "COMMIT" => Self::Commit,
            "ROLLBACK" if word(1) == "TO" => Self::Harmless,
            "ROLLBACK" => Self::Rollback,
            "" | "SAVEPOINT" | "RELEASE" | "GRANT" | "REVOKE" | "FLUSH" | "ANALYZE" | "CHECK"
            | "CHECKSUM" | "SHOW" | "SET" | "INSTALL" | "UNINSTALL" => Self::Harmless,
            "XA" => Self::classify_xa(query, word(1)),
            "CREATE" | "ALTER" | "DROP" | "RENAME" => Self::classify_ddl(&words),
            "TRUNCATE" | "OPTIMIZE" | "REPAIR" => Self::Ddl,
            _ => Self::Other,
        }
    }

    fn classify_xa(query: &str, verb: &str) -> Self {
        let xid = || xid_of(query);
        match verb {
            "START" | "BEGIN" => Self::Begin,
            "PREPARE" => Self::XaPrepare(xid()),
            "COMMIT" if query.to_ascii_uppercase().contains("ONE PHASE") => Self::Commit,
            "COMMIT" => Self::XaCommit(xid()),
            "ROLLBACK" => Self::XaRollback(xid()),
            _ => Self::Harmless,
        }
    }

    fn classify_ddl(words: &[String]) -> Self {
        let mut rest = words.iter().skip(1).map(String::as_str);
        let mut object = rest.next().unwrap_or("");
        if words.first().is_some_and(|w| w == "CREATE") {
            if object == "OR" {
                return Self::Ddl;
            }
            if object == "TEMPORARY" {
                object = rest.next().unwrap_or("");
            }
            if object == "TABLE" {
                return Self::CreateTable;
            }
        }
        match object {
            "DATABASE" | "SCHEMA" if words.first().is_some_and(|w| w == "DROP") => {
                Self::DropDatabase
            }
            "DATABASE" | "SCHEMA" | "USER" | "ROLE" | "PROCEDURE" | "FUNCTION" | "TRIGGER"
            | "EVENT" | "SERVER" | "SEQUENCE" => Self::Harmless,
            _ => Self::Ddl,
        }
    }
}

/// The first `n` words of a statement, upper-cased, past leading comments.
fn leading_words(query: &str, n: usize) -> Vec<String> {
    let mut text = query.trim_start();
    loop {
        if let Some(rest) = text.strip_prefix("/*") {
            // A versioned comment (`/*!50001 ... */`) holds SQL the server runs.
            if rest.starts_with('!') {
                text = rest.trim_start_matches(|c: char| c == '!' || c.is_ascii_digit());
            } else {
                text = rest.split_once("*/").map_or("", |(_, after)| after);
            }
        } else if text.starts_with('#') || text.starts_with("--") {
            text = text.split_once('\n').map_or("", |(_, after)| after);
        } else {
            break;
        }
        text = text.trim_start();
    }
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .take(n)
        .map(str::to_ascii_uppercase)
        .collect()
}

/// The transaction id of an `XA` statement (`X'7831',X'',1` as the server logs
/// it), lower-cased and without spaces, to compare with the XA PREPARE event's.
fn xid_of(query: &str) -> String {
    query
        .split_whitespace()
        .skip(2)
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Every identifier-like word of a statement: bare words and the insides of
/// backquotes and double quotes, as the server could read them. String literals
/// are not told apart: a table named in one costs an extra purge, no more.
pub(crate) fn identifiers(query: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut chars = query.chars().peekable();
    let mut word = String::new();
    while let Some(c) = chars.next() {
        if c == '`' || c == '"' {
            flush(&mut word, &mut found);
            let mut quoted = String::new();
            while let Some(inner) = chars.next() {
                if inner == c {
                    if chars.peek() == Some(&c) {
                        chars.next();
                        quoted.push(c);
                        continue;
                    }
                    break;
                }
                quoted.push(inner);
            }
            found.push(quoted);
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            word.push(c);
        } else {
            flush(&mut word, &mut found);
        }
    }
    flush(&mut word, &mut found);
    found
}

fn flush(word: &mut String, found: &mut Vec<String>) {
    if !word.is_empty() {
        found.push(std::mem::take(word));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_bounds_are_told_from_changes() {
        assert_eq!(Statement::classify("BEGIN"), Statement::Begin);
        assert_eq!(Statement::classify("COMMIT"), Statement::Commit);
        assert_eq!(Statement::classify("ROLLBACK"), Statement::Rollback);
        assert_eq!(Statement::classify("ROLLBACK TO sp1"), Statement::Harmless);
        assert_eq!(Statement::classify("SAVEPOINT sp1"), Statement::Harmless);
        assert_eq!(
            Statement::classify("# Dummy event replacing event type 160"),
            Statement::Harmless
        );
        assert_eq!(
            Statement::classify("XA COMMIT X'7831',X'',1"),
            Statement::XaCommit("x'7831',x'',1".into())
        );
        assert_eq!(
            Statement::classify("XA COMMIT 'x1' ONE PHASE"),
            Statement::Commit
        );
    }

    #[test]
    fn ddl_is_sorted_by_what_it_can_change() {
        assert_eq!(Statement::classify("truncate table t"), Statement::Ddl);
        assert_eq!(
            Statement::classify("ALTER TABLE t ADD c INT"),
            Statement::Ddl
        );
        assert_eq!(
            Statement::classify("DROP TABLE `t` /* generated by server */"),
            Statement::Ddl
        );
        assert_eq!(Statement::classify("RENAME TABLE a TO b"), Statement::Ddl);
        assert_eq!(
            Statement::classify("create table t (id int)"),
            Statement::CreateTable
        );
        assert_eq!(
            Statement::classify("CREATE TEMPORARY TABLE t (id int)"),
            Statement::CreateTable
        );
        assert_eq!(
            Statement::classify("CREATE OR REPLACE TABLE t (id int)"),
            Statement::Ddl
        );
        assert_eq!(
            Statement::classify("drop database d"),
            Statement::DropDatabase
        );
        assert_eq!(
            Statement::classify("create database d"),
            Statement::Harmless
        );
        assert_eq!(
            Statement::classify("CREATE INDEX i ON t (c)"),
            Statement::Ddl
        );
        assert_eq!(
            Statement::classify("/*!40000 ALTER TABLE t DISABLE KEYS */"),
            Statement::Ddl
        );
        assert_eq!(
            Statement::classify("INSERT INTO t VALUES (1)"),
            Statement::Other
        );
        assert_eq!(
            Statement::classify("LOAD DATA INFILE 'f' INTO TABLE t"),
            Statement::Other
        );
    }

    #[test]
    fn identifiers_include_quoted_names() {
        assert_eq!(
            identifiers("ALTER TABLE `my ``odd`` table`, db.t2 ADD x INT"),
            [
                "ALTER",
                "TABLE",
                "my `odd` table",
                "db",
                "t2",
                "ADD",
                "x",
                "INT"
            ]
        );
    }
}
