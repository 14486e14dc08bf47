//! The unique index on `user.email`, and a tutorial table adopted with duplicates.

use rocket_cache::config::DatabaseConfig;

use crate::support::{AppBuilder, TestDb};

fn config(db: &TestDb) -> DatabaseConfig {
    DatabaseConfig {
        url: db.url(),
        pool_size: 1,
        connect_timeout_ms: 3_000,
        acquire_timeout_ms: 2_000,
        startup_timeout_secs: 5,
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
    let error = rocket_cache::db::prepare_database(&config(&db))
        .await
        .expect_err("duplicates stop the migration");
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

    let app = AppBuilder::sharing(db.clone(), crate::support::TestNamespace::new())
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
    let app = AppBuilder::sharing(db.clone(), crate::support::TestNamespace::new())
        .start()
        .await;
    assert_eq!(email_index_count(&db), "1");
    assert_eq!(
        app.user_count(),
        5,
        "adopted rows kept, no sample row added"
    );
}
