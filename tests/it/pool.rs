//! The MySQL pool's liveness checks: a connection that answered within the last
//! 500 ms is handed out again without a `SELECT 1`, one idle for longer is
//! proven first, and one the server closed while idle is replaced unseen.

use std::time::Duration;

use crate::support::{AppBuilder, TestApp};

/// One connection, and no cache in front: every request renders on it.
async fn one_connection_app() -> TestApp {
    AppBuilder::new()
        .with("databases.main.pool_size", 1)
        .with("cache.backend", "none")
        .start()
        .await
}

fn pings(app: &TestApp) -> u64 {
    app.queries() - app.statements_besides_pings()
}

async fn fetch_ok(app: &TestApp, uri: &str) {
    let reply = app.fetch(uri).await;
    assert_eq!(reply.status, 200, "{uri}: {reply:?}");
}

#[rocket::async_test]
async fn a_busy_connection_is_not_pinged_and_one_idle_past_the_window_is() {
    let app = one_connection_app().await;
    app.insert_users(3);
    fetch_ok(&app, "/users/1").await;
    let before = pings(&app);
    for id in [1, 2, 3, 1, 2, 3] {
        fetch_ok(&app, &format!("/users/{id}")).await;
    }
    assert_eq!(pings(&app), before, "back-to-back renders ping nothing");

    tokio::time::sleep(Duration::from_millis(700)).await;
    fetch_ok(&app, "/users/2").await;
    assert_eq!(pings(&app), before + 1, "an idle connection is proven once");
}

#[rocket::async_test]
async fn a_connection_the_server_closed_while_idle_is_replaced_without_an_error() {
    let app = one_connection_app().await;
    app.insert_users(1);
    fetch_ok(&app, "/users/1").await;
    let db = &app.db;
    let ids = db.query_one(&format!(
        "SELECT COALESCE(GROUP_CONCAT(id), '') FROM information_schema.processlist WHERE db = '{}' \
         AND id <> CONNECTION_ID()",
        db.name
    ));
    assert!(!ids.is_empty(), "the app holds a connection");
    for id in ids.split(',') {
        db.execute(&format!("KILL {id}"));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    fetch_ok(&app, "/users/1").await;
}
