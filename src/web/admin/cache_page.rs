//! `/admin/cache`: what the shared cache holds and what it has done, and purges by
//! path, by tag (hard or soft) or of everything under the namespace. The same as
//! JSON at `/api/admin/cache` for scripts, with the API token.

use std::sync::Arc;
use std::time::Duration;

use rocket::form::{Form, FromForm};
use rocket::serde::json::Json;
use rocket::{get, post, routes, Route, State};
use rocket_dyn_templates::Template;
use serde::{Deserialize, Serialize};

use crate::db::replicas::ReplicaView;
use crate::db::Db;
use crate::follower::{FollowerStatus, FollowerView};
use crate::ops::fleet::window::ratio;
use crate::ops::fleet::{FleetFigures, FleetWindow};
use crate::ops::health::{database_health, DatabaseHealth};
use crate::users::validation::FieldErrors;
use crate::web::admin::chart::{chart, percent, ChartView};
use crate::web::auth::{AdminSession, ApiAdmin, AuthError};
use crate::web::error::AppError;
use crate::web::json_body::{BodyError, JsonBody};
use crate::web::login_required::{page_session, Denied};
use crate::web::replies::{AdminReply, Shown};
use crate::web::viewer::{flash_view, AdminView, FlashView};
use rocket_page_cache::routes::normalise_request_path;
use rocket_page_cache::stats::Usage;
use rocket_page_cache::stats::{CacheHealth, StatsSnapshot};
use rocket_page_cache::Cache;

pub fn routes() -> Vec<Route> {
    routes![page, purge_form, status_json, purge_json]
}

/// Keys visited by the usage scan of one page view.
const USAGE_LIMIT: u64 = 10_000;
/// Most keys a JSON caller may ask the scan to visit.
const USAGE_LIMIT_MAX: u64 = 1_000_000;
/// Longest the usage scan may take; it walks the whole Redis keyspace in steps.
const USAGE_BUDGET: Duration = Duration::from_secs(5);

/// What the cache holds and has done, as the page and the JSON show it.
#[derive(Serialize)]
struct CacheStatus {
    /// Backend, and whether the store answers now.
    store: CacheHealth,
    namespace: String,
    generation: String,
    /// The start of every page key of this deploy.
    key_prefix: String,
    usage: Option<UsageView>,
    usage_error: Option<String>,
    /// Counters of this instance since it started; other instances count their own.
    stats: StatsSnapshot,
    /// This instance's requests and hit ratio since it started.
    instance: InstanceFigures,
    /// The whole fleet over the last hour, from the figures every instance adds
    /// to Redis; `None` without a shared store or when Redis did not answer.
    /// (`cluster` is the JSON's name for it, which scripts read.)
    cluster: Option<FleetWindow>,
    cluster_error: Option<String>,
    /// Whether `MySQL` answers, with the driver's reason when not (the public
    /// readiness probe says only up or down).
    database: DatabaseHealth,
    /// The binlog follower: who follows, where it is, how far behind.
    binlog: FollowerView,
    /// Each read replica as this instance's checker last saw it: state,
    /// whether renders read it, lag, and the reads it served.
    replicas: Vec<ReplicaView>,
}

/// One instance's figures since it started, counted as the fleet's are.
#[derive(Serialize)]
struct InstanceFigures {
    requests: u64,
    /// Answered from the cache (Redis and near hits, and stale).
    hits: u64,
    /// Rendered by the app.
    misses: u64,
    /// `hits / (hits + misses)`: bypasses are left out (the cache was not
    /// allowed to help); `None` before any cacheable request.
    hit_ratio: Option<f64>,
}

impl InstanceFigures {
    fn of(stats: &StatsSnapshot) -> Self {
        let hits = stats.hits + stats.near_hits + stats.stale;
        Self {
            requests: hits + stats.misses + stats.bypasses,
            hits,
            misses: stats.misses,
            hit_ratio: ratio(hits, stats.misses),
        }
    }
}

#[derive(Serialize)]
struct UsageView {
    keys: u64,
    bytes: u64,
    complete: bool,
    limit: u64,
}

async fn status(
    cache: &Cache,
    db: &Db,
    fleet: &FleetFigures,
    follower: &FollowerStatus,
    limit: u64,
) -> CacheStatus {
    let config = cache.config();
    let (usage, usage_error) = match tokio::time::timeout(USAGE_BUDGET, cache.usage(limit)).await {
        Ok(Ok(Usage {
            keys,
            bytes,
            complete,
        })) => (
            Some(UsageView {
                keys,
                bytes,
                complete,
                limit,
            }),
            None,
        ),
        Ok(Err(e)) => (None, Some(format!("the cache store did not answer: {e}"))),
        Err(_) => (
            None,
            Some(format!(
                "counting took longer than {}s; ask for a smaller limit",
                USAGE_BUDGET.as_secs()
            )),
        ),
    };
    let (cluster, cluster_error) = match fleet.last_hour().await {
        Ok(window) => (Some(window), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let stats = cache.stats_snapshot();
    CacheStatus {
        store: cache.health().await,
        namespace: config.namespace.clone(),
        generation: config.generation().to_owned(),
        key_prefix: cache.key_base().to_owned(),
        usage,
        usage_error,
        instance: InstanceFigures::of(&stats),
        stats,
        cluster,
        cluster_error,
        database: database_health(db).await,
        binlog: follower.view().await,
        replicas: db.replicas().views(),
    }
}

/// What to purge.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// Every page of a path (all hosts and queries).
    Path(String),
    Tag(String),
    /// Every key under the namespace.
    All,
}

impl Target {
    /// One of `path`, `tag` or `all`, checked. A soft purge needs a path or a tag:
    /// everything is always removed outright.
    fn parse(
        path: Option<&str>,
        tag: Option<&str>,
        all: bool,
        soft: bool,
    ) -> Result<Self, FieldErrors> {
        let path = path.map(str::trim).filter(|p| !p.is_empty());
        let tag = tag.map(str::trim).filter(|t| !t.is_empty());
        let target = match (path, tag, all) {
            (Some(path), None, false) => Self::Path(check_path(path)?),
            (None, Some(tag), false) => Self::Tag(check_tag(tag)?),
            (None, None, true) => Self::All,
            (None, None, false) => {
                return Err(FieldErrors::from([(
                    "target",
                    "Nothing to purge: type a path (such as /users/1) or a tag (such as \
                     db:user), or purge everything."
                        .to_owned(),
                )]))
            }
            _ => {
                return Err(FieldErrors::from([(
                    "target",
                    "Purge one thing at a time: a path, a tag or everything.".to_owned(),
                )]))
            }
        };
        if soft && target == Self::All {
            return Err(FieldErrors::from([(
                "soft",
                "Everything is always removed outright; a soft purge takes a path or a tag."
                    .to_owned(),
            )]));
        }
        Ok(target)
    }

    fn describe(&self) -> String {
        match self {
            Self::Path(path) => format!("path {path}"),
            Self::Tag(tag) => format!("tag {tag}"),
            Self::All => "everything under the namespace".to_owned(),
        }
    }
}

/// A path's tag form (`/users/1`, re-encoded as the cache files it); the query
/// and fragment are ignored, since a path purge takes every query.
fn check_path(raw: &str) -> Result<String, FieldErrors> {
    let invalid = |message: &str| FieldErrors::from([("path", message.to_owned())]);
    if !raw.starts_with('/') {
        return Err(invalid("A path starts with / (e.g. /users/1)."));
    }
    normalise_request_path(raw)
        .ok_or_else(|| invalid("The path is not valid percent-encoded UTF-8."))
}

fn check_tag(tag: &str) -> Result<String, FieldErrors> {
    if tag.chars().count() > 200 || tag.chars().any(char::is_control) {
        return Err(FieldErrors::from([(
            "tag",
            "A tag is at most 200 characters, without control characters (e.g. db:user, \
             db:user:row:7)."
                .to_owned(),
        )]));
    }
    Ok(tag.to_owned())
}

/// Runs a purge; the number of entries (keys, for everything) it removed or marked.
async fn run(cache: &Cache, target: &Target, soft: bool) -> Result<u64, AppError> {
    let result = match target {
        Target::Path(path) => cache.purge_path(path, soft).await,
        Target::Tag(tag) => cache.purge_tags(std::slice::from_ref(tag), soft).await,
        Target::All => cache.clear_all().await,
    };
    result.map_err(|e| AppError::CacheUnavailable(e.to_string()))
}

#[derive(Serialize)]
struct PageView {
    title: &'static str,
    admin: AdminView,
    flash: Option<FlashView>,
    cache: CacheStatus,
    usage_limit: u64,
    /// Hit ratios as people read them (`93%`, `-` before any request).
    instance_ratio: String,
    cluster_ratio: String,
    chart: Option<ChartView>,
}

#[get("/admin/cache")]
async fn page(
    cache: &State<Cache>,
    db: &State<Db>,
    fleet: &State<FleetFigures>,
    follower: &State<Arc<FollowerStatus>>,
    session: Result<AdminSession, AuthError>,
    flash: Option<rocket::request::FlashMessage<'_>>,
) -> Result<AdminReply, Denied> {
    let session = page_session(session, "/admin/cache")?;
    let cache = status(cache, db, fleet, follower, USAGE_LIMIT).await;
    let shown = |ratio: Option<f64>| ratio.map_or_else(|| "-".to_owned(), percent);
    let view = PageView {
        title: "Cache",
        admin: AdminView::from(&session),
        flash: flash.map(flash_view),
        instance_ratio: shown(cache.instance.hit_ratio),
        cluster_ratio: shown(cache.cluster.as_ref().and_then(|c| c.hit_ratio)),
        chart: cache.cluster.as_ref().map(chart),
        cache,
        usage_limit: USAGE_LIMIT,
    };
    Ok(AdminReply::page(Template::render("admin/cache", &view)))
}

#[derive(Debug, FromForm)]
struct PurgeFields {
    /// `path`, `tag` or `all`: which button was pressed.
    purge: Option<String>,
    path: Option<String>,
    tag: Option<String>,
    soft: bool,
    csrf: Option<String>,
}

#[post("/admin/cache", data = "<form>")]
async fn purge_form(
    cache: &State<Cache>,
    session: Result<AdminSession, AuthError>,
    form: Form<PurgeFields>,
) -> Result<AdminReply, Denied> {
    let session = session?;
    session.check_csrf(form.csrf.as_deref())?;
    let target = match form.purge.as_deref() {
        Some("path") => Target::parse(form.path.as_deref(), None, false, form.soft),
        Some("tag") => Target::parse(None, form.tag.as_deref(), false, form.soft),
        Some("all") => Target::parse(None, None, true, false),
        _ => Target::parse(None, None, false, false),
    };
    let target = match target {
        Ok(target) => target,
        Err(errors) => {
            let problems: Vec<String> = errors.into_values().collect();
            return Ok(AdminReply::failed("/admin/cache", problems.join(" ")));
        }
    };
    let message = match run(cache, &target, form.soft).await {
        Ok(count) => {
            let how = if form.soft { "marked stale" } else { "removed" };
            format!("Purged {}: {count} key(s) {how}.", target.describe())
        }
        Err(e) => {
            return Ok(AdminReply::failed(
                "/admin/cache",
                format!("Nothing purged: {}", e.public_message()),
            ))
        }
    };
    Ok(AdminReply::done("/admin/cache", message))
}

/// `GET /api/admin/cache?limit=N`: the page's figures.
#[get("/api/admin/cache?<limit>")]
async fn status_json(
    cache: &State<Cache>,
    db: &State<Db>,
    fleet: &State<FleetFigures>,
    follower: &State<Arc<FollowerStatus>>,
    admin: Result<ApiAdmin, AuthError>,
    limit: Option<u64>,
) -> Result<Shown<Json<serde_json::Value>>, AppError> {
    admin?;
    let limit = limit.unwrap_or(USAGE_LIMIT).clamp(1, USAGE_LIMIT_MAX);
    let figures = status(cache, db, fleet, follower, limit).await;
    Ok(Shown {
        inner: Json(serde_json::json!(figures)),
        private: true,
    })
}

/// The body of `POST /api/admin/cache`: one of `path`, `tag` or `all: true`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct PurgeBody {
    path: Option<String>,
    tag: Option<String>,
    all: bool,
    soft: bool,
}

/// `POST /api/admin/cache`: purges; answers what and how many.
#[post("/api/admin/cache", data = "<body>")]
async fn purge_json(
    cache: &State<Cache>,
    admin: Result<ApiAdmin, AuthError>,
    body: Result<JsonBody<PurgeBody>, BodyError>,
) -> Result<Shown<Json<serde_json::Value>>, AppError> {
    admin?;
    let JsonBody(body) = body.map_err(|e| match e {
        BodyError::Malformed(e) => AppError::BadRequest(format!(
            "The body must be a JSON object such as {{\"tag\": \"users\", \"soft\": false}}: {e}"
        )),
        other => other.into(),
    })?;
    let target = Target::parse(
        body.path.as_deref(),
        body.tag.as_deref(),
        body.all,
        body.soft,
    )
    .map_err(AppError::Invalid)?;
    let count = run(cache, &target, body.soft).await?;
    let mut answer = serde_json::json!({ "soft": body.soft, "purged": count });
    match target {
        Target::Path(path) => answer["path"] = path.into(),
        Target::Tag(tag) => answer["tag"] = tag.into(),
        Target::All => answer["all"] = true.into(),
    }
    Ok(Shown {
        inner: Json(answer),
        private: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_target_is_taken() {
        assert_eq!(
            Target::parse(Some("/users/1?x=2"), None, false, true),
            Ok(Target::Path("/users/1".into()))
        );
        assert_eq!(
            Target::parse(None, Some(" users "), false, false),
            Ok(Target::Tag("users".into()))
        );
        assert_eq!(Target::parse(None, None, true, false), Ok(Target::All));
        let empty = Target::parse(None, None, false, false).unwrap_err();
        assert!(empty["target"].starts_with("Nothing to purge"), "{empty:?}");
        assert!(Target::parse(Some("/"), Some("users"), false, false).is_err());
        assert!(Target::parse(None, Some("users"), true, false).is_err());
        assert!(Target::parse(None, None, true, true)
            .unwrap_err()
            .contains_key("soft"));
    }

    #[test]
    fn paths_are_filed_as_the_cache_files_them() {
        assert_eq!(check_path("/").unwrap(), "/");
        assert_eq!(check_path("/users//2/").unwrap(), "/users/2");
        assert_eq!(check_path("/a%20b").unwrap(), "/a%20b");
        assert_eq!(check_path("/a b").unwrap(), "/a%20b");
        assert!(check_path("users/1").is_err());
        assert!(check_path("/%FF").is_err());
    }
}
