//! A minimal Rocket app with `PageCache` attached, configured by a figment the
//! way any app configures it, and the replies tests read.

use std::sync::Arc;

use rocket::http::Method;
use rocket::local::asynchronous::{Client, LocalResponse};
use rocket_page_cache::{Cache, ManualClock, PageCache};
use serde_json::{json, Value};
use test_support::{browser_request, redis_url};

use super::routes::{self, Backend};
use super::Namespace;

/// The cookie the test app declares private through the builder.
pub const SESSION_COOKIE: &str = "sid";

/// A cache operation budget roomy enough for a loaded machine; tests of the
/// budget itself set theirs.
const ROOMY_OP_TIMEOUT_MS: u64 = 1000;

/// One instance of the test app. The client goes first, so the app is gone
/// before its namespace is emptied.
pub struct TestApp {
    pub client: Client,
    pub backend: Arc<Backend>,
    pub namespace: Arc<Namespace>,
}

/// The `[cache]` table of a test: its namespace, the Redis at `url`, then `extra`
/// (an object whose keys replace the defaults).
pub fn cache_table(namespace: &Namespace, url: &str, extra: &Value) -> Value {
    let mut table = json!({
        "url": url,
        "namespace": namespace.name,
        "generation": "test",
        "op_timeout_ms": ROOMY_OP_TIMEOUT_MS,
    });
    if let (Some(table), Some(extra)) = (table.as_object_mut(), extra.as_object()) {
        table.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    table
}

/// `rocket::Config::figment()` with quiet logs and `[cache]` set to `cache`.
pub fn figment(cache: Value) -> figment::Figment {
    let log_level = if std::env::var_os("TEST_LOG").is_some() {
        "normal"
    } else {
        "off"
    };
    rocket::Config::figment()
        .merge(("log_level", log_level))
        .merge(("cache", cache))
}

impl TestApp {
    /// An instance on the shared test Redis, with a namespace and routes of its own.
    pub async fn spawn(extra: Value) -> Self {
        Self::start(&Namespace::new(), &Arc::default(), extra).await
    }

    /// Another instance on the same Redis namespace and routes (counters shared).
    pub async fn peer(&self, extra: Value) -> Self {
        Self::start(&self.namespace, &self.backend, extra).await
    }

    /// As [`spawn`](Self::spawn), the engine reading the time from `clock`: a
    /// test moves through a page's lifetime by moving the clock, not by
    /// sleeping (the store's own expiry still follows real time).
    pub async fn spawn_with_clock(extra: Value, clock: &ManualClock) -> Self {
        Self::start_with_clock(&Namespace::new(), &Arc::default(), extra, Some(clock)).await
    }

    /// An instance on the namespace's store: the shared test Redis, or the
    /// cluster or Sentinel deployment the namespace lives on.
    pub async fn start(namespace: &Arc<Namespace>, backend: &Arc<Backend>, extra: Value) -> Self {
        Self::start_with_clock(namespace, backend, extra, None).await
    }

    /// As [`start`](Self::start), on `clock` when one is given (see
    /// [`spawn_with_clock`](Self::spawn_with_clock)).
    pub async fn start_with_clock(
        namespace: &Arc<Namespace>,
        backend: &Arc<Backend>,
        extra: Value,
        clock: Option<&ManualClock>,
    ) -> Self {
        let extra = super::shared::with_store(namespace, extra);
        Self::launch(redis_url(), namespace, backend, extra, clock).await
    }

    /// An instance on the Redis at `url`.
    pub async fn start_on(
        url: &str,
        namespace: &Arc<Namespace>,
        backend: &Arc<Backend>,
        extra: Value,
    ) -> Self {
        Self::launch(url, namespace, backend, extra, None).await
    }

    async fn launch(
        url: &str,
        namespace: &Arc<Namespace>,
        backend: &Arc<Backend>,
        extra: Value,
        clock: Option<&ManualClock>,
    ) -> Self {
        let mut cache = PageCache::new(routes::policies()).private_cookie(SESSION_COOKIE);
        if let Some(clock) = clock {
            cache = cache.with_clock(clock.clone());
        }
        let rocket = rocket::custom(figment(cache_table(namespace, url, &extra)))
            .attach(cache)
            .manage(Arc::clone(backend))
            .mount("/", routes::all());
        let client = Client::untracked(rocket)
            .await
            .expect("the test app starts");
        Self {
            client,
            backend: Arc::clone(backend),
            namespace: Arc::clone(namespace),
        }
    }

    /// The engine's handle, as the app would reach it.
    pub fn cache(&self) -> &Cache {
        self.client
            .rocket()
            .state::<Cache>()
            .expect("cache managed")
    }

    /// GET from `localhost:8000`, as a browser sends it.
    pub async fn get(&self, uri: &str) -> Reply {
        self.get_with(uri, &[]).await
    }

    /// GET with extra headers (see [`get`]).
    pub async fn get_with(&self, uri: &str, headers: &[(&str, &str)]) -> Reply {
        get(&self.client, uri, headers).await
    }

    /// HEAD with extra headers, as [`get`] sends a GET.
    pub async fn head_with(&self, uri: &str, headers: &[(&str, &str)]) -> Reply {
        request(&self.client, Method::Head, uri, headers).await
    }
}

/// GET from `localhost:8000` with extra headers, as a browser sends it (see
/// [`browser_request`]).
pub async fn get(client: &Client, uri: &str, headers: &[(&str, &str)]) -> Reply {
    request(client, Method::Get, uri, headers).await
}

/// A request of any method, with headers as [`get`] sends them.
async fn request(client: &Client, method: Method, uri: &str, headers: &[(&str, &str)]) -> Reply {
    Reply::read(
        browser_request(client, method, uri, headers)
            .dispatch()
            .await,
    )
    .await
}

/// A response read whole, so that concurrent requests can be compared.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    headers: Vec<(String, String)>,
    /// The body as text; empty when it is not UTF-8 (a compressed one).
    pub body: String,
    /// The body's bytes as sent.
    pub bytes: Vec<u8>,
    /// The `Content-Length` the server sends: the body's size, kept when a HEAD
    /// or a 304 strips the body itself.
    pub length: Option<usize>,
    /// The largest piece the body is handed to the connection in.
    pub max_chunk: usize,
}

impl Reply {
    async fn read(response: LocalResponse<'_>) -> Self {
        let status = response.status().code;
        let headers = response
            .headers()
            .iter()
            .map(|h| (h.name().to_string(), h.value().to_owned()))
            .collect();
        let length = response.body().preset_size();
        let max_chunk = response.body().max_chunk_size();
        let bytes = response.into_bytes().await.unwrap_or_default();
        Self {
            status,
            headers,
            body: String::from_utf8(bytes.clone()).unwrap_or_default(),
            bytes,
            length,
            max_chunk,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `X-Cache`: HIT, MISS, STALE or BYPASS; empty when absent.
    pub fn x_cache(&self) -> &str {
        self.header("X-Cache").unwrap_or_default()
    }

    /// `Cache-Status`; empty when absent.
    pub fn cache_status(&self) -> &str {
        self.header("Cache-Status").unwrap_or_default()
    }
}
