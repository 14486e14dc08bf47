//! The database at start: created and migrated by the app, an existing tutorial
//! table adopted without losing a row, migrations applied once; the unique index
//! on `user.email`, and an adopted table whose emails are not unique.

use rocket_cache::db::config::{BinlogMode, DatabaseConfig};

use crate::support::{AppBuilder, TestDb, TestNamespace};

/// The tutorial's table with its syntax errors fixed but its choices kept: a
/// numeric phone, shorter email and address columns.
const TUTORIAL_TABLE: &str = "
CREATE TABLE `user` (
  `id` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  `name` VARCHAR(50) NOT NULL,
  `email` VARCHAR(100) NOT NULL,
  `phone` INT UNSIGNED NOT NULL,
  `address` VARCHAR(250) NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
INSERT INTO `user` (`id`, `name`, `email`, `phone`, `address`) VALUES
  (1, 'Soumitra', 'soumitra@roytuts.com', 43256789, 'Earth'),
  (2, 'Liton', 'liton@roytuts.com', 4294967295, 'Mars'),
  (5, 'Rahul', 'rahul@roytuts.com', 1234, 'Jupiter');
";

/// The migrations under `migrations/`: the table, the unique index on email, then
/// the admin sessions.
const MIGRATION_COUNT: &str = "3";

fn column_type(db: &TestDb, column: &str) -> String {
    db.query_one(&format!(
        "SELECT COLUMN_TYPE FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'user' AND COLUMN_NAME = '{column}'"
    ))
}

#[rocket::async_test]
async fn the_app_creates_its_database_in_utf8mb4_with_the_sample_row() {
    let db = TestDb::new();
    let app = AppBuilder::sharing(db.clone(), TestNamespace::new())
        .start()
        .await;
    let schema = db.query_one(&format!(
        "SELECT CONCAT(DEFAULT_CHARACTER_SET_NAME, ' ', DEFAULT_COLLATION_NAME) \
         FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{}'",
        db.name
    ));
    assert_eq!(schema, "utf8mb4 utf8mb4_unicode_ci");
    assert_eq!(db.query_one("SELECT COUNT(*) FROM `user`"), "1");
    assert_eq!(
        db.query_one("SELECT CONCAT_WS('|', id, name, email, phone, address) FROM `user`"),
        "1|Soumitra|soumitra@roytuts.com|43256789|Earth"
    );
    assert_eq!(column_type(&db, "phone"), "varchar(15)");
    let (status, _) = app.get_text("/").await;
    assert_eq!(status, 200);
}

#[rocket::async_test]
async fn an_existing_tutorial_table_is_adopted_with_every_row_kept() {
    let db = TestDb::new();
    db.create_empty();
    db.execute(TUTORIAL_TABLE);

    let app = AppBuilder::sharing(db.clone(), TestNamespace::new())
        .start()
        .await;

    assert_eq!(db.query_one("SELECT COUNT(*) FROM `user`"), "3");
    assert_eq!(
        db.query_one("SELECT COUNT(*) FROM `user` WHERE name = 'Soumitra'"),
        "1"
    );
    assert_eq!(
        db.query_one("SELECT phone FROM `user` WHERE id = 2"),
        "4294967295"
    );
    assert_eq!(column_type(&db, "phone"), "varchar(15)");
    assert_eq!(column_type(&db, "email"), "varchar(255)");
    assert_eq!(column_type(&db, "address"), "varchar(255)");
    assert_eq!(
        db.query_one("SELECT COUNT(*) FROM `__diesel_schema_migrations`"),
        MIGRATION_COUNT
    );

    let (status, body) = app.get_text("/").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("3 users in all"), "{body}");
    for text in ["Soumitra", "Liton", "Rahul", "4294967295", "Jupiter"] {
        assert!(body.contains(text), "{text} missing:\n{body}");
    }
    let (status, user) = app.get_json("/api/users/5").await;
    assert_eq!(status, 200);
    assert_eq!(user["phone"], "1234");

    // New rows continue after the adopted ones.
    db.execute(
        "INSERT INTO `user` (name, email, phone, address) VALUES ('New', 'n@x', '+44 0', 'Moon')",
    );
    assert_eq!(db.query_one("SELECT MAX(id) FROM `user`"), "6");
    let (_, user) = app.get_json("/api/users/6").await;
    assert_eq!(user["phone"], "+44 0");
}

#[rocket::async_test]
async fn a_restart_runs_no_migration_again_and_keeps_an_emptied_table_empty() {
    let db = TestDb::new();
    let first = AppBuilder::sharing(db.clone(), TestNamespace::new())
        .start()
        .await;
    let restart = first.peer();
    drop(first);
    db.execute("DELETE FROM `user`");

    let second = restart.start().await;
    assert_eq!(db.query_one("SELECT COUNT(*) FROM `user`"), "0");
    assert_eq!(
        db.query_one("SELECT COUNT(*) FROM `__diesel_schema_migrations`"),
        MIGRATION_COUNT
    );
    let (status, body) = second.get_text("/").await;
    assert_eq!(status, 200);
    assert!(body.contains("No users yet."), "{body}");
}

#[rocket::async_test]
async fn instances_starting_together_migrate_once() {
    let db = TestDb::new();
    let namespace = TestNamespace::new();
    let (a, b, c) = futures::join!(
        AppBuilder::sharing(db.clone(), namespace.clone()).start(),
        AppBuilder::sharing(db.clone(), namespace.clone()).start(),
        AppBuilder::sharing(db.clone(), namespace.clone()).start(),
    );
    assert_eq!(db.query_one("SELECT COUNT(*) FROM `user`"), "1");
    for app in [&a, &b, &c] {
        let (status, _) = app.get_text("/users/1").await;
        assert_eq!(status, 200);
    }
}

// The unique index on user.email.

fn database_config(db: &TestDb) -> DatabaseConfig {
    DatabaseConfig {
        url: db.url(),
        pool_size: 1,
        connect_timeout_ms: 3_000,
        acquire_timeout_ms: 2_000,
        startup_timeout_secs: 5,
        binlog: BinlogMode::Off,
        binlog_server_id: 4_000_000_001,
        binlog_takeover_ms: 5_000,
        binlog_ignore_tables: Vec::new(),
        replicas: Vec::new(),
        replica_max_lag_ms: 1_000,
    }
}

fn email_index_count(db: &TestDb) -> String {
    db.query_one(
        "SELECT COUNT(*) FROM information_schema.statistics \
         WHERE table_schema = DATABASE() AND table_name = 'user' \
         AND index_name = 'user_email_unique' AND non_unique = 0",
    )
}

#[rocket::async_test]
async fn a_fresh_database_gets_the_unique_index() {
    let app = AppBuilder::new().start().await;
    assert_eq!(email_index_count(&app.db), "1");
}

#[rocket::async_test]
async fn an_adopted_table_with_duplicate_emails_is_left_whole_and_the_start_refused() {
    let db = TestDb::new();
    db.create_empty();
    db.execute(
        "CREATE TABLE `user` (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, \
         name VARCHAR(100), email VARCHAR(255), phone VARCHAR(20), address VARCHAR(255)); \
         INSERT INTO `user` (name, email, phone, address) VALUES \
         ('A', 'same@example.com', '1', 'x'), ('B', 'same@example.com', '2', 'y'), \
         ('C', 'Case@Example.com', '3', 'z'), ('D', 'case@example.com', '4', 'w'), \
         ('E', 'unique@example.com', '5', 'v');",
    );
    let error = rocket_cache::db::prepare_database(&database_config(&db))
        .await
        .expect_err("duplicates stop the migration");
    assert!(
        matches!(
            &error,
            rocket_cache::db::StartupError::DuplicateEmails { total: 2, shared_by }
                if shared_by.len() == 2
        ),
        "{error:?}"
    );
    let error = error.to_string();
    assert!(error.contains("unique index on user.email"), "{error}");
    assert!(error.contains("2 email address(es)"), "{error}");
    assert!(error.contains("users 1, 2 share one"), "{error}");
    assert!(
        error.contains("users 3, 4 share one"),
        "compared as the index will, ignoring case: {error}"
    );
    assert!(!error.contains("same@example.com"), "no addresses in logs");
    assert_eq!(
        db.query_one("SELECT COUNT(*) FROM `user`"),
        "5",
        "no row lost"
    );
    assert_eq!(email_index_count(&db), "0");

    let app = AppBuilder::sharing(db.clone(), TestNamespace::new())
        .try_start()
        .await;
    match app {
        Ok(_) => panic!("the app must not start over duplicates"),
        Err(error) => {
            let _ = error.kind();
        }
    }

    db.execute("UPDATE `user` SET email = 'other@example.com' WHERE id = 2");
    db.execute("UPDATE `user` SET email = 'third@example.com' WHERE id = 4");
    let app = AppBuilder::sharing(db.clone(), TestNamespace::new())
        .start()
        .await;
    assert_eq!(email_index_count(&db), "1");
    assert_eq!(
        app.user_count(),
        5,
        "adopted rows kept, no sample row added"
    );
}
