//! Writes from anywhere purge the pages they change: the binlog follower, on a
//! MariaDB of the tests' own (the shared one writes no binlog), with the app
//! as only a reader and the `mariadb` client's kind of SQL as the writer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rocket_cache::follower::FollowerStatus;
use test_support::{eventually, redis_addr, OwnCluster};

use crate::support::own_mariadb::{OwnDatabase, OwnMariaDb};
use crate::support::proxy::{FaultProxy, Mode};
use crate::support::{AppBuilder, TestApp, TestDb, TestNamespace};

/// How soon another instance takes over in these tests.
const TAKEOVER_MS: u64 = 1_000;
/// Longest a change may take to show, in these tests (the goal, 100 ms p99,
/// is measured by `bench/run`; a loaded CI machine runs debug builds).
const SHOWS_WITHIN: Duration = Duration::from_secs(5);

/// An instance on `db` that follows its binlog, in `namespace`.
fn instance(db: &OwnDatabase, namespace: &Arc<TestNamespace>) -> AppBuilder {
    AppBuilder::sharing(TestDb::new(), namespace.clone())
        .with("databases.main.url", db.url())
        .with("databases.main.binlog", "on")
        .with("databases.main.binlog_takeover_ms", TAKEOVER_MS)
        .with_admin()
}

fn status(app: &TestApp) -> &FollowerStatus {
    app.client
        .rocket()
        .state::<Arc<FollowerStatus>>()
        .expect("the follower's status is managed")
}

/// Waits until one of `apps` follows, and returns which.
async fn follower_among(apps: &[&TestApp]) -> usize {
    eventually(
        SHOWS_WITHIN * 2,
        "an instance follows the binlog",
        || async {
            for (i, app) in apps.iter().enumerate() {
                let view = status(app).view().await;
                if view.this_instance && view.position.is_some() {
                    return Some(i);
                }
            }
            None
        },
    )
    .await
}

/// Waits until `uri` on `app` contains `text`; how long it took.
async fn shows(app: &TestApp, uri: &str, text: &str) -> Duration {
    let start = Instant::now();
    eventually(SHOWS_WITHIN, &format!("{uri} shows {text:?}"), || async {
        app.fetch(uri).await.body.contains(text).then_some(())
    })
    .await;
    start.elapsed()
}

/// Three users besides the sample row, two instances following, pages warm on
/// both.
async fn directory(db: &Arc<OwnDatabase>) -> (TestApp, TestApp) {
    let namespace = TestNamespace::new();
    let a = instance(db, &namespace).start().await;
    let b = instance(db, &namespace).start().await;
    db.run(
        "INSERT INTO user (name, email, phone, address) VALUES \
         ('Two', 'two@example.com', '2', 'Two Road'), \
         ('Three', 'three@example.com', '3', 'Three Road'), \
         ('Four', 'four@example.com', '4', 'Four Road')",
    )
    .await;
    follower_among(&[&a, &b]).await;
    for app in [&a, &b] {
        for uri in ["/", "/users/2", "/users/3", "/api/users/2"] {
            // The insert above may still be purging these: fetch until a hit.
            eventually(SHOWS_WITHIN, uri, || async {
                (app.fetch(uri).await.x_cache() == "HIT").then_some(())
            })
            .await;
        }
    }
    (a, b)
}

#[rocket::async_test]
async fn updates_inserts_and_deletes_from_the_sql_console_show_on_every_instance() {
    let db = OwnMariaDb::shared().database();
    let (a, b) = directory(&db).await;

    db.run("UPDATE user SET name = 'Renamed Two' WHERE id = 2")
        .await;
    for app in [&a, &b] {
        shows(app, "/users/2", "Renamed Two").await;
        shows(app, "/", "Renamed Two").await;
        let (_, item) = app.get_json("/api/users/2").await;
        assert_eq!(item["name"], "Renamed Two");
        assert_eq!(
            app.fetch("/users/3").await.x_cache(),
            "HIT",
            "user 3 did not change"
        );
    }

    db.run(
        "INSERT INTO user (name, email, phone, address) \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) \
         SELECT CONCAT('Bulk ', i), CONCAT('bulk', i, '@example.com'), '5', 'Bulk Road' FROM n",
    )
    .await;
    for app in [&a, &b] {
        shows(app, "/", "1,004 users in all").await;
        let (status, last) = app.get_text("/?after=1000").await;
        assert_eq!(status, 200, "the last page of the bulk insert is there");
        assert!(last.contains("Bulk 999"), "{last}");
    }

    db.run("DELETE FROM user WHERE id = 3").await;
    for app in [&a, &b] {
        eventually(SHOWS_WITHIN, "user 3 is gone", || async {
            (app.get("/users/3").await.status().code == 404).then_some(())
        })
        .await;
    }

    let holder = [&a, &b][follower_among(&[&a, &b]).await];
    let metrics = holder.fetch("/metrics").await.body;
    let value = |series: &str| -> f64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {series} in:\n{metrics}"))
    };
    assert!(value("page_cache_binlog_events_total") >= 3.0);
    assert!(value(r#"page_cache_purges_total{source="binlog"}"#) >= 3.0);
    assert!(value("page_cache_binlog_lag_seconds") < 60.0);
    let (status, api) = holder
        .api_json(rocket::http::Method::Get, "/api/admin/cache", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(api["binlog"]["following"], true);
    assert_eq!(api["binlog"]["this_instance"], true, "{api}");
    assert!(api["binlog"]["position"].is_string(), "{api}");
}

#[rocket::async_test]
async fn on_a_redis_cluster_the_follower_purges_pages_in_every_slot() {
    let db = OwnMariaDb::shared().database();
    let namespace = TestNamespace::new();
    let nodes = OwnCluster::shared().urls();
    let on_cluster = |builder: AppBuilder| builder.with("cache.cluster_nodes", &nodes);
    let a = on_cluster(instance(&db, &namespace)).start().await;
    let b = on_cluster(instance(&db, &namespace)).start().await;
    db.run(
        "INSERT INTO user (name, email, phone, address) \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30) \
         SELECT CONCAT('User ', i + 1), CONCAT('u', i, '@example.com'), '5', 'Road' FROM n",
    )
    .await;
    follower_among(&[&a, &b]).await;
    let pages: Vec<String> = (2..=31).map(|id| format!("/users/{id}")).collect();
    for uri in &pages {
        shows(&b, uri, "User").await;
    }
    db.run("UPDATE user SET name = CONCAT('Renamed ', id) WHERE id BETWEEN 2 AND 31")
        .await;
    for (id, uri) in (2..=31).zip(&pages) {
        shows(&a, uri, &format!("Renamed {id}")).await;
        shows(&b, uri, &format!("Renamed {id}")).await;
    }
}

#[rocket::async_test]
async fn killing_the_follower_loses_no_change() {
    let db = OwnMariaDb::shared().database();
    let (a, b) = directory(&db).await;
    let holder = follower_among(&[&a, &b]).await;
    let (dead, survivor) = if holder == 0 { (a, b) } else { (b, a) };
    // Dropped without its shutdown: the lease is not given up, as when a
    // process is killed; the survivor takes over when it runs out.
    drop(dead);
    db.run("UPDATE user SET name = 'Written while nobody followed' WHERE id = 3")
        .await;
    let took = shows(&survivor, "/users/3", "Written while nobody followed").await;
    assert!(
        took < Duration::from_millis(TAKEOVER_MS) + Duration::from_secs(2),
        "took {took:?}"
    );
    assert_eq!(follower_among(&[&survivor]).await, 0);
}

#[rocket::async_test]
async fn purges_that_fail_while_redis_is_down_are_made_once_it_is_back() {
    let db = OwnMariaDb::shared().database();
    let proxy = FaultProxy::start(redis_addr()).await;
    let redis = format!("redis://{}/", proxy.addr);
    let namespace = TestNamespace::new();
    let app = instance(&db, &namespace)
        .with("cache.url", &redis)
        .start()
        .await;
    db.run(
        "INSERT INTO user (name, email, phone, address) VALUES \
         ('Two', 'two@example.com', '2', 'Two Road'), ('Three', 'three@example.com', '3', 'Three Road')",
    )
    .await;
    follower_among(&[&app]).await;
    for uri in ["/", "/users/2", "/users/3"] {
        eventually(SHOWS_WITHIN, uri, || async {
            (app.fetch(uri).await.x_cache() == "HIT").then_some(())
        })
        .await;
    }

    proxy.switch(Mode::Cut).await;
    for n in 0..20 {
        let id = 2 + n % 2;
        db.run(&format!(
            "UPDATE user SET name = 'Write {n}' WHERE id = {id}"
        ))
        .await;
    }
    // Meanwhile pages come from MySQL, uncached.
    assert!(app.fetch("/users/3").await.body.contains("Write 19"));
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.switch(Mode::Pass).await;

    // The pages stored before the cut are in Redis still: without the
    // follower's retries they would be served for their whole lifetime.
    for (uri, name) in [
        ("/users/2", "Write 18"),
        ("/users/3", "Write 19"),
        ("/", "Write 19"),
    ] {
        shows(&app, uri, name).await;
    }
}

#[rocket::async_test]
async fn a_lost_position_purges_every_followed_table() {
    // RESET MASTER empties the whole server's binlog: a server of its own.
    let server = OwnMariaDb::start(&[]);
    let db = server.database();
    let namespace = TestNamespace::new();
    let first = instance(&db, &namespace).start().await;
    db.run("INSERT INTO user (name, email, phone, address) VALUES ('Two', 'two@example.com', '2', 'x')")
        .await;
    follower_among(&[&first]).await;
    shows(&first, "/users/2", "Two").await;
    drop(first);

    db.run("UPDATE user SET name = 'Changed while down' WHERE id = 2")
        .await;
    server.cli("RESET MASTER").expect("reset the binlog");
    let second = instance(&db, &namespace).start().await;
    shows(&second, "/users/2", "Changed while down").await;
}

#[rocket::async_test]
async fn after_mysql_restarts_the_follower_goes_on_from_where_it_was() {
    let mut server = OwnMariaDb::start(&[]);
    let db = server.database();
    let namespace = TestNamespace::new();
    let app = instance(&db, &namespace).start().await;
    db.run("INSERT INTO user (name, email, phone, address) VALUES ('Two', 'two@example.com', '2', 'x'), ('Three', 'three@example.com', '3', 'x')")
        .await;
    follower_among(&[&app]).await;
    shows(&app, "/users/2", "Two").await;
    shows(&app, "/users/3", "Three").await;

    db.run("UPDATE user SET name = 'Just before the restart' WHERE id = 2")
        .await;
    tokio::task::block_in_place(|| server.restart());
    db.run("UPDATE user SET name = 'Just after the restart' WHERE id = 3")
        .await;
    shows(&app, "/users/2", "Just before the restart").await;
    shows(&app, "/users/3", "Just after the restart").await;
    assert!(app.fetch("/").await.body.contains("Just after the restart"));
}

#[rocket::async_test]
async fn binlog_on_refuses_to_start_against_a_server_without_one() {
    // The shared server on 3306 writes no binlog.
    let refused = AppBuilder::new()
        .with("databases.main.binlog", "on")
        .try_start()
        .await;
    let Err(error) = refused else {
        panic!("launched without a binlog")
    };
    assert!(
        matches!(error.kind(), rocket::error::ErrorKind::FailedFairings(_)),
        "{error}"
    );

    let auto = AppBuilder::new().start().await;
    let view = status(&auto).view().await;
    assert!(!view.following);
    let reason = view.reason.unwrap_or_default();
    assert!(reason.contains("log_bin"), "{reason}");
    assert_eq!(auto.fetch("/").await.status, 200, "auto still serves");
}
