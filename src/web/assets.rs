//! The stylesheet, the navigation script and the icon, compiled into the binary so
//! the app needs no files beside it but its templates.

use rocket::http::{ContentType, Header};
use rocket::{get, routes, Responder, Route};

pub fn routes() -> Vec<Route> {
    routes![stylesheet, script, icon, favicon_ico]
}

#[derive(Responder)]
struct Asset {
    body: (ContentType, &'static str),
    cache_control: Header<'static>,
}

impl Asset {
    fn new(content_type: ContentType, body: &'static str) -> Self {
        Self {
            body: (content_type, body),
            cache_control: Header::new("Cache-Control", "public, max-age=3600"),
        }
    }
}

const ICON: &str = include_str!("../../static/favicon.svg");
const STYLESHEET: &str = include_str!("../../static/style.css");
const SCRIPT: &str = include_str!("../../static/nav.js");

/// Every static file the binary serves, by name: part of the cache generation's
/// digest, so that a changed stylesheet starts on fresh keys.
pub const EMBEDDED: [(&str, &str); 3] = [
    ("favicon.svg", ICON),
    ("nav.js", SCRIPT),
    ("style.css", STYLESHEET),
];

#[get("/static/style.css")]
fn stylesheet() -> Asset {
    Asset::new(ContentType::CSS, STYLESHEET)
}

/// Progressive enhancement only: every link works without it.
#[get("/static/nav.js")]
fn script() -> Asset {
    Asset::new(ContentType::JavaScript, SCRIPT)
}

#[get("/static/favicon.svg")]
fn icon() -> Asset {
    Asset::new(ContentType::SVG, ICON)
}

/// Browsers ask for `/favicon.ico` whatever the page links; the SVG answers it
/// (every current browser reads an SVG icon by its content type).
#[get("/favicon.ico")]
fn favicon_ico() -> Asset {
    Asset::new(ContentType::SVG, ICON)
}
