//! Cluster-wide figures: what every instance's cache did, added up in Redis each
//! second and shown by any instance's admin page and JSON.

use std::time::Duration;

use rocket::http::Method;

use rocket_cache::ops::fleet::FleetFigures;
use test_support::{eventually, free_port, OwnCluster};

use crate::support::redis::redis_conn;
use crate::support::{AppBuilder, TestApp};

/// Longer than a few flushes (one a second) on a loaded machine.
const FLUSHED_WITHIN: Duration = Duration::from_secs(15);

fn figures(app: &TestApp) -> &FleetFigures {
    app.client
        .rocket()
        .state::<FleetFigures>()
        .expect("managed")
}

async fn cache_status(app: &TestApp) -> serde_json::Value {
    let (status, json) = app.api_json(Method::Get, "/api/admin/cache", None).await;
    assert_eq!(status, 200, "{json}");
    json
}

/// Polls `app`'s JSON until its cluster figures satisfy `done`.
async fn cluster_once(
    app: &TestApp,
    what: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    eventually(FLUSHED_WITHIN, what, || async {
        let json = cache_status(app).await;
        done(&json["cluster"]).then_some(json)
    })
    .await
}

#[rocket::async_test]
async fn cluster_figures_add_up_every_instance() {
    let a = AppBuilder::new().with_admin().start().await;
    let b = a.peer().with_admin().start().await;
    a.insert_users(2);
    assert_eq!(a.fetch("/users/1").await.x_cache(), "MISS");
    for _ in 0..3 {
        assert_eq!(a.fetch("/users/1").await.x_cache(), "HIT");
    }
    for _ in 0..4 {
        assert_eq!(b.fetch("/users/1").await.x_cache(), "HIT");
    }
    assert_eq!(b.fetch("/users/2").await.x_cache(), "MISS");

    let expected = |c: &serde_json::Value| {
        c["hits"] == 7 && c["misses"] == 2 && c["requests"] == 9 && c["instances"] == 2
    };
    let seen_by_a = cluster_once(&a, "7 hits and 2 misses from 2 instances", expected).await;
    let cluster = &seen_by_a["cluster"];
    assert!((cluster["hit_ratio"].as_f64().unwrap() - 7.0 / 9.0).abs() < 1e-9);
    assert_eq!(cluster["window_secs"], 3600);
    assert_eq!(cluster["minutes"].as_array().unwrap().len(), 60);
    // Each instance's own figures are its own.
    assert_eq!(seen_by_a["instance"]["hits"], 3);
    assert_eq!(seen_by_a["instance"]["misses"], 1);
    let seen_by_b = cache_status(&b).await;
    assert_eq!(seen_by_b["instance"]["hits"], 4);
    assert_eq!(seen_by_b["cluster"]["hits"], 7);

    // Nothing is counted twice, however many flushes pass.
    for app in [&a, &b, &a, &b] {
        figures(app).flush().await.expect("a flush");
    }
    let later = &cache_status(&a).await["cluster"];
    assert_eq!((&later["hits"], &later["misses"]), (&7.into(), &2.into()));
}

#[rocket::async_test]
async fn on_a_redis_cluster_the_figures_go_through_the_cluster_not_cache_url() {
    let nodes = OwnCluster::shared().urls();
    let dead_url = format!("redis://127.0.0.1:{}/", free_port());
    let on_cluster = |builder: AppBuilder| {
        builder
            .with_admin()
            .with("cache.cluster_nodes", &nodes)
            .with("cache.url", &dead_url)
    };
    let a = on_cluster(AppBuilder::new()).start().await;
    let b = on_cluster(a.peer()).start().await;
    assert_eq!(a.fetch("/users/1").await.x_cache(), "MISS");
    for _ in 0..3 {
        assert_eq!(b.fetch("/users/1").await.x_cache(), "HIT");
    }
    let expected =
        |c: &serde_json::Value| c["hits"] == 3 && c["misses"] == 1 && c["instances"] == 2;
    let json = cluster_once(&a, "3 hits and a miss from 2 instances", expected).await;
    assert!(json["cluster_error"].is_null(), "{json}");
}

#[rocket::async_test]
async fn every_cluster_key_expires_and_the_buckets_are_few() {
    let app = AppBuilder::new().with_admin().start().await;
    app.fetch("/users/1").await;
    cluster_once(&app, "the miss flushed", |c| c["misses"] == 1).await;
    let keys = app.namespace.stats_keys();
    let mut conn = redis_conn().expect("Redis");
    let minutes = keys
        .iter()
        .filter(|k| k.contains(":stats:{fleet}:m:"))
        .count();
    assert!((1..=2).contains(&minutes), "{keys:?}");
    assert!(
        keys.iter().any(|k| k.ends_with(":stats:{fleet}:instances")),
        "{keys:?}"
    );
    assert_eq!(keys.len(), minutes + 1, "{keys:?}");
    for key in &keys {
        let ttl: i64 = redis::cmd("TTL").arg(key).query(&mut conn).expect("TTL");
        assert!((1..=3720).contains(&ttl), "{key} lives {ttl}s");
    }
}

#[rocket::async_test]
async fn without_a_shared_store_there_are_no_cluster_figures_and_the_page_says_why() {
    let app = AppBuilder::new()
        .with_admin()
        .with("cache.backend", "memory")
        .start()
        .await;
    app.fetch("/users/1").await;
    let json = cache_status(&app).await;
    assert!(json["cluster"].is_null(), "{json}");
    assert!(
        json["cluster_error"].as_str().unwrap().contains("redis"),
        "{json}"
    );
    assert_eq!(json["instance"]["misses"], 1);
}

#[rocket::async_test]
async fn the_admin_page_draws_the_last_hour_as_an_accessible_svg_without_script_or_style() {
    let app = AppBuilder::new().with_admin().start().await;
    app.fetch("/users/1").await;
    app.fetch("/users/1").await;
    cluster_once(&app, "a hit and a miss flushed", |c| {
        c["hits"] == 1 && c["misses"] == 1
    })
    .await;
    app.login().await;
    let page = app.fetch("/admin/cache").await;
    assert_eq!(page.status, 200);
    let html = &page.body;
    let svg_start = html.find("<svg class=\"chart\"").expect("a chart");
    let svg = &html[svg_start..html[svg_start..].find("</svg>").unwrap() + svg_start];
    assert!(svg.contains("role=\"img\""));
    assert!(svg.contains("<title id=\"chart-title\">"));
    assert!(
        svg.contains("<desc id=\"chart-desc\">Hit ratio over the hour 50%"),
        "{svg}"
    );
    assert!(svg.contains("<polyline class=\"chart-ratio\"") || svg.contains("class=\"chart-dot\""));
    assert!(svg.contains("<rect class=\"chart-bar\""));
    for needle in [
        " style=",
        "<script",
        "<style",
        " onload=",
        " onclick=",
        "javascript:",
    ] {
        assert!(!svg.contains(needle), "{needle:?} in {svg}");
    }
    assert!(html.contains("Whole cluster, last hour"));
}
