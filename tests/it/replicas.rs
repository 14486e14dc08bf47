//! Read replicas: renders read a replica, and no page older than a purge is
//! served or stored, however far the replica lags. Each test has a primary
//! and a replica of its own (GTID replication), and makes the replica lag on
//! purpose (`STOP SLAVE SQL_THREAD`) or kills it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use rocket::http::Method;
use rocket_cache::db::replicas::{ReplicaState, ReplicaView};
use rocket_cache::db::Db;
use rocket_cache::follower::FollowerStatus;
use test_support::{eventually, OwnCluster};

use crate::support::own_mariadb::{OwnDatabase, ReplicatedPair};
use crate::support::{AppBuilder, TestApp, TestDb, TestNamespace};

/// Users 2..=20 (the sample row is user 1): one list page (20) holds them all.
const USERS: u32 = 19;
/// Longest anything background (replication, the follower, a check) may take
/// in these tests, on a loaded machine running debug builds.
const WITHIN: Duration = Duration::from_secs(10);

/// An instance on `db` that reads from the pair's replica.
fn instance(pair: &ReplicatedPair, db: &OwnDatabase, namespace: &Arc<TestNamespace>) -> AppBuilder {
    AppBuilder::sharing(TestDb::new(), namespace.clone())
        .with("databases.main.url", db.url())
        .with("databases.main.replicas", [pair.replica_url(db)])
        .with("databases.main.binlog", "off")
        .with_admin()
}

fn replica_view(app: &TestApp) -> ReplicaView {
    let db = app.client.rocket().state::<Db>().expect("Db managed");
    db.replicas().views().remove(0)
}

async fn in_rotation(app: &TestApp) {
    let deadline = Instant::now() + WITHIN;
    while !replica_view(app).in_rotation {
        assert!(
            Instant::now() < deadline,
            "the replica is not in rotation: {:?}",
            replica_view(app)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Two instances on a database of the pair with the users, both with the
/// replica in rotation; the database lives as long as its holder.
async fn two_instances_reading_the_replica(
    pair: &ReplicatedPair,
) -> (Arc<OwnDatabase>, TestApp, TestApp) {
    let db = pair.database().await;
    let namespace = TestNamespace::new();
    let a = instance(pair, &db, &namespace).start().await;
    let b = instance(pair, &db, &namespace).start().await;
    add_users(&db).await;
    pair.caught_up().await;
    in_rotation(&a).await;
    in_rotation(&b).await;
    (db, a, b)
}

async fn add_users(db: &OwnDatabase) {
    db.run(&format!(
        "INSERT INTO user (name, email, phone, address) \
         WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < {}) \
         SELECT CONCAT('User ', LPAD(i, 4, '0')), CONCAT('u', i, '@example.com'), '5', 'Road' FROM n",
        USERS + 1
    ))
    .await;
}

/// Every user's name on the primary, by id.
async fn names_on_primary(conn: &mut mysql_async::Conn) -> BTreeMap<u32, String> {
    conn.query::<(u32, String), _>("SELECT id, name FROM user")
        .await
        .expect("names on the primary")
        .into_iter()
        .collect()
}

/// The pages that show users 2..=20 (each user's page, its API item, the
/// list and the API list), and the ids each shows.
fn pages() -> Vec<(String, Vec<u32>)> {
    let all: Vec<u32> = (2..=USERS + 1).collect();
    let mut pages = vec![
        ("/".to_owned(), all.clone()),
        ("/api/users".to_owned(), all),
    ];
    for id in 2..=USERS + 1 {
        pages.push((format!("/users/{id}"), vec![id]));
        pages.push((format!("/api/users/{id}"), vec![id]));
    }
    pages
}

/// How many of `pages` on `app` do not show a name the primary has now; with
/// `hits_only`, only pages served from the cache count (what is stored).
async fn stale_pages(
    app: &TestApp,
    pages: &[(String, Vec<u32>)],
    names: &BTreeMap<u32, String>,
    hits_only: bool,
) -> Vec<String> {
    let mut stale = Vec::new();
    for (uri, ids) in pages {
        let reply = app.fetch(uri).await;
        if hits_only && reply.x_cache() != "HIT" {
            continue;
        }
        // Names are unique and of one length (`User 0007`, `Api 0012`), so a
        // page shows a name when it contains it.
        if let Some(id) = ids.iter().find(|id| !reply.body.contains(&names[id])) {
            stale.push(format!("{uri} lacks {:?} (user {id})", names[id]));
        }
    }
    stale
}

fn transactions_followed(apps: &[&TestApp]) -> u64 {
    apps.iter()
        .map(|app| {
            app.client
                .rocket()
                .state::<Arc<FollowerStatus>>()
                .expect("follower status")
                .transactions()
        })
        .sum()
}

/// Writes through the API and with SQL on the primary while the replica
/// applies nothing; after each write is acknowledged (and 100 ms), every page
/// on both instances must show what the primary has; once the replica has
/// caught up, every stored page too. Returns the stale counts.
async fn no_stale_page_from_a_lagging_replica(cluster: bool, count: u32) {
    let pair = ReplicatedPair::start();
    let db = pair.database().await;
    let namespace = TestNamespace::new();
    let nodes = OwnCluster::shared().urls();
    let builder = || {
        let builder = instance(&pair, &db, &namespace)
            .with("databases.main.binlog", "on")
            .with("databases.main.binlog_takeover_ms", 1_000)
            // A stopped replica stays in rotation: every render must then
            // decide by the purged position alone.
            .with("databases.main.replica_max_lag_ms", 600_000);
        if cluster {
            builder.with("cache.cluster_nodes", &nodes)
        } else {
            builder
        }
    };
    let a = builder().start().await;
    let b = builder().start().await;
    add_users(&db).await;
    pair.caught_up().await;
    in_rotation(&a).await;
    in_rotation(&b).await;
    let mut primary = mysql_async::Conn::from_url(db.url())
        .await
        .expect("primary");
    let pages = pages();
    // Warm: every page cached, from the replica.
    eventually(WITHIN, "the follower purged the insert", || async {
        (transactions_followed(&[&a, &b]) >= 1).then_some(())
    })
    .await;
    let names = names_on_primary(&mut primary).await;
    for app in [&a, &b] {
        assert_eq!(
            stale_pages(app, &pages, &names, false).await,
            Vec::<String>::new()
        );
    }
    let reads_before = replica_view(&a).reads + replica_view(&b).reads;
    assert!(reads_before > 0, "renders read the replica");

    pair.replica
        .cli("STOP SLAVE SQL_THREAD")
        .expect("stop the replica's SQL thread");
    let mut stale_after_ack = Vec::new();
    let mut own_write_stale = 0;
    for i in 0..count * 2 {
        let (stale, own_stale) = write_and_check(i, [&a, &b], &mut primary, &pages).await;
        stale_after_ack.extend(stale);
        own_write_stale += own_stale;
    }
    let fell_back = replica_view(&a).behind_purges + replica_view(&b).behind_purges;

    pair.replica
        .cli("START SLAVE SQL_THREAD")
        .expect("start the replica's SQL thread");
    pair.caught_up().await;
    let names = names_on_primary(&mut primary).await;
    let mut stale_stored = Vec::new();
    for app in [&a, &b] {
        // Twice: the first fetch stores what a miss renders, the second
        // shows what is stored.
        stale_pages(app, &pages, &names, false).await;
        stale_stored.extend(stale_pages(app, &pages, &names, true).await);
    }
    println!(
        "replicas (cluster: {cluster}): {} writes ({count} API, {count} SQL) with the replica \
         stopped, {} page checks: {} stale after ack + 100 ms, {own_write_stale} stale own \
         writes, {} stale stored after catching up; {fell_back} reads sent to the primary by \
         the purged position",
        count * 2,
        count as usize * 2 * pages.len() * 2,
        stale_after_ack.len(),
        stale_stored.len(),
    );
    assert_eq!(stale_after_ack, Vec::<String>::new(), "stale after ack");
    assert_eq!(own_write_stale, 0, "the writer saw its own write");
    assert_eq!(stale_stored, Vec::<String>::new(), "stale stored");
    assert!(
        fell_back > 0,
        "the lagging replica was kept out by the rule"
    );
}

/// Write `i`: through the API on one instance (even `i`) or with SQL on the
/// primary (odd), acknowledged, then 100 ms, then every page on both instances
/// checked against the primary. The stale pages, and whether the writer's own
/// page was stale right after its write.
async fn write_and_check(
    i: u32,
    [a, b]: [&TestApp; 2],
    primary: &mut mysql_async::Conn,
    pages: &[(String, Vec<u32>)],
) -> (Vec<String>, u32) {
    let id = 2 + i % USERS;
    let (writer, other) = if i % 4 < 2 { (a, b) } else { (b, a) };
    let mut own_stale = 0;
    if i.is_multiple_of(2) {
        let name = format!("Api {i:04}");
        let body = serde_json::json!({
            "name": name, "email": format!("api{i}@example.com"),
            "phone": "5", "address": "Road",
        });
        let (status, _) = writer
            .api_json(Method::Put, &format!("/api/users/{id}"), Some(&body))
            .await;
        assert_eq!(status, 200);
        // The writer reads its own write at once.
        if !writer
            .fetch(&format!("/users/{id}"))
            .await
            .body
            .contains(&name)
        {
            own_stale += 1;
        }
    } else {
        let followed = transactions_followed(&[a, b]);
        primary
            .exec_drop(
                "UPDATE user SET name = ?, email = ? WHERE id = ?",
                (format!("Sql {i:04}"), format!("sql{i}@example.com"), id),
            )
            .await
            .expect("update on the primary");
        // Acknowledged when the follower has purged it.
        eventually(WITHIN, "the follower purged the update", || async {
            (transactions_followed(&[a, b]) > followed).then_some(())
        })
        .await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let names = names_on_primary(primary).await;
    let mut stale = stale_pages(writer, pages, &names, false).await;
    stale.extend(stale_pages(other, pages, &names, false).await);
    (stale, own_stale)
}

/// How many writes of each kind the stale tests make (`REPLICA_WRITES`; the
/// goal's figure is 100).
fn writes() -> u32 {
    std::env::var("REPLICA_WRITES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(30)
}

#[rocket::async_test]
async fn no_page_older_than_a_purge_is_served_or_stored_from_a_lagging_replica() {
    no_stale_page_from_a_lagging_replica(false, writes()).await;
}

#[rocket::async_test]
async fn on_a_redis_cluster_no_page_older_than_a_purge_comes_from_a_lagging_replica() {
    no_stale_page_from_a_lagging_replica(true, writes() / 3).await;
}

/// What a load saw: each request's time, the errors, and how many requests
/// were rendered (not answered from the cache).
#[derive(Default)]
struct Load {
    took: Vec<Duration>,
    errors: Vec<String>,
    renders: u64,
}

/// Rounds of misses: the cache is emptied before each, then every user's page
/// or the list page after it is fetched once, the users shared out among
/// `apps`, which fetch at once.
async fn miss_heavy_load(apps: &[&TestApp], rounds: u32) -> Load {
    let mut load = Load::default();
    for _ in 0..rounds {
        apps[0].cache().clear_all().await.expect("empty the cache");
        let fetches = apps.iter().enumerate().map(|(n, app)| async move {
            let mut part = Load::default();
            for id in (2..=USERS + 1).filter(|id| *id as usize % apps.len() == n) {
                let uri = if id % 4 < 2 {
                    format!("/users/{id}")
                } else {
                    format!("/api/users?after={id}")
                };
                let start = Instant::now();
                let reply = app.fetch(&uri).await;
                part.took.push(start.elapsed());
                if reply.status != 200 {
                    part.errors
                        .push(format!("{uri}: {} {}", reply.status, reply.body));
                }
                part.renders += u64::from(reply.x_cache() != "HIT");
            }
            part
        });
        for part in futures::future::join_all(fetches).await {
            load.took.extend(part.took);
            load.errors.extend(part.errors);
            load.renders += part.renders;
        }
    }
    load
}

/// Statements a server ran for clients' queries: text `SELECT`s and prepared
/// statements (the app's queries are prepared; the checker's are `SHOW`s).
fn selects(server: &crate::support::own_mariadb::OwnMariaDb) -> u64 {
    server.status_counter("Com_select") + server.status_counter("Com_stmt_execute")
}

fn p99(took: &mut [Duration]) -> Duration {
    took.sort();
    took[(took.len() * 99 / 100).min(took.len() - 1)]
}

#[rocket::async_test]
async fn renders_read_the_replica() {
    let pair = ReplicatedPair::start();
    let (_db, a, b) = two_instances_reading_the_replica(&pair).await;
    let before = (selects(&pair.primary), selects(&pair.replica));
    let load = miss_heavy_load(&[&a, &b], 20).await;
    assert_eq!(load.errors, Vec::<String>::new());
    let on_primary = selects(&pair.primary) - before.0;
    let on_replica = selects(&pair.replica) - before.1;
    #[allow(clippy::cast_precision_loss)]
    let share = on_replica as f64 / (on_primary + on_replica) as f64;
    println!(
        "replicas: {} requests, {} renders on 2 instances: Com_select + Com_stmt_execute \
         {on_replica} on the replica, {on_primary} on the primary ({:.1}% on the replica)",
        load.took.len(),
        load.renders,
        share * 100.0
    );
    assert!(
        load.renders >= 300,
        "a miss-heavy load: {} renders",
        load.renders
    );
    assert!(
        share >= 0.95,
        "{on_replica} on the replica, {on_primary} on the primary"
    );
}

#[rocket::async_test]
async fn a_replica_killed_under_load_costs_no_request_an_error() {
    let mut pair = ReplicatedPair::start();
    let (_db, a, b) = two_instances_reading_the_replica(&pair).await;
    let apps = [&a, &b];
    let load = miss_heavy_load(&apps, 30);
    let kill = async {
        // Into the load, then the crash.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let reads = replica_view(&a).reads;
        pair.replica.kill();
        let killed = Instant::now();
        eventually(WITHIN, "the killed replica leaves rotation", || async {
            (!replica_view(&a).in_rotation && !replica_view(&b).in_rotation).then_some(())
        })
        .await;
        (reads, killed.elapsed())
    };
    let (load, (reads_before_kill, out_after)) = futures::join!(load, kill);
    let (mut took, errors) = (load.took, load.errors);
    let view = replica_view(&a);
    println!(
        "replicas: replica killed under load after {reads_before_kill} reads on it: {} \
         requests, {} errors, p99 {:?}, out of rotation on both instances {out_after:?} \
         after the kill",
        took.len(),
        errors.len(),
        p99(&mut took)
    );
    assert!(
        reads_before_kill > 0,
        "the load read the replica before the kill"
    );
    assert_eq!(errors, Vec::<String>::new());
    assert!(p99(&mut took) < Duration::from_secs(1));
    assert_eq!(view.state, ReplicaState::Down, "{view:?}");
    assert!(out_after < Duration::from_secs(1), "{out_after:?}");
    let (status, _) = a.get_text("/health/ready").await;
    assert_eq!(status, 200, "ready while the primary is up");
}

#[rocket::async_test]
async fn a_lagging_replica_leaves_rotation_and_comes_back() {
    let pair = ReplicatedPair::start();
    let db = pair.database().await;
    let namespace = TestNamespace::new();
    let app = instance(&pair, &db, &namespace)
        .with("databases.main.replica_max_lag_ms", 500)
        .start()
        .await;
    add_users(&db).await;
    pair.caught_up().await;
    in_rotation(&app).await;

    pair.replica
        .cli("STOP SLAVE SQL_THREAD")
        .expect("stop the replica's SQL thread");
    db.run("UPDATE user SET name = 'Not on the replica' WHERE id = 2")
        .await;
    let written = Instant::now();
    eventually(WITHIN, "the lagging replica leaves rotation", || async {
        let view = replica_view(&app);
        (view.state == ReplicaState::Lagging && !view.in_rotation).then_some(())
    })
    .await;
    let out_after = written.elapsed();
    // 500 ms of lag, then within a second.
    assert!(out_after < Duration::from_millis(1_500), "{out_after:?}");
    let (status, _) = app.get_text("/health/ready").await;
    assert_eq!(status, 200, "ready while the primary is up");
    let metrics = app.fetch("/metrics").await.body;
    assert!(
        metrics.contains("db_replica_in_rotation{replica=") && metrics.contains("} 0\n"),
        "{metrics}"
    );
    let (status, admin) = app.api_json(Method::Get, "/api/admin/cache", None).await;
    assert_eq!(status, 200);
    assert_eq!(admin["replicas"][0]["state"], "lagging", "{admin}");
    assert_eq!(admin["replicas"][0]["sql_running"], false, "{admin}");
    app.login().await;
    let page = app.get("/admin/cache").await.into_string().await.unwrap();
    assert!(
        page.contains("Read replicas") && page.contains("lagging, out of rotation"),
        "{page}"
    );
    // Pages are right meanwhile: read from the primary.
    assert!(app
        .fetch("/users/2")
        .await
        .body
        .contains("Not on the replica"));

    pair.replica
        .cli("START SLAVE SQL_THREAD")
        .expect("start the replica's SQL thread");
    in_rotation(&app).await;
    let view = replica_view(&app);
    assert_eq!(
        (view.state, view.lag_ms),
        (ReplicaState::Healthy, Some(0)),
        "{view:?}"
    );
    let metrics = app.fetch("/metrics").await.body;
    assert!(
        metrics.contains("db_replica_lag_seconds{replica="),
        "{metrics}"
    );
}
