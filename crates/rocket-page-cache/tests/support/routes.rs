//! One catch-all route whose first path segment says how it answers, and the
//! counters and gates the tests read and hold. Every render is recorded with its
//! time: that is how a test proves a hit never reached the route.

use std::collections::HashMap;
use std::fmt::Write;
use std::io::Cursor;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rocket::http::{Header, Status};
use rocket::request::{self, FromRequest};
use rocket::response::{self, Responder};
use rocket::{get, routes, Request, Response, Route, State};
use rocket_page_cache::{Reads, RoutePolicy};
use tokio::sync::Semaphore;

/// Bodies of `/big` pages; tests configure `max_body_bytes` below it.
pub const BIG_BODY: usize = 4096;

/// Rows of an `/html/..` page: some 8 KB of HTML, worth compressing.
const HTML_ROWS: usize = 200;
/// Rows of `/html/large..`: some 800 KB, under the body limit, whose
/// compression takes a while.
const LARGE_HTML_ROWS: usize = 20_000;

/// What the routes of every instance of one test share.
#[derive(Default)]
pub struct Backend {
    renders: Mutex<HashMap<String, Vec<Instant>>>,
    pub gate: Gate,
    /// `/flaky` answers 500 while this is set.
    pub failing: AtomicBool,
}

impl Backend {
    /// How often the route rendered `path` (as requested, without the query).
    pub fn renders(&self, path: &str) -> usize {
        self.render_times(path).len()
    }

    /// When the route started each render of `path`.
    pub fn render_times(&self, path: &str) -> Vec<Instant> {
        self.renders
            .lock()
            .unwrap()
            .get(path)
            .cloned()
            .unwrap_or_default()
    }

    fn record(&self, path: &str) -> usize {
        let mut renders = self.renders.lock().unwrap();
        let times = renders.entry(path.to_owned()).or_default();
        times.push(Instant::now());
        times.len()
    }

    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

/// Holds `/gated/..` renders: each announces itself, then waits for a release.
pub struct Gate {
    entered: Semaphore,
    released: Semaphore,
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            entered: Semaphore::new(0),
            released: Semaphore::new(0),
        }
    }
}

impl Gate {
    /// Waits until a render has entered the gate (each render is seen once).
    pub async fn entered(&self) {
        tokio::time::timeout(Duration::from_secs(10), self.entered.acquire())
            .await
            .expect("a render entered the gate within 10 s")
            .expect("gate open")
            .forget();
    }

    /// Lets `renders` held renders go on.
    pub fn release(&self, renders: usize) {
        self.released.add_permits(renders);
    }

    async fn pass(&self) {
        self.entered.add_permits(1);
        self.released.acquire().await.expect("gate open").forget();
    }
}

/// The route cache policies the tests' app declares in code.
pub fn policies() -> Vec<RoutePolicy> {
    vec![
        // The same for everyone: credentials may read it (RFC 9111, 3.5).
        RoutePolicy::new("/plain/public/*").public(),
        RoutePolicy::new("/plain/*"),
        RoutePolicy::new("/q").query(&["page", "sort"]),
        RoutePolicy::new("/vary").vary(&["Accept-Language"]),
        RoutePolicy::new("/vary-undeclared"),
        RoutePolicy::new("/cookie"),
        RoutePolicy::new("/private"),
        RoutePolicy::new("/no-store"),
        RoutePolicy::new("/status/<code>"),
        RoutePolicy::new("/big"),
        RoutePolicy::new("/flaky"),
        RoutePolicy::new("/item/<id>").tags(&["item:<id>", "items"]),
        RoutePolicy::new("/gated/<id>").tags(&["item:<id>"]),
        RoutePolicy::new("/ruled").ttl(300),
        RoutePolicy::new("/html/*"),
        RoutePolicy::new("/html-vary").vary(&["Accept-Language"]),
        RoutePolicy::new("/encoded"),
        RoutePolicy::new("/shows/<ids>"),
        RoutePolicy::new("/shows-gated/<ids>"),
    ]
}

pub fn all() -> Vec<Route> {
    routes![page]
}

/// The request headers a page may show.
pub struct Seen {
    accept_language: Option<String>,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Seen {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        request::Outcome::Success(Seen {
            accept_language: request
                .headers()
                .get_one("Accept-Language")
                .map(str::to_owned),
        })
    }
}

/// A page with a status and headers of the test's choosing.
pub struct Page {
    status: Status,
    headers: Vec<Header<'static>>,
    body: String,
}

impl<'r> Responder<'r, 'static> for Page {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let mut response = Response::build();
        response.status(self.status);
        for header in self.headers {
            response.header(header);
        }
        response
            .sized_body(self.body.len(), Cursor::new(self.body))
            .ok()
    }
}

/// `/html/..`: an HTML page of [`HTML_ROWS`] rows (under `/html/small`, a few:
/// some 300 bytes that would compress, yet under the engine's minimum; under
/// `/html/large`, many).
/// `/html/gated` waits at the gate, `/html/flaky` answers 500 while the backend
/// is failing, `/html-vary` varies on `Accept-Language`.
async fn html_page(page: &mut Page, path: &str, n: usize, seen: &Seen, backend: &Backend) {
    page.headers
        .push(Header::new("Content-Type", "text/html; charset=utf-8"));
    let rows = match path {
        "/html/small" => 8,
        large if large.starts_with("/html/large") => LARGE_HTML_ROWS,
        _ => HTML_ROWS,
    };
    let lang = seen.accept_language.as_deref().unwrap_or_default();
    page.body = String::new();
    for row in 0..rows {
        let _ = writeln!(page.body, "<p>{path} render {n} row {row} {lang}</p>");
    }
    match path {
        "/html/gated" => backend.gate.pass().await,
        "/html/flaky" if backend.failing.load(Ordering::SeqCst) => {
            page.status = Status::InternalServerError;
        }
        "/html-vary" => page.headers.push(Header::new("Vary", "Accept-Language")),
        _ => {}
    }
}

/// `/shows/<ids>`: a page that records reading the rows of table `thing` named
/// by `ids` (comma-separated), and the table's membership when one is `all`.
fn record_shown(path: &str, reads: &Reads) {
    let ids = path.rsplit('/').next().unwrap_or_default();
    for id in ids.split(',') {
        if id == "all" {
            reads.membership("thing");
        } else {
            reads.row("thing", id);
        }
    }
}

#[get("/<path..>")]
async fn page(
    path: PathBuf,
    seen: Seen,
    reads: Reads,
    backend: &State<std::sync::Arc<Backend>>,
) -> Page {
    let path = format!("/{}", path.display());
    let n = backend.record(&path);
    let mut page = Page {
        status: Status::Ok,
        headers: Vec::new(),
        body: format!("{path} render {n}"),
    };
    let first = path.split('/').nth(1).unwrap_or_default();
    let header = |name: &'static str, value: &'static str| Header::new(name, value);
    match first {
        "cookie" => page.headers.push(header("Set-Cookie", "visitor=1")),
        "private" => page.headers.push(header("Cache-Control", "private")),
        "no-store" => page.headers.push(header("Cache-Control", "no-store")),
        "status" => {
            let code = path.rsplit('/').next().and_then(|c| c.parse().ok());
            page.status = Status::new(code.unwrap_or(500));
        }
        "big" => page.body = "x".repeat(BIG_BODY),
        "vary" => {
            page.headers.push(header("Vary", "Accept-Language"));
            let lang = seen.accept_language.unwrap_or_default();
            page.body = format!("{path} render {n} in {lang}");
        }
        "vary-undeclared" => page.headers.push(header("Vary", "User-Agent")),
        "html" | "html-vary" => {
            html_page(&mut page, &path, n, &seen, backend).await;
        }
        "encoded" => {
            page.headers.push(header("Content-Type", "text/html"));
            page.headers.push(header("Content-Encoding", "gzip"));
            page.body = "pretend this is gzip ".repeat(100);
        }
        "flaky" if backend.failing.load(Ordering::SeqCst) => {
            page.status = Status::InternalServerError;
        }
        "gated" => backend.gate.pass().await,
        "shows" => record_shown(&path, &reads),
        "shows-gated" => {
            record_shown(&path, &reads);
            backend.gate.pass().await;
        }
        _ => {}
    }
    page
}
