//! `Cache-Control` for answers that no cache, shared or the browser's, may keep:
//! one place that spells it, for every route and responder that needs it.

use rocket::http::Header;
use rocket::Response;

/// An answer nobody may store, and whose it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoStore {
    /// `no-store`: errors, probes, metrics, the answers of writes.
    Anyone,
    /// `private, no-store`: what one person sees (the admin's pages and JSON).
    Private,
}

impl NoStore {
    /// The header, for a responder that lists its headers as fields.
    pub fn header(self) -> Header<'static> {
        let value = match self {
            Self::Anyone => "no-store",
            Self::Private => "private, no-store",
        };
        Header::new("Cache-Control", value)
    }

    /// Sets the header on `response`, in place of any `Cache-Control` it had.
    pub fn set_on(self, response: &mut Response<'_>) {
        response.set_header(self.header());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn either_kind_replaces_what_the_response_said() {
        for (kind, value) in [
            (NoStore::Anyone, "no-store"),
            (NoStore::Private, "private, no-store"),
        ] {
            let mut response = Response::build()
                .raw_header("Cache-Control", "public, max-age=60")
                .finalize();
            kind.set_on(&mut response);
            let values: Vec<&str> = response.headers().get("Cache-Control").collect();
            assert_eq!(values, [value]);
        }
    }
}
