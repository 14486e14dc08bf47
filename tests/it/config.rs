//! Configuration: Rocket.toml with `ROCKET_*` overrides in Rocket's own way (checked
//! on the real binary), and bad values refused at ignite.

use std::time::Duration;

use serde_json::json;
use test_support::free_port;

use crate::support::admin::API_TOKEN;
use crate::support::process::{server_command, Process, TempConfig};
use crate::support::{AppBuilder, TestDb, TestNamespace};

/// The admin's view of the cache on a running server (the public probe says only
/// up or down): store, namespace and database.
async fn admin_cache_status(port: u16) -> serde_json::Value {
    reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/admin/cache"))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .expect("GET /api/admin/cache")
        .json()
        .await
        .expect("JSON")
}

#[rocket::async_test]
async fn environment_overrides_reach_the_app_on_top_of_rocket_toml() {
    let db = TestDb::new();
    let namespace = TestNamespace::new();
    let port = free_port();
    assert!(!db.exists());

    let mut server = Process::spawn(server_command(&[
        ("ROCKET_PORT", port.to_string()),
        (
            "ROCKET_DATABASES",
            format!("{{main={{url=\"{}\"}}}}", db.url()),
        ),
        (
            "ROCKET_CACHE",
            format!("{{namespace=\"{}\"}}", namespace.name),
        ),
        ("ROCKET_ADMIN", format!("{{api_token=\"{API_TOKEN}\"}}")),
    ]));
    let ready = server
        .wait_answer(
            &format!("http://127.0.0.1:{port}/health/ready"),
            Duration::from_mins(1),
        )
        .await;
    assert_eq!(ready.status(), 200);
    let body = admin_cache_status(port).await;
    assert_eq!(body["database"]["status"], "up", "{body}");
    assert_eq!(
        body["store"]["namespace"],
        namespace.name.as_str(),
        "{body}"
    );
    // `backend` and `url` are not in the override. Rocket.toml's values equal the
    // code's defaults, so this does not tell them apart: the next test does.
    assert_eq!(body["store"]["backend"], "redis", "{body}");
    assert_eq!(body["store"]["status"], "up", "{body}");

    assert!(db.exists(), "the app did not create {}", db.name);
    assert_eq!(db.query_one("SELECT COUNT(*) FROM `user`"), "1");

    let page = reqwest::get(format!("http://127.0.0.1:{port}/"))
        .await
        .expect("GET /");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Soumitra"));
}

#[rocket::async_test]
async fn a_partial_table_override_keeps_the_keys_it_does_not_name() {
    // A Rocket.toml of its own whose values differ from the code's defaults, so
    // that a key lost to the override would show.
    let db = TestDb::new();
    let port = free_port();
    let config = TempConfig::new(&format!(
        "[default]\naddress = \"127.0.0.1\"\nport = 1\ntemplate_dir = \"{}\"\n\
         [default.databases.main]\nurl = \"{}\"\npool_size = 3\n\
         [default.cache]\nbackend = \"memory\"\nnamespace = \"from-file\"\n",
        concat!(env!("CARGO_MANIFEST_DIR"), "/templates"),
        db.url()
    ));

    let mut server = Process::spawn(server_command(&[
        ("ROCKET_CONFIG", config.path.display().to_string()),
        ("ROCKET_PORT", port.to_string()),
        ("ROCKET_DATABASES", "{main={pool_size=2}}".to_owned()),
        ("ROCKET_CACHE", "{namespace=\"from-env\"}".to_owned()),
        ("ROCKET_ADMIN", format!("{{api_token=\"{API_TOKEN}\"}}")),
    ]));
    let ready = server
        .wait_answer(
            &format!("http://127.0.0.1:{port}/health/ready"),
            Duration::from_mins(1),
        )
        .await;
    assert_eq!(ready.status(), 200);
    let body = admin_cache_status(port).await;
    // The database URL came from the file although the override named `main`.
    assert!(db.exists(), "the app did not use the file's database URL");
    assert_eq!(body["database"]["status"], "up", "{body}");
    assert_eq!(body["store"]["namespace"], "from-env", "{body}");
    assert_eq!(body["store"]["backend"], "memory", "{body}");
}

/// Asserts that this configuration is refused at ignite, and that the server
/// binary given it as a `ROCKET_*` override exits with a line naming the key.
async fn assert_refused(key: &str, value: impl serde::Serialize) {
    let value = serde_json::to_value(value).expect("a JSON value");
    let result = AppBuilder::new().with(key, value.clone()).try_start().await;
    let Err(error) = result else {
        panic!("the app launched with a bad `{key}`")
    };
    assert!(
        matches!(error.kind(), rocket::error::ErrorKind::FailedFairings(_)),
        "{key}: {error}"
    );

    // A database and namespace of its own, in case ignite gets past them.
    let db = TestDb::new();
    let namespace = TestNamespace::new();
    let mut tables = serde_json::json!({
        "databases": { "main": { "url": db.url() } },
        "cache": { "namespace": namespace.name },
    });
    let (section, path) = key.split_once('.').expect("a key under a table");
    let mut table = &mut tables[section];
    for part in path.split('.') {
        table = &mut table[part];
    }
    *table = value;
    let mut env: Vec<(&str, String)> = vec![("ROCKET_PORT", free_port().to_string())];
    env.push(("ROCKET_DATABASES", inline_toml(&tables["databases"])));
    env.push(("ROCKET_CACHE", inline_toml(&tables["cache"])));
    let mut server = Process::spawn(server_command(&env));
    let status = server.wait_exit(Duration::from_secs(30)).await;
    let output = server.output();
    assert!(!status.success(), "{key}: {status}; output:\n{output}");
    // Figment names a key from a `ROCKET_*` table in capitals (`BACKEND.CACHE`).
    let name = key.rsplit('.').next().unwrap_or(key).to_ascii_lowercase();
    assert!(
        output
            .lines()
            .map(str::to_ascii_lowercase)
            .any(|line| line.contains("configuration") && line.contains(&name)),
        "{key}: no configuration line names `{name}`:\n{output}"
    );
}

/// A JSON object as a TOML inline table, the form a `ROCKET_*` table override takes.
fn inline_toml(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k}={}", inline_toml(v)))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        other => other.to_string(),
    }
}

#[rocket::async_test]
async fn a_pool_of_zero_connections_aborts_the_launch() {
    assert_refused("databases.main.pool_size", 0).await;
}

#[rocket::async_test]
async fn zero_database_timeouts_abort_the_launch() {
    assert_refused("databases.main.acquire_timeout_ms", 0).await;
    assert_refused("databases.main.connect_timeout_ms", 0).await;
}

#[rocket::async_test]
async fn a_database_url_that_is_not_mysql_aborts_the_launch() {
    assert_refused("databases.main.url", "postgres://x/y").await;
    assert_refused("databases.main.url", "not a url").await;
}

#[rocket::async_test]
async fn a_database_url_without_a_plain_database_name_aborts_the_launch() {
    assert_refused("databases.main.url", "mysql://root@127.0.0.1:3306/").await;
    assert_refused("databases.main.url", "mysql://root@127.0.0.1:3306/a%60b").await;
}

#[rocket::async_test]
async fn a_misspelt_database_key_aborts_the_launch() {
    assert_refused("databases.main.poolsize", 5).await;
}

#[rocket::async_test]
async fn a_cache_namespace_with_a_space_aborts_the_launch() {
    assert_refused("cache.namespace", "a b").await;
    assert_refused("cache.namespace", "").await;
}

#[rocket::async_test]
async fn an_unknown_cache_backend_or_a_non_redis_url_aborts_the_launch() {
    assert_refused("cache.backend", "memcached").await;
    assert_refused("cache.url", "http://127.0.0.1:6379/").await;
    assert_refused("cache.op_timeout_ms", 0).await;
}

#[rocket::async_test]
async fn numbers_without_bounds_abort_the_launch() {
    // Keys that would never expire, and a near cache that bounds nothing.
    assert_refused("cache.stale_if_error", 31_536_000_000_u64).await;
    assert_refused("cache.near_max_bytes", 1_000_000_000_000_u64).await;
    assert_refused("cache.grace", 10_000_000).await;
    assert_refused("databases.main.acquire_timeout_ms", 86_400_000).await;
}

#[rocket::async_test]
async fn a_short_metrics_token_or_an_unbounded_session_aborts_the_launch() {
    for (key, value) in [
        ("metrics.token", json!("abc")),
        ("admin.session_ttl_secs", json!(31_536_000_000_u64)),
    ] {
        let started = AppBuilder::new()
            .with_admin()
            .with(key, value.clone())
            .try_start()
            .await;
        let Err(error) = started else {
            panic!("the app launched with {key} = {value}")
        };
        assert!(
            matches!(error.kind(), rocket::error::ErrorKind::FailedFairings(_)),
            "{key}: {error}"
        );
    }
    let sixteen = AppBuilder::new()
        .with("metrics.token", "0123456789abcdef")
        .try_start()
        .await;
    assert!(sixteen.is_ok(), "16 characters are enough");
}

#[rocket::async_test]
async fn a_sentinel_master_name_with_a_space_aborts_the_launch() {
    let sentinel = json!({ "master": "my master", "nodes": ["redis://127.0.0.1:26379/"] });
    assert_refused("cache.sentinel", sentinel).await;
}

#[rocket::async_test]
async fn a_misspelt_cache_key_aborts_the_launch() {
    assert_refused("cache.default_tll", 60).await;
}

#[rocket::async_test]
async fn started_outside_the_repository_it_names_the_template_dir_before_migrating() {
    let db = TestDb::new();
    let elsewhere = std::env::temp_dir().join(test_support::random_name("rc-cwd"));
    std::fs::create_dir_all(&elsewhere).unwrap();
    let mut command = server_command(&[(
        "ROCKET_DATABASES",
        format!("{{main={{url=\"{}\"}}}}", db.url()),
    )]);
    command.current_dir(&elsewhere);
    let mut server = Process::spawn(command);
    let status = server.wait_exit(Duration::from_mins(1)).await;
    let output = server.output();
    let _ = std::fs::remove_dir(&elsewhere);
    assert!(!status.success(), "{output}");
    assert!(
        output.contains("`template_dir` is") && output.contains("ROCKET_TEMPLATE_DIR="),
        "{output}"
    );
    assert!(!db.exists(), "nothing was created or migrated: {output}");
}
