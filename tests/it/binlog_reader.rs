//! The binlog reader against real MariaDB servers with a row-based binlog: what
//! each kind of write yields, what is left out, where a reader resumes, and what
//! it refuses.

use std::sync::Arc;
use std::time::Duration;

use rocket_cache::db::binlog::{
    probe, BinlogError, BinlogPosition, BinlogReader, CommittedTransaction, TableChange,
    TableFilter, KEY_SEPARATOR, SILENCE_LIMIT,
};

use crate::support::db::mysql_server;
use crate::support::own_mariadb::{OwnDatabase, OwnMariaDb};

/// Longest wait for a transaction the test has committed.
const ARRIVAL_LIMIT: Duration = Duration::from_secs(10);
/// How long a test waits to be sure nothing more is yielded.
const QUIET: Duration = Duration::from_millis(500);

/// A database on the shared server with a `user` table (id, name), a `session`
/// table the reader does not follow, and a reader at the binlog's end.
async fn setup() -> (Arc<OwnDatabase>, BinlogReader) {
    let server = OwnMariaDb::shared();
    let db = server.database();
    db.run(
        "CREATE TABLE user (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL); \
         CREATE TABLE session (id VARCHAR(64) PRIMARY KEY, data TEXT)",
    )
    .await;
    let reader = connect(&db, None).await.expect("reader connects");
    (db, reader)
}

async fn connect(
    db: &OwnDatabase,
    start: Option<BinlogPosition>,
) -> Result<BinlogReader, BinlogError> {
    BinlogReader::connect(
        &db.url(),
        reader_id(),
        &db.name,
        TableFilter::all_except(["session"]),
        start,
    )
    .await
}

/// A replica id of its own for each reader (tests run in parallel).
fn reader_id() -> u32 {
    1000 + rand::random::<u32>() % 1_000_000
}

async fn next(reader: &mut BinlogReader) -> CommittedTransaction {
    tokio::time::timeout(ARRIVAL_LIMIT, reader.next())
        .await
        .expect("a transaction within the limit")
        .expect("a transaction, not an error")
}

/// Asserts that the reader yields nothing more for a while.
async fn assert_quiet(reader: &mut BinlogReader) {
    assert_quiet_for(reader, QUIET).await;
}

async fn assert_quiet_for(reader: &mut BinlogReader, quiet: Duration) {
    if let Ok(found) = tokio::time::timeout(quiet, reader.next()).await {
        panic!("nothing more was expected, got {found:?}");
    }
}

fn rows(table: &str, keys: &[&str], membership: bool) -> TableChange {
    TableChange::Rows {
        table: table.to_owned(),
        keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        membership,
    }
}

fn whole(table: &str) -> TableChange {
    TableChange::Whole {
        table: table.to_owned(),
    }
}

#[rocket::async_test]
async fn insert_update_and_delete_each_give_their_keys_and_membership() {
    let (db, mut reader) = setup().await;
    db.run("INSERT INTO user VALUES (7, 'Ann')").await;
    db.run("UPDATE user SET name = 'Anna' WHERE id = 7").await;
    db.run("DELETE FROM user WHERE id = 7").await;
    assert_eq!(
        next(&mut reader).await.changes,
        [rows("user", &["7"], true)]
    );
    assert_eq!(
        next(&mut reader).await.changes,
        [rows("user", &["7"], false)]
    );
    assert_eq!(
        next(&mut reader).await.changes,
        [rows("user", &["7"], true)]
    );
}

#[rocket::async_test]
async fn an_update_of_the_primary_key_gives_both_keys_with_membership() {
    let (db, mut reader) = setup().await;
    db.run("INSERT INTO user VALUES (7, 'Ann')").await;
    db.run("UPDATE user SET id = 8 WHERE id = 7").await;
    next(&mut reader).await;
    assert_eq!(
        next(&mut reader).await.changes,
        [rows("user", &["7", "8"], true)]
    );
}

#[rocket::async_test]
async fn a_multi_statement_transaction_is_one_committed_transaction() {
    let (db, mut reader) = setup().await;
    db.run("INSERT INTO user VALUES (1, 'a'), (2, 'b')").await;
    let before = next(&mut reader).await;
    db.run(
        "BEGIN; INSERT INTO user VALUES (3, 'c'); UPDATE user SET name = 'x' WHERE id = 1; \
         DELETE FROM user WHERE id = 2; COMMIT",
    )
    .await;
    let transaction = next(&mut reader).await;
    assert_eq!(transaction.changes, [rows("user", &["1", "2", "3"], true)]);
    assert_ne!(transaction.end, before.end);
    assert!(transaction.committed_at_unix > 0);
    assert_quiet(&mut reader).await;
}

#[rocket::async_test]
async fn a_transaction_rolled_back_yields_nothing() {
    let (db, mut reader) = setup().await;
    db.run("BEGIN; INSERT INTO user VALUES (1, 'a'); ROLLBACK")
        .await;
    db.run("INSERT INTO user VALUES (2, 'b')").await;
    assert_eq!(
        next(&mut reader).await.changes,
        [rows("user", &["2"], true)]
    );
}

#[rocket::async_test]
async fn writes_to_another_database_and_to_excluded_tables_are_not_yielded() {
    let (db, mut reader) = setup().await;
    let other = OwnMariaDb::shared().database();
    other
        .run("CREATE TABLE user (id INT PRIMARY KEY); INSERT INTO user VALUES (1)")
        .await;
    db.run("INSERT INTO session VALUES ('s1', 'x')").await;
    db.run("ALTER TABLE session ADD COLUMN seen INT").await;
    db.run("INSERT INTO user VALUES (5, 'e')").await;
    // A transaction on both: only the followed table's rows.
    db.run("BEGIN; INSERT INTO session VALUES ('s2', 'y', 1); INSERT INTO user VALUES (6, 'f'); COMMIT")
        .await;
    assert_eq!(
        next(&mut reader).await.changes,
        [rows("user", &["5"], true)]
    );
    assert_eq!(
        next(&mut reader).await.changes,
        [rows("user", &["6"], true)]
    );
    assert_quiet(&mut reader).await;
}

#[rocket::async_test]
async fn truncate_and_alter_give_the_whole_table() {
    let (db, mut reader) = setup().await;
    db.run("INSERT INTO user VALUES (1, 'a')").await;
    assert_eq!(
        next(&mut reader).await.changes,
        [rows("user", &["1"], true)]
    );
    db.run("TRUNCATE TABLE user").await;
    db.run("ALTER TABLE user ADD COLUMN email VARCHAR(100)")
        .await;
    assert_eq!(next(&mut reader).await.changes, [whole("user")]);
    assert_eq!(next(&mut reader).await.changes, [whole("user")]);
    // Rows after the ALTER are read with the table's new shape.
    db.run("INSERT INTO user VALUES (2, 'b', 'b@example.com')")
        .await;
    assert_eq!(
        next(&mut reader).await.changes,
        [rows("user", &["2"], true)]
    );
    db.run("RENAME TABLE user TO person").await;
    assert_eq!(
        next(&mut reader).await.changes,
        [whole("person"), whole("user")]
    );
}

#[rocket::async_test]
async fn rows_read_after_their_table_changed_shape_give_it_whole() {
    let (db, mut reader) = setup().await;
    // Both are logged before the reader reads the insert: by then the table
    // has a column the insert's row image lacks.
    db.run("INSERT INTO user VALUES (1, 'a')").await;
    db.run("ALTER TABLE user ADD COLUMN email VARCHAR(100)")
        .await;
    assert_eq!(next(&mut reader).await.changes, [whole("user")]);
    assert_eq!(next(&mut reader).await.changes, [whole("user")]);
}

#[rocket::async_test]
async fn a_table_without_primary_key_is_given_whole() {
    let (db, mut reader) = setup().await;
    db.run("CREATE TABLE log (line TEXT)").await;
    db.run("INSERT INTO log VALUES ('x')").await;
    assert_eq!(next(&mut reader).await.changes, [whole("log")]);
}

#[rocket::async_test]
async fn a_composite_key_is_joined_with_the_separator_in_key_order() {
    let (db, mut reader) = setup().await;
    db.run(
        "CREATE TABLE member (note TEXT, team VARCHAR(10), person INT UNSIGNED, \
         PRIMARY KEY (person, team))",
    )
    .await;
    db.run("INSERT INTO member VALUES ('n', 'red', 4000000000)")
        .await;
    assert_eq!(
        next(&mut reader).await.changes,
        [rows(
            "member",
            &[&format!("4000000000{KEY_SEPARATOR}red")],
            true
        )]
    );
}

#[rocket::async_test]
async fn a_non_transactional_table_s_write_ends_at_its_commit_query() {
    let (db, mut reader) = setup().await;
    db.run("CREATE TABLE counter (id INT PRIMARY KEY, n INT) ENGINE=Aria TRANSACTIONAL=0")
        .await;
    db.run("INSERT INTO counter VALUES (1, 0)").await;
    db.run("INSERT INTO user VALUES (1, 'a')").await;
    assert_eq!(
        next(&mut reader).await.changes,
        [rows("counter", &["1"], true)]
    );
    assert_eq!(
        next(&mut reader).await.changes,
        [rows("user", &["1"], true)]
    );
}

#[rocket::async_test]
async fn resuming_from_a_transaction_s_end_yields_the_next_transaction_exactly() {
    let (db, mut reader) = setup().await;
    for id in 1..=3 {
        db.run(&format!("INSERT INTO user VALUES ({id}, 'u')"))
            .await;
    }
    let first = next(&mut reader).await;
    let second = next(&mut reader).await;
    reader.close().await;
    let saved: BinlogPosition = first.end.to_string().parse().expect("position reads back");
    assert_eq!(saved, first.end);
    let mut resumed = connect(&db, Some(saved)).await.expect("resumes");
    let again = next(&mut resumed).await;
    assert_eq!(again, second);
    assert_eq!(again.changes, [rows("user", &["2"], true)]);
    assert_eq!(
        next(&mut resumed).await.changes,
        [rows("user", &["3"], true)]
    );
    assert_quiet(&mut resumed).await;
}

/// The end of the one transaction `sql` makes, read by a reader of its own.
async fn end_of(db: &OwnDatabase, sql: &str) -> BinlogPosition {
    let mut reader = connect(db, None).await.expect("reader connects");
    db.run(sql).await;
    let end = next(&mut reader).await.end;
    reader.close().await;
    end
}

#[rocket::async_test]
async fn purged_binlogs_make_a_saved_position_lost() {
    let server = OwnMariaDb::start(&[]);
    let db = server.database();
    db.run("CREATE TABLE user (id INT PRIMARY KEY)").await;
    let saved = end_of(&db, "INSERT INTO user VALUES (1)").await;
    server.cli("FLUSH BINARY LOGS").expect("flush");
    db.run("INSERT INTO user VALUES (2)").await;
    let now = server.cli("SHOW MASTER STATUS").expect("status");
    let current = now.split_whitespace().next().expect("current file");
    server
        .cli(&format!("PURGE BINARY LOGS TO '{current}'"))
        .expect("purge");
    // Checked by MariaDB's BINLOG_GTID_POS() first...
    let lost = connect(&db, Some(saved.clone())).await.err();
    assert!(
        matches!(&lost, Some(BinlogError::PositionLost { reason, .. })
            if reason.contains("no transaction boundary")),
        "{lost:?}"
    );
    // ...and by the server itself for a position without GTID (as MySQL's are).
    let without_gtid = BinlogPosition::new(saved.file(), saved.offset());
    let lost = connect(&db, Some(without_gtid)).await.err();
    assert!(
        matches!(&lost, Some(BinlogError::PositionLost { reason, .. }) if reason.contains("1236")),
        "{lost:?}"
    );
}

#[rocket::async_test]
async fn after_reset_master_the_same_file_and_offset_is_a_lost_position() {
    let server = OwnMariaDb::start(&[]);
    let db = server.database();
    db.run("CREATE TABLE user (id INT PRIMARY KEY)").await;
    server.cli("RESET MASTER").expect("reset");
    let saved = end_of(&db, "INSERT INTO user VALUES (1)").await;
    // A new binlog whose transaction ends at the very same file and offset, but
    // is another transaction (as another server's could be).
    server.cli("RESET MASTER").expect("reset");
    let replay = end_of(
        &db,
        "SET SESSION gtid_seq_no = 100; INSERT INTO user VALUES (2)",
    )
    .await;
    assert_eq!(
        (replay.file(), replay.offset()),
        (saved.file(), saved.offset())
    );
    let lost = connect(&db, Some(saved)).await.err();
    assert!(
        matches!(&lost, Some(BinlogError::PositionLost { reason, .. }) if reason.contains("GTID")),
        "{lost:?}"
    );
}

#[rocket::async_test]
async fn a_minimal_row_image_still_gives_the_keys() {
    let (db, mut reader) = setup().await;
    let minimal = |sql: &str| format!("SET SESSION binlog_row_image = 'MINIMAL'; {sql}");
    db.run(&minimal("INSERT INTO user VALUES (1, 'a'), (2, 'b')"))
        .await;
    db.run(&minimal("UPDATE user SET name = 'z' WHERE id = 1"))
        .await;
    db.run(&minimal("UPDATE user SET id = 3 WHERE id = 2"))
        .await;
    db.run(&minimal("DELETE FROM user WHERE id = 3")).await;
    assert_eq!(
        next(&mut reader).await.changes,
        [rows("user", &["1", "2"], true)]
    );
    assert_eq!(
        next(&mut reader).await.changes,
        [rows("user", &["1"], false)]
    );
    assert_eq!(
        next(&mut reader).await.changes,
        [rows("user", &["2", "3"], true)]
    );
    assert_eq!(
        next(&mut reader).await.changes,
        [rows("user", &["3"], true)]
    );
}

#[rocket::async_test]
async fn compressed_binlog_events_are_refused_not_passed_over() {
    let server = OwnMariaDb::start(&["--log-bin-compress-min-len=10"]);
    let db = server.database();
    db.run("CREATE TABLE user (id INT PRIMARY KEY, name VARCHAR(200))")
        .await;
    let mut reader = connect(&db, None).await.expect("reader connects");
    server
        .cli("SET GLOBAL log_bin_compress = ON")
        .expect("compress");
    db.run("INSERT INTO user VALUES (1, REPEAT('x', 150))")
        .await;
    let read = tokio::time::timeout(ARRIVAL_LIMIT, reader.next())
        .await
        .expect("an answer within the limit");
    assert!(
        matches!(read, Err(BinlogError::Compressed(Some(_)))),
        "{read:?}"
    );
    // A reader connecting now is refused at once.
    let refused = connect(&db, None).await.err();
    assert!(
        matches!(refused, Some(BinlogError::Compressed(None))),
        "{refused:?}"
    );
}

#[rocket::async_test]
async fn a_bulk_insert_of_1000_rows_is_one_transaction_with_1000_keys() {
    let (db, mut reader) = setup().await;
    db.run("INSERT INTO user SELECT seq, CONCAT('u', seq) FROM seq_1_to_1000")
        .await;
    let transaction = next(&mut reader).await;
    let [TableChange::Rows {
        table,
        keys,
        membership,
    }] = &transaction.changes[..]
    else {
        panic!("one table's rows: {:?}", transaction.changes);
    };
    assert_eq!(table, "user");
    assert!(membership);
    assert_eq!(keys.len(), 1000);
    assert!(keys.contains(&"1".to_owned()) && keys.contains(&"1000".to_owned()));
}

#[rocket::async_test]
async fn over_ten_thousand_rows_of_one_table_are_given_whole() {
    let (db, mut reader) = setup().await;
    db.run("INSERT INTO user SELECT seq, 'u' FROM seq_1_to_10001")
        .await;
    assert_eq!(next(&mut reader).await.changes, [whole("user")]);
}

#[rocket::async_test]
async fn probe_tells_a_server_without_binlog_from_one_with_it() {
    let without = probe(&format!("{}/?prefer_socket=false", mysql_server()))
        .await
        .expect("probe the shared server");
    assert!(!without.log_bin);
    assert!(!without.followable());
    assert!(
        without.problems()[0].contains("log_bin"),
        "{:?}",
        without.problems()
    );

    let with = probe(&OwnMariaDb::shared().url(""))
        .await
        .expect("probe our own server");
    assert!(with.log_bin, "{with:?}");
    assert_eq!(with.binlog_format, "ROW");
    assert!(with.replication_slave && with.binlog_monitor, "{with:?}");
    assert!(with.followable(), "{:?}", with.problems());
}

#[rocket::async_test]
async fn an_xa_transaction_is_yielded_at_its_commit_not_at_its_prepare() {
    let (db, mut reader) = setup().await;
    db.run(
        "XA START 'x1'; INSERT INTO user VALUES (1, 'a'); XA END 'x1'; XA PREPARE 'x1'; \
         XA COMMIT 'x1'",
    )
    .await;
    db.run(
        "XA START 'x2'; INSERT INTO user VALUES (2, 'b'); XA END 'x2'; XA PREPARE 'x2'; \
         XA ROLLBACK 'x2'",
    )
    .await;
    db.run("INSERT INTO user VALUES (3, 'c')").await;
    assert_eq!(
        next(&mut reader).await.changes,
        [rows("user", &["1"], true)]
    );
    assert_eq!(
        next(&mut reader).await.changes,
        [rows("user", &["3"], true)]
    );
}

#[rocket::async_test]
async fn a_reader_follows_a_binlog_rotation_and_resumes_across_it() {
    let (db, mut reader) = setup().await;
    db.run("INSERT INTO user VALUES (1, 'a')").await;
    let first = next(&mut reader).await;
    OwnMariaDb::shared()
        .cli("FLUSH BINARY LOGS")
        .expect("rotate the binlog");
    db.run("INSERT INTO user VALUES (2, 'b')").await;
    let second = next(&mut reader).await;
    assert_ne!(second.end.file(), first.end.file());
    assert_eq!(second.changes, [rows("user", &["2"], true)]);
    reader.close().await;
    let mut resumed = connect(&db, Some(first.end)).await.expect("resumes");
    assert_eq!(next(&mut resumed).await, second);
}

#[rocket::async_test]
async fn resuming_from_the_position_after_passed_over_transactions_yields_what_follows() {
    let (db, mut reader) = setup().await;
    let other = OwnMariaDb::shared().database();
    db.run("INSERT INTO user VALUES (1, 'a')").await;
    next(&mut reader).await;
    other.run("CREATE TABLE t (id INT PRIMARY KEY)").await;
    db.run("INSERT INTO session VALUES ('s', 'x')").await;
    db.run("CREATE TABLE extra (id INT PRIMARY KEY)").await;
    db.run("INSERT INTO user VALUES (2, 'b')").await;
    let second = next(&mut reader).await;
    // Read past the passed-over ones: the position stands after the last of them.
    db.run("INSERT INTO session VALUES ('s2', 'x')").await;
    assert_quiet(&mut reader).await;
    let idle = reader.position().clone();
    assert_ne!(idle, second.end);
    reader.close().await;
    db.run("INSERT INTO user VALUES (3, 'c')").await;
    let mut resumed = connect(&db, Some(idle)).await.expect("resumes");
    assert_eq!(
        next(&mut resumed).await.changes,
        [rows("user", &["3"], true)]
    );
}

#[rocket::async_test]
async fn an_idle_reader_is_kept_alive_by_heartbeats() {
    let (db, mut reader) = setup().await;
    assert_quiet_for(&mut reader, SILENCE_LIMIT + Duration::from_secs(2)).await;
    db.run("INSERT INTO user VALUES (1, 'a')").await;
    assert_eq!(
        next(&mut reader).await.changes,
        [rows("user", &["1"], true)]
    );
}

#[rocket::async_test]
async fn the_documented_privileges_are_enough_and_missing_ones_are_named() {
    let server = OwnMariaDb::shared();
    let db = server.database();
    db.run("CREATE TABLE user (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL)")
        .await;
    let user = db.name.replace("rc_binlog", "r");
    let weak = format!("{user}w");
    server
        .cli(&format!(
            "CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'; \
             GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO '{user}'@'%'; \
             GRANT SELECT ON `{db}`.* TO '{user}'@'%'; \
             CREATE USER '{weak}'@'%' IDENTIFIED BY 'pw'; \
             GRANT SELECT ON `{db}`.* TO '{weak}'@'%'",
            db = db.name
        ))
        .expect("create the users");
    let url_of = |name: &str| db.url().replace("root@", &format!("{name}:pw@"));

    let probed = probe(&url_of(&user)).await.expect("probe");
    assert!(probed.followable(), "{:?}", probed.problems());
    let connect_as = |name: String, start| {
        let url = url_of(&name);
        let database = db.name.clone();
        async move {
            BinlogReader::connect(&url, reader_id(), &database, TableFilter::default(), start).await
        }
    };
    let mut reader = connect_as(user.clone(), None).await.expect("connects");
    db.run("INSERT INTO user VALUES (1, 'a')").await;
    db.run("INSERT INTO user VALUES (2, 'b')").await;
    let first = next(&mut reader).await;
    reader.close().await;
    // Resuming checks the GTID with BINLOG_GTID_POS(): allowed too.
    let mut resumed = connect_as(user.clone(), Some(first.end))
        .await
        .expect("resumes");
    assert_eq!(
        next(&mut resumed).await.changes,
        [rows("user", &["2"], true)]
    );

    let probed = probe(&url_of(&weak)).await.expect("probe");
    assert_eq!(
        probed.problems(),
        [
            "the database user lacks REPLICATION SLAVE and BINLOG MONITOR: \
          GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO it"
        ]
    );
    let refused = connect_as(weak.clone(), None).await.err();
    assert!(
        matches!(refused, Some(BinlogError::Privileges { .. })),
        "{refused:?}"
    );
    server
        .cli(&format!("DROP USER '{user}'@'%', '{weak}'@'%'"))
        .expect("drop the users");
}

#[rocket::async_test]
async fn a_second_reader_with_the_same_server_id_ends_the_first_one_s_stream() {
    let (db, _) = setup().await;
    let id = reader_id();
    let url = db.url();
    let open = || BinlogReader::connect(&url, id, &db.name, TableFilter::default(), None);
    let mut first = open().await.expect("first reader");
    let mut second = open().await.expect("second reader");
    db.run("INSERT INTO user VALUES (1, 'a')").await;
    assert_eq!(
        next(&mut second).await.changes,
        [rows("user", &["1"], true)]
    );
    let ended = tokio::time::timeout(ARRIVAL_LIMIT, first.next())
        .await
        .expect("an answer within the limit");
    assert!(
        matches!(ended, Err(BinlogError::Connection { .. })),
        "{ended:?}"
    );
}

#[rocket::async_test]
async fn a_binary_key_is_given_as_hex() {
    let (db, mut reader) = setup().await;
    db.run("CREATE TABLE blob_key (id VARBINARY(16) PRIMARY KEY)")
        .await;
    db.run("INSERT INTO blob_key VALUES (X'00ff10')").await;
    assert_eq!(
        next(&mut reader).await.changes,
        [rows("blob_key", &["0x00ff10"], true)]
    );
}

#[rocket::async_test]
async fn a_next_cut_short_by_timeouts_loses_nothing_and_repeats_nothing() {
    // A server of its own: each cut drops the schema connection mid-query, and
    // MariaDB 10.11 was seen to crash (signal 11) under a flood of such aborted
    // connections, which took every other test's shared server down with it.
    let server = OwnMariaDb::start(&[]);
    let db = server.database();
    db.run(
        "CREATE TABLE user (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL); \
         CREATE TABLE session (id VARCHAR(64) PRIMARY KEY, data TEXT)",
    )
    .await;
    let mut reader = connect(&db, None).await.expect("reader connects");
    // Each table is new to the reader: its first row makes it ask the schema,
    // an await a timeout can cut.
    let tables: Vec<String> = (0..8).map(|n| format!("t{n}")).collect();
    for table in &tables {
        db.run(&format!(
            "CREATE TABLE {table} (id INT PRIMARY KEY); INSERT INTO {table} VALUES (1)"
        ))
        .await;
    }
    db.run("INSERT INTO user VALUES (1, 'a')").await;
    let mut seen = Vec::new();
    let mut cut_short = 0;
    // Cuts at every await point the reader reaches: the budget starts short and
    // doubles after each cut (a few dozen cuts in all, not a flood of aborted
    // connections), and starts short again after each transaction.
    let mut budget = Duration::from_micros(300);
    while seen.len() < tables.len() + 1 {
        if let Ok(found) = tokio::time::timeout(budget, reader.next()).await {
            seen.push(found.expect("a transaction").changes);
            budget = Duration::from_micros(300);
        } else {
            cut_short += 1;
            budget = (budget * 2).min(Duration::from_millis(50));
        }
        assert!(cut_short < 10_000, "no progress: {seen:?}");
    }
    let mut expected: Vec<Vec<TableChange>> =
        tables.iter().map(|t| vec![rows(t, &["1"], true)]).collect();
    expected.push(vec![rows("user", &["1"], true)]);
    assert_eq!(seen, expected);
    assert!(cut_short > 0);
    assert_quiet(&mut reader).await;
}

#[rocket::async_test]
async fn a_rollback_still_yields_the_non_transactional_rows_it_could_not_undo() {
    let (db, mut reader) = setup().await;
    db.run("CREATE TABLE counter (id INT PRIMARY KEY, n INT) ENGINE=Aria TRANSACTIONAL=0")
        .await;
    db.run(
        "BEGIN; INSERT INTO user VALUES (1, 'a'); INSERT INTO counter VALUES (1, 0); \
         ROLLBACK",
    )
    .await;
    db.run("INSERT INTO user VALUES (2, 'b')").await;
    assert_eq!(
        next(&mut reader).await.changes,
        [rows("counter", &["1"], true)]
    );
    assert_eq!(
        next(&mut reader).await.changes,
        [rows("user", &["2"], true)]
    );
}

#[rocket::async_test]
async fn dropping_the_database_gives_every_followed_table_whole() {
    let (db, mut reader) = setup().await;
    // Created after the reader started, and gone when it reads of it: its row
    // makes it known.
    db.run("CREATE TABLE post (id INT PRIMARY KEY); INSERT INTO post VALUES (1)")
        .await;
    OwnMariaDb::shared()
        .cli(&format!("DROP DATABASE `{}`", db.name))
        .expect("drop the database");
    assert_eq!(next(&mut reader).await.changes, [whole("post")]);
    assert_eq!(
        next(&mut reader).await.changes,
        [whole("post"), whole("user")]
    );
}

#[rocket::async_test]
async fn a_statement_logged_as_text_gives_the_tables_it_names_whole() {
    let (db, mut reader) = setup().await;
    db.run("SET SESSION binlog_format = 'STATEMENT'; INSERT INTO user VALUES (1, 'a')")
        .await;
    assert_eq!(next(&mut reader).await.changes, [whole("user")]);
}

#[rocket::async_test]
async fn after_a_server_restart_the_reader_fails_and_resumes_from_its_last_end() {
    let mut server = OwnMariaDb::start(&[]);
    let db = server.database();
    db.run("CREATE TABLE user (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL)")
        .await;
    let mut reader = connect(&db, None).await.expect("reader connects");
    db.run("INSERT INTO user VALUES (1, 'a')").await;
    let saved = next(&mut reader).await.end;
    server.restart();
    let broken = tokio::time::timeout(ARRIVAL_LIMIT, reader.next())
        .await
        .expect("an answer within the limit");
    assert!(
        matches!(broken, Err(BinlogError::Connection { .. })),
        "{broken:?}"
    );
    db.run("INSERT INTO user VALUES (2, 'b')").await;
    let mut resumed = connect(&db, Some(saved)).await.expect("resumes");
    assert_eq!(
        next(&mut resumed).await.changes,
        [rows("user", &["2"], true)]
    );
}

#[rocket::async_test]
async fn a_reader_may_not_register_with_the_server_s_own_id() {
    let (db, _) = setup().await;
    let refused = BinlogReader::connect(
        &db.url(),
        crate::support::own_mariadb::SERVER_ID,
        &db.name,
        TableFilter::default(),
        None,
    )
    .await
    .err();
    assert!(
        matches!(refused, Some(BinlogError::SameServerId(_))),
        "{refused:?}"
    );
}
