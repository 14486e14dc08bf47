//! Admin credentials for tests, and helpers to log in, post forms and call the
//! write API.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHasher, SaltString};
use rocket::http::{ContentType, Header, Method};
use rocket::local::asynchronous::LocalResponse;

use super::{AppBuilder, TestApp};

pub const ADMIN_USER: &str = "admin";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";
pub const API_TOKEN: &str = "test-api-token-0123456789abcdef";

/// An argon2id hash of [`ADMIN_PASSWORD`] with the cheapest parameters argon2
/// allows (tests only: a login then costs microseconds), made once.
pub fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_of(ADMIN_PASSWORD))
}

/// A cheap argon2id hash of `password`.
pub fn hash_of(password: &str) -> String {
    let params = argon2::Params::new(8, 1, 1, None).expect("argon2 params");
    let argon2 = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).expect("salt");
    argon2
        .hash_password(password.as_bytes(), &salt)
        .expect("hash")
        .to_string()
}

/// 32 random bytes as hex, as `ROCKET_SECRET_KEY` takes them; one per test run,
/// shared by every instance so that sessions work on all of them.
pub fn secret_key() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| hex::encode(rand::random::<[u8; 32]>()))
}

impl AppBuilder {
    /// Configures the admin login, the API token and the shared secret key.
    pub fn with_admin(self) -> Self {
        self.with("admin.username", ADMIN_USER)
            .with("admin.password_hash", password_hash())
            .with("admin.api_token", API_TOKEN)
            .with("secret_key", secret_key())
    }
}

/// The value of the hidden (or any) input `name` in a page.
pub fn field_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// `application/x-www-form-urlencoded` of `fields`.
pub fn form_body(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

impl TestApp {
    /// Logs this instance's client in as the admin (its cookie jar keeps the
    /// session: every later request of this client is the admin's).
    pub async fn login(&self) {
        let response = self.try_login(ADMIN_USER, ADMIN_PASSWORD).await;
        assert_eq!(response.status().code, 303, "login succeeds");
    }

    /// Fills in and sends the login form.
    pub async fn try_login(&self, username: &str, password: &str) -> LocalResponse<'_> {
        self.try_login_with(username, password, &[]).await
    }

    /// As [`try_login`](Self::try_login), with more form fields (such as `next`).
    pub async fn try_login_with(
        &self,
        username: &str,
        password: &str,
        extra: &[(&str, &str)],
    ) -> LocalResponse<'_> {
        let (status, page) = self.get_text("/admin/login").await;
        assert_eq!(status, 200, "{page}");
        let csrf = field_value(&page, "csrf").expect("the login form has a CSRF token");
        let mut fields = vec![
            ("username", username),
            ("password", password),
            ("csrf", csrf.as_str()),
        ];
        fields.extend_from_slice(extra);
        self.post_form("/admin/login", &fields).await
    }

    /// The session's CSRF token, read from a page as the browser would.
    pub async fn csrf(&self) -> String {
        let (_, page) = self.get_text("/").await;
        field_value(&page, "csrf").expect("logged in: the header has the logout form")
    }

    /// POSTs a form.
    pub async fn post_form(&self, uri: &str, fields: &[(&str, &str)]) -> LocalResponse<'_> {
        self.client
            .post(uri.to_owned())
            .header(ContentType::Form)
            .header(Header::new("Host", "localhost:8000"))
            .body(form_body(fields))
            .dispatch()
            .await
    }

    /// A JSON API call, with the bearer token when given.
    pub async fn api(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> LocalResponse<'_> {
        let mut request = self
            .client
            .req(method, uri.to_owned())
            .header(ContentType::JSON);
        if let Some(token) = token {
            request.add_header(Header::new("Authorization", format!("Bearer {token}")));
        }
        if let Some(body) = body {
            request.set_body(body.to_string());
        }
        request.dispatch().await
    }

    /// A JSON API call with the admin token, answering (status, JSON or Null).
    pub async fn api_json(
        &self,
        method: Method,
        uri: &str,
        body: Option<&serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let response = self.api(method, uri, Some(API_TOKEN), body).await;
        let status = response.status().code;
        let text = response.into_string().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or_default())
    }

    /// One column of one user, read straight from the database.
    pub fn user_column(&self, id: u32, column: &str) -> String {
        self.db
            .query_one(&format!("SELECT `{column}` FROM `user` WHERE id = {id}"))
    }

    /// How many users the database holds.
    pub fn user_count(&self) -> u64 {
        self.db
            .query_one("SELECT COUNT(*) FROM `user`")
            .parse()
            .expect("a count")
    }

    /// The whole table, for "nothing was written" checks.
    pub fn table_snapshot(&self) -> String {
        self.db.query_one(
            "SELECT GROUP_CONCAT(CONCAT_WS('|', id, name, email, phone, address) \
             ORDER BY id SEPARATOR '\\n') FROM `user`",
        )
    }
}
