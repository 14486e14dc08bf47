//! One login throttle for the fleet: failures are counted in the shared store,
//! so three instances behind a load balancer allow what one allows (on one Redis
//! and on a Redis Cluster), and with Redis down each instance still throttles by
//! its own counts.

use test_support::{free_port, OwnCluster};

use crate::logins::login_from;
use crate::support::{AppBuilder, TestApp};

/// Failures allowed before lockouts start, in these tests.
const ALLOWED: usize = 3;

/// Wrong logins sent round robin over `apps` (from `remote`, as `username`, or
/// a new username each time when it is `None`) that were checked (401) before
/// the first was turned away (429).
async fn failures_before_lockout(apps: &[TestApp], remote: &str, username: Option<&str>) -> usize {
    for attempt in 0..ALLOWED * 6 {
        let name = username.map_or_else(|| format!("guess-{attempt}"), str::to_owned);
        let app = &apps[attempt % apps.len()];
        match login_from(app, remote, &name, "wrong").await.0 {
            401 => {}
            429 => return attempt,
            other => panic!("attempt {attempt}: {other}"),
        }
    }
    panic!("never locked out after {} attempts", ALLOWED * 6);
}

fn throttled(builder: AppBuilder) -> AppBuilder {
    builder
        .with_admin()
        .with("admin.login_failures_allowed", ALLOWED)
}

async fn fleet(first: AppBuilder, configure: impl Fn(AppBuilder) -> AppBuilder) -> Vec<TestApp> {
    let first = configure(first).start().await;
    let second = configure(first.peer()).start().await;
    let third = configure(first.peer()).start().await;
    vec![first, second, third]
}

#[rocket::async_test]
async fn three_instances_allow_as_many_failures_as_one() {
    let one = vec![throttled(AppBuilder::new()).start().await];
    let alone = failures_before_lockout(&one, "192.0.2.10:1", None).await;
    assert_eq!(alone, ALLOWED + 1, "the allowance, then one more failure");

    let three = fleet(AppBuilder::new(), throttled).await;
    assert_eq!(
        failures_before_lockout(&three, "192.0.2.11:1", None).await,
        alone,
        "one address, any instance"
    );
    let spread = [
        "192.0.2.12:1",
        "192.0.2.13:1",
        "192.0.2.14:1",
        "192.0.2.15:1",
    ];
    let mut checked = 0;
    for (attempt, remote) in spread.iter().cycle().enumerate().take(ALLOWED * 6) {
        match login_from(&three[attempt % 3], remote, "admin-target", "wrong")
            .await
            .0
        {
            401 => checked += 1,
            429 => break,
            other => panic!("{other}"),
        }
    }
    assert_eq!(checked, alone, "one username, any address and instance");
}

#[rocket::async_test]
async fn on_a_redis_cluster_three_instances_allow_as_many_failures_as_one() {
    let nodes = OwnCluster::shared().urls();
    let dead_url = format!("redis://127.0.0.1:{}/", free_port());
    let three = fleet(AppBuilder::new(), |builder| {
        throttled(builder)
            .with("cache.cluster_nodes", &nodes)
            .with("cache.url", &dead_url)
    })
    .await;
    assert_eq!(
        failures_before_lockout(&three, "192.0.2.20:1", None).await,
        ALLOWED + 1
    );
}

#[rocket::async_test]
async fn with_redis_down_each_instance_still_throttles_by_its_own_counts() {
    let dead_url = format!("redis://127.0.0.1:{}/", free_port());
    let down = |builder: AppBuilder| {
        throttled(builder)
            .with("cache.url", &dead_url)
            .with("cache.op_timeout_ms", 50)
    };
    let one = vec![down(AppBuilder::new()).start().await];
    assert_eq!(
        failures_before_lockout(&one, "192.0.2.30:1", None).await,
        ALLOWED + 1
    );
}
