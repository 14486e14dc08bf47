//! The app under test, built by the same `build()` production uses, and the
//! requests tests send it.

use std::sync::Arc;

use figment::providers::{Format, Serialized, Toml};
use figment::Figment;
use rocket::http::Method;
use rocket::local::asynchronous::{Client, LocalResponse};
use rocket_cache::db::{Db, QueryCounter};
use rocket_page_cache::Cache;
use test_support::{browser_request, redis_url};

use super::db::TestDb;
use super::redis::TestNamespace;
use super::replies::Reply;
use super::routes;

/// The configuration tests start from: Rocket.toml's `debug` profile, no
/// environment (tests must not depend on the shell that runs them), quiet logs
/// unless `TEST_LOG` is set.
pub fn base_figment() -> Figment {
    let log_level = if std::env::var_os("TEST_LOG").is_some() {
        "normal"
    } else {
        "off"
    };
    Figment::from(rocket::Config::debug_default())
        .merge(Toml::file(concat!(env!("CARGO_MANIFEST_DIR"), "/Rocket.toml")).nested())
        .select("debug")
        // Global, so that no profile a test selects (release: `critical`) turns
        // logging on: the first app a test process builds sets up its logging.
        .merge(Serialized::global("log_level", log_level))
        .merge((
            "template_dir",
            concat!(env!("CARGO_MANIFEST_DIR"), "/templates"),
        ))
}

/// One running instance of the app on a test database and namespace.
pub struct TestApp {
    pub client: Client,
    pub namespace: Arc<TestNamespace>,
    pub db: Arc<TestDb>,
}

/// How to build a test app: the shared parts plus figment overrides.
pub struct AppBuilder {
    pub(super) db: Arc<TestDb>,
    pub(super) namespace: Arc<TestNamespace>,
    pub(super) figment: Figment,
    extra_routes: bool,
    rules: Vec<serde_json::Value>,
    untracked: bool,
}

impl AppBuilder {
    pub fn new() -> Self {
        Self::sharing(TestDb::new(), TestNamespace::new())
    }

    /// Another instance on the same database and namespace (a second server).
    pub fn sharing(db: Arc<TestDb>, namespace: Arc<TestNamespace>) -> Self {
        let figment = base_figment()
            .merge(("databases.main.url", db.url()))
            .merge(("databases.main.startup_timeout_secs", 5))
            .merge(("cache.namespace", namespace.name.clone()))
            .merge(("cache.url", redis_url()))
            // A loaded CI machine running debug builds in parallel can miss the
            // 50 ms production budget; tests of the budget itself set it back.
            .merge(("cache.op_timeout_ms", 1000));
        Self {
            db,
            namespace,
            figment,
            extra_routes: false,
            rules: Vec::new(),
            untracked: false,
        }
    }

    /// Also mounts the test-only routes of [`routes`] under `/test`, cacheable by a
    /// rule, for behaviour the app's own routes never show (cookies, 500s, ...).
    pub fn with_test_routes(mut self) -> Self {
        self.extra_routes = true;
        self
    }

    /// Adds a `[[cache.rules]]` entry (a JSON object: path, ttl, ...); earlier
    /// rules win, as in Rocket.toml.
    pub fn with_rule(mut self, rule: serde_json::Value) -> Self {
        self.rules.push(rule);
        self
    }

    /// A client that keeps no cookies: each request carries only those it is
    /// given, as several browsers of one instance would.
    pub fn untracked(mut self) -> Self {
        self.untracked = true;
        self
    }

    /// Selects a Rocket.toml profile (`release`, ...) instead of `debug`.
    pub fn with_profile(mut self, profile: &str) -> Self {
        self.figment = self.figment.select(profile);
        self
    }

    /// The database this instance will use (created at ignite).
    pub fn db(&self) -> &Arc<TestDb> {
        &self.db
    }

    /// Sets one configuration key, as Rocket.toml or `ROCKET_*` would.
    pub fn with(mut self, key: &str, value: impl serde::Serialize) -> Self {
        self.figment = self.figment.merge((key, value));
        self
    }

    pub async fn start(self) -> TestApp {
        self.try_start().await.expect("the app launches")
    }

    /// Builds and ignites, returning the error instead of panicking.
    pub async fn try_start(mut self) -> Result<TestApp, rocket::Error> {
        let rocket = self.build_rocket();
        let client = if self.untracked {
            Client::untracked(rocket).await?
        } else {
            Client::tracked(rocket).await?
        };
        Ok(TestApp {
            client,
            namespace: self.namespace,
            db: self.db,
        })
    }

    /// The app from this builder's figment, rules and routes, not yet ignited.
    pub(super) fn build_rocket(&mut self) -> rocket::Rocket<rocket::Build> {
        if self.extra_routes {
            // Its own pattern, so its counters have their own route label; its
            // tags come from the user row it reads.
            self.rules
                .push(serde_json::json!({ "path": "/test/user/<id>" }));
            self.rules.push(serde_json::json!({ "path": "/test/*" }));
        }
        if !self.rules.is_empty() {
            self.figment = self.figment.clone().merge(("cache.rules", &self.rules));
        }
        let mut rocket = rocket_cache::build(self.figment.clone());
        if self.extra_routes {
            rocket = routes::mount(rocket);
        }
        rocket
    }
}

impl TestApp {
    /// A fresh app with the default test configuration.
    pub async fn spawn() -> Self {
        AppBuilder::new().start().await
    }

    /// A second instance on the same database and Redis namespace.
    pub fn peer(&self) -> AppBuilder {
        AppBuilder::sharing(self.db.clone(), self.namespace.clone())
    }

    /// GET as a browser on localhost would send it (with a `Host`, which the
    /// local client leaves out and the cache requires).
    pub async fn get(&self, uri: &str) -> LocalResponse<'_> {
        self.get_with(uri, &[]).await
    }

    /// GET with extra headers; a `Host` among them replaces `localhost:8000`.
    pub async fn get_with(&self, uri: &str, headers: &[(&str, &str)]) -> LocalResponse<'_> {
        self.request(Method::Get, uri, headers).await
    }

    /// Any request, with `Host: localhost:8000` unless `headers` name another.
    pub async fn request(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
    ) -> LocalResponse<'_> {
        browser_request(&self.client, method, uri, headers)
            .dispatch()
            .await
    }

    /// GET returning status and body text.
    pub async fn get_text(&self, uri: &str) -> (u16, String) {
        let response = self.get(uri).await;
        let status = response.status().code;
        (status, response.into_string().await.unwrap_or_default())
    }

    /// GET returning status, headers and body.
    pub async fn fetch(&self, uri: &str) -> Reply {
        Reply::read(self.get(uri).await).await
    }

    /// GET returning status and parsed JSON.
    pub async fn get_json(&self, uri: &str) -> (u16, serde_json::Value) {
        let (status, body) = self.get_text(uri).await;
        let json = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{uri} answered non-JSON ({e}): {body}"));
        (status, json)
    }

    /// Statements this instance has sent to `MySQL` so far.
    pub fn queries(&self) -> u64 {
        self.query_counter().get()
    }

    /// Statements sent to MySQL besides the pool's liveness checks, which come
    /// and go with the time since a connection's last statement.
    pub fn statements_besides_pings(&self) -> u64 {
        let counter = self.query_counter();
        counter.get() - counter.liveness_checks()
    }

    fn query_counter(&self) -> &QueryCounter {
        self.client
            .rocket()
            .state::<Db>()
            .expect("Db managed")
            .queries()
    }

    /// Renders of the test routes so far (see [`routes`]).
    pub fn test_renders(&self) -> u64 {
        self.client
            .rocket()
            .state::<routes::Renders>()
            .map_or(0, routes::Renders::get)
    }

    /// The gate of `/test/user/<id>` (test routes only).
    pub fn gate(&self) -> &routes::Gate {
        self.client
            .rocket()
            .state::<routes::Gate>()
            .expect("started with_test_routes()")
    }

    /// The gate of `/test/gated-cookie` (test routes only).
    pub fn cookie_gate(&self) -> &routes::Gate {
        &self
            .client
            .rocket()
            .state::<routes::CookieGate>()
            .expect("started with_test_routes()")
            .0
    }

    pub fn cache(&self) -> &Cache {
        self.client
            .rocket()
            .state::<Cache>()
            .expect("Cache managed")
    }

    /// Inserts users straight into the database (not through the app).
    pub fn insert_users(&self, count: usize) {
        let values: Vec<String> = (0..count)
            .map(|i| {
                format!("('User {i}', 'user{i}@example.com', '555 {i:04}', '{i} Test Street')")
            })
            .collect();
        if values.is_empty() {
            return;
        }
        self.db.execute(&format!(
            "INSERT INTO `user` (name, email, phone, address) VALUES {}",
            values.join(", ")
        ));
    }
}
