//! Test-only routes under `/test`, made cacheable by a `[[cache.rules]]` entry,
//! for what the app's own routes never do: set cookies, refuse caching, fail,
//! answer big bodies or slowly. Each render is counted in [`Renders`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use rocket::http::{ContentType, CookieJar, Header, Status};
use rocket::{get, post, routes, Build, Responder, Rocket, State};
use rocket_cache::db::users::{self, UserId};
use rocket_cache::db::Db;
use rocket_page_cache::Reads;
use tokio::sync::Notify;

/// How many times a test route ran.
#[derive(Default)]
pub struct Renders(AtomicU64);

impl Renders {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
    fn bump(&self) -> u64 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
}

#[derive(Responder)]
struct WithHeader {
    body: String,
    header: Header<'static>,
}

fn with(body: String, name: &'static str, value: &'static str) -> WithHeader {
    WithHeader {
        body,
        header: Header::new(name, value),
    }
}

#[get("/plain")]
fn plain(renders: &State<Renders>) -> String {
    format!("render {}", renders.bump())
}

#[post("/plain")]
fn plain_post(renders: &State<Renders>) -> String {
    format!("posted {}", renders.bump())
}

#[get("/cookie")]
fn cookie(renders: &State<Renders>, jar: &CookieJar<'_>) -> String {
    jar.add(("visitor", "1"));
    format!("render {}", renders.bump())
}

#[get("/private")]
fn private(renders: &State<Renders>) -> WithHeader {
    with(
        format!("render {}", renders.bump()),
        "Cache-Control",
        "private",
    )
}

#[get("/no-store")]
fn no_store(renders: &State<Renders>) -> WithHeader {
    with(
        format!("render {}", renders.bump()),
        "Cache-Control",
        "no-store",
    )
}

#[get("/short")]
fn short(renders: &State<Renders>) -> WithHeader {
    with(
        format!("render {}", renders.bump()),
        "Cache-Control",
        "s-maxage=1",
    )
}

#[get("/vary-star")]
fn vary_star(renders: &State<Renders>) -> WithHeader {
    with(format!("render {}", renders.bump()), "Vary", "*")
}

#[get("/fail")]
fn fail(renders: &State<Renders>) -> Status {
    renders.bump();
    Status::InternalServerError
}

#[get("/big")]
fn big(renders: &State<Renders>) -> (ContentType, Vec<u8>) {
    renders.bump();
    (ContentType::Binary, vec![b'x'; 2 * 1024 * 1024])
}

#[get("/binary")]
fn binary(renders: &State<Renders>) -> (ContentType, Vec<u8>) {
    renders.bump();
    (
        ContentType::Binary,
        (0..=255u8).cycle().take(4096).collect(),
    )
}

/// Renders after `ms` milliseconds: a slow database.
#[get("/slow?<ms>")]
async fn slow(renders: &State<Renders>, ms: Option<u64>) -> String {
    let n = renders.bump();
    tokio::time::sleep(Duration::from_millis(ms.unwrap_or(200))).await;
    format!("slow render {n}")
}

/// Holds `/test/user/<id>` between its read of the row and its answer, once,
/// when armed: the window in which a write can commit and purge.
#[derive(Default)]
pub struct Gate {
    armed: AtomicBool,
    reached: Notify,
    release: Notify,
}

impl Gate {
    /// The next render of `/test/user/<id>` will pause after its read.
    pub fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }
    /// Resolves once the armed render has read the row and paused.
    pub async fn reached(&self) {
        self.reached.notified().await;
    }
    /// Lets the paused render answer.
    pub fn release(&self) {
        self.release.notify_one();
    }
}

/// The gate of `/test/cookie?gated`: a second [`Gate`], so that an uncacheable
/// render can be held while another request of the same key goes on.
#[derive(Default)]
pub struct CookieGate(pub Gate);

/// Like `/test/cookie`, pausing at the [`CookieGate`] when armed.
#[get("/gated-cookie")]
async fn gated_cookie(
    renders: &State<Renders>,
    gate: &State<CookieGate>,
    jar: &CookieJar<'_>,
) -> String {
    let n = renders.bump();
    jar.add(("visitor", "1"));
    if gate.0.armed.swap(false, Ordering::SeqCst) {
        gate.0.reached.notify_one();
        gate.0.release.notified().await;
    }
    format!("render {n}")
}

/// A user's name read with the app's own query (recorded, so the page is filed
/// under that row), pausing at the [`Gate`] when armed.
#[get("/user/<id>")]
async fn paused_user(
    renders: &State<Renders>,
    gate: &State<Gate>,
    db: &State<Db>,
    reads: Reads,
    id: u32,
) -> Result<String, Status> {
    renders.bump();
    let user = {
        let mut conn = db.conn().await.map_err(|_| Status::ServiceUnavailable)?;
        users::find(&mut conn, &reads, UserId(id)).await
    };
    if gate.armed.swap(false, Ordering::SeqCst) {
        gate.reached.notify_one();
        gate.release.notified().await;
    }
    user.map(|user| user.name).map_err(|_| Status::NotFound)
}

/// The app plus the test routes, with a rule making `/test/*` cacheable.
pub fn mount(rocket: Rocket<Build>) -> Rocket<Build> {
    rocket
        .manage(Renders::default())
        .manage(Gate::default())
        .manage(CookieGate::default())
        .mount(
            "/test",
            routes![
                plain,
                plain_post,
                cookie,
                private,
                no_store,
                short,
                vary_star,
                fail,
                big,
                binary,
                slow,
                paused_user,
                gated_cookie
            ],
        )
}
