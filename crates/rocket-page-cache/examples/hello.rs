//! The smallest app the page cache serves: one page, cached for a minute.
//!
//! ```sh
//! cargo run -p rocket-page-cache --example hello
//! curl -i localhost:8000/   # X-Cache: MISS, "render #1"
//! curl -i localhost:8000/   # X-Cache: HIT,  still "render #1": the route did not run
//! ```
//!
//! Configured as any Rocket app: Rocket.toml's `[default.cache]` or `ROCKET_*`, e.g.
//! `ROCKET_CACHE='{url="redis://127.0.0.1:6380/"}'`. Its keys live under the
//! namespace `hello` unless the configuration names another.

use std::sync::atomic::{AtomicU64, Ordering};

use rocket::figment::Figment;
use rocket::{get, routes, Build, Rocket, State};
use rocket_page_cache::{PageCache, RoutePolicy};

/// How often the page rendered, so a hit shows that the route did not run.
#[derive(Default)]
struct Renders(AtomicU64);

#[get("/")]
fn index(renders: &State<Renders>) -> String {
    let n = renders.0.fetch_add(1, Ordering::SeqCst) + 1;
    format!("Hello from rocket-page-cache: render #{n}\n")
}

/// The app from any figment: `main` passes Rocket's own (Rocket.toml and
/// `ROCKET_*`), tests theirs.
pub fn app(figment: Figment) -> Rocket<Build> {
    rocket::custom(figment.join(("cache.namespace", "hello")))
        .attach(PageCache::new(vec![RoutePolicy::new("/").ttl(60)]))
        .manage(Renders::default())
        .mount("/", routes![index])
}

// The engine's tests build `app` too; they have no use for `main`.
#[cfg_attr(test, allow(dead_code))]
#[rocket::main]
async fn main() -> Result<(), Box<rocket::Error>> {
    app(rocket::Config::figment()).launch().await?;
    Ok(())
}
