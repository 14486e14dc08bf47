//! The framework's floor for `bench/run`: a bare Rocket 0.5 program that serves one
//! page from memory on `GET /`, with no cache, no database and no templates.
//!
//! It serves the same bytes as the app's cached page (captured by `bench/run` from
//! `GET /?per_page=100`), so that the app's cache hit can be compared with the least
//! Rocket itself costs to send that body. Configured like the app: Rocket.toml and
//! `ROCKET_*` (`ROCKET_PROFILE=release` for the same log level, `ROCKET_PORT`).
//!
//! ```text
//! FLOOR_BODY=/tmp/page.html ROCKET_PROFILE=release ROCKET_PORT=8099 \
//!     cargo run --release --example floor
//! ```
//! The body file may also be given as the first argument.
//!
//! With `FLOOR_ONE_CHUNK=1` the body is handed to the connection in one piece, as
//! the page cache hands a hit's body, instead of in Rocket's default 4 KiB chunks:
//! the floor for a hit's own way of writing, so that what the app adds can be
//! told from what the chunking saves.
//!
//! With `FLOOR_HEADERS=<file>` (a response head as `curl -D` writes it) the floor
//! also writes that head's headers, beside the ones Rocket writes itself: the
//! floor for a hit's whole answer, so that what Rocket costs per header can be
//! told from what the app's own work costs.

use std::process::ExitCode;

use std::io::Cursor;

use rocket::http::ContentType;
use rocket::response::{self, Responder};
use rocket::{get, routes, Request, Response, State};

/// The server binary's allocator, so that the floor differs from it only in
/// what the app does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The page, read once at start; every request borrows it, nothing is copied.
#[derive(Clone, Copy)]
struct Page {
    body: &'static [u8],
    one_chunk: bool,
    headers: &'static [(String, String)],
}

/// Headers Rocket writes itself (its `Shield`, the sized body, the date) or the
/// floor does (`Content-Type`): left out of a captured head.
const WRITTEN_ANYWAY: [&str; 6] = [
    "content-type",
    "content-length",
    "date",
    "x-content-type-options",
    "x-frame-options",
    "permissions-policy",
];

/// The headers of a response head as `curl -D` writes it, but those in
/// [`WRITTEN_ANYWAY`].
fn headers_of(head: &str) -> Vec<(String, String)> {
    head.lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .filter(|(name, _)| !WRITTEN_ANYWAY.contains(&name.to_ascii_lowercase().as_str()))
        .collect()
}

impl<'r> Responder<'r, 'static> for Page {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let mut response = Response::build()
            .header(ContentType::HTML)
            .sized_body(self.body.len(), Cursor::new(self.body))
            .finalize();
        if self.one_chunk {
            response.set_max_chunk_size(self.body.len());
        }
        for (name, value) in self.headers {
            response.set_raw_header(name.as_str(), value.as_str());
        }
        Ok(response)
    }
}

/// Any query (`/?per_page=100`) is accepted and ignored, as the app's cache key
/// keeps only declared parameters.
#[get("/")]
fn index(page: &State<Page>) -> Page {
    **page
}

#[rocket::main]
async fn main() -> ExitCode {
    let Some(path) = std::env::args_os()
        .nth(1)
        .or_else(|| std::env::var_os("FLOOR_BODY"))
    else {
        eprintln!("floor: give the body file as FLOOR_BODY=<path> or as the first argument");
        return ExitCode::FAILURE;
    };
    let body = match std::fs::read(&path) {
        Ok(body) => body,
        Err(e) => {
            eprintln!("floor: cannot read {}: {e}", path.to_string_lossy());
            return ExitCode::FAILURE;
        }
    };
    let headers = match std::env::var_os("FLOOR_HEADERS") {
        None => Vec::new(),
        Some(path) => match std::fs::read_to_string(&path) {
            Ok(head) => headers_of(&head),
            Err(e) => {
                eprintln!("floor: cannot read {}: {e}", path.to_string_lossy());
                return ExitCode::FAILURE;
            }
        },
    };
    // Live as long as the process: leaking them gives the handler `&'static`s.
    let body: &'static [u8] = Box::leak(body.into_boxed_slice());
    let headers: &'static [(String, String)] = Box::leak(headers.into_boxed_slice());
    // The crate enables Rocket's private cookies, which refuse to launch in release
    // without a key; the floor has no cookies, so any key will do.
    let key: Vec<u8> = (0..64).map(|_| rand::random::<u8>()).collect();
    let figment = rocket::Config::figment().merge((rocket::Config::SECRET_KEY, key));
    let launched = rocket::custom(figment)
        .manage(Page {
            body,
            one_chunk: std::env::var_os("FLOOR_ONE_CHUNK").is_some_and(|v| v == "1"),
            headers,
        })
        .mount("/", routes![index])
        .launch()
        .await;
    match launched {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("floor did not start: {e}");
            ExitCode::FAILURE
        }
    }
}
