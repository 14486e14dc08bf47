//! The stylesheet, compiled into the binary so the app needs no files beside it
//! but its templates.

use rocket::http::{ContentType, Header};
use rocket::{get, routes, Responder, Route};

pub fn routes() -> Vec<Route> {
    routes![stylesheet]
}

#[derive(Responder)]
struct Asset {
    body: (ContentType, &'static str),
    cache_control: Header<'static>,
}

#[get("/static/style.css")]
fn stylesheet() -> Asset {
    Asset {
        body: (ContentType::CSS, include_str!("../../static/style.css")),
        cache_control: Header::new("Cache-Control", "public, max-age=3600"),
    }
}
