//! What the app answered, read the same way by every test.

use rocket::local::asynchronous::LocalResponse;

/// A whole answer, for tests that look at headers too.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `X-Cache` (HIT, MISS, STALE, BYPASS, ...), or "" when absent.
    pub fn x_cache(&self) -> &str {
        self.header("x-cache").unwrap_or_default()
    }

    /// `Cache-Status` (RFC 9211), or "" when absent.
    pub fn cache_status(&self) -> &str {
        self.header("cache-status").unwrap_or_default()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("non-JSON answer ({e}): {}", self.body))
    }

    pub fn is_html(&self) -> bool {
        self.header("content-type")
            .is_some_and(|c| c.starts_with("text/html"))
    }

    pub fn is_json(&self) -> bool {
        self.header("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
    }
}

impl Reply {
    /// Reads a whole answer: status, headers (names in lower case) and body.
    pub async fn read(response: LocalResponse<'_>) -> Self {
        let status = response.status().code;
        let headers = response
            .headers()
            .iter()
            .map(|h| (h.name().as_str().to_ascii_lowercase(), h.value().to_owned()))
            .collect();
        let body = response.into_string().await.unwrap_or_default();
        Self {
            status,
            headers,
            body,
        }
    }
}

/// A response header's value, or "" when absent.
pub fn header(response: &LocalResponse<'_>, name: &str) -> String {
    response
        .headers()
        .get_one(name)
        .unwrap_or_default()
        .to_owned()
}
