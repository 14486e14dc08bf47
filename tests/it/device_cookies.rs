//! Device cookies: strangers who fail logins for the admin's username lock out
//! browsers without one, never the browser the admin logged in with before; that
//! browser is locked only by its own failures.

use std::net::SocketAddr;

use rocket::http::{ContentType, Cookie, Header};
use rocket::local::asynchronous::LocalResponse;

use crate::support::admin::{field_value, form_body, ADMIN_PASSWORD, ADMIN_USER};
use crate::support::{AppBuilder, TestApp};

/// One browser of an untracked client: its own address and cookies.
struct Browser {
    address: SocketAddr,
    cookies: Vec<(String, String)>,
}

impl Browser {
    fn at(address: &str) -> Self {
        Self {
            address: address.parse().expect("an address"),
            cookies: Vec::new(),
        }
    }

    fn holds(&self, name: &str) -> bool {
        self.cookies.iter().any(|(n, _)| n == name)
    }

    /// Keeps what the response set, drops what it removed.
    fn keep(&mut self, response: &LocalResponse<'_>) {
        for cookie in response.cookies().iter() {
            self.cookies.retain(|(name, _)| name != cookie.name());
            let removed = cookie.value().is_empty()
                || cookie
                    .max_age()
                    .is_some_and(|age| age <= rocket::time::Duration::ZERO);
            if !removed {
                self.cookies
                    .push((cookie.name().to_owned(), cookie.value().to_owned()));
            }
        }
    }

    /// Fills in and sends the login form; the status of the answer.
    async fn login(&mut self, app: &TestApp, username: &str, password: &str) -> u16 {
        let mut form = app
            .client
            .get("/admin/login")
            .remote(self.address)
            .header(Header::new("Host", "localhost:8000"));
        for (name, value) in &self.cookies {
            form = form.cookie(Cookie::new(name.clone(), value.clone()));
        }
        let response = form.dispatch().await;
        self.keep(&response);
        let page = response.into_string().await.unwrap_or_default();
        let csrf = field_value(&page, "csrf").expect("the login form");
        let mut post = app
            .client
            .post("/admin/login")
            .remote(self.address)
            .header(ContentType::Form)
            .header(Header::new("Host", "localhost:8000"))
            .body(form_body(&[
                ("username", username),
                ("password", password),
                ("csrf", &csrf),
            ]));
        for (name, value) in &self.cookies {
            post = post.cookie(Cookie::new(name.clone(), value.clone()));
        }
        let response = post.dispatch().await;
        self.keep(&response);
        response.status().code
    }

    /// Forgets the session (as after logging out), keeping the device cookie.
    fn end_session(&mut self) {
        self.cookies.retain(|(name, _)| name != "rc_session");
    }
}

async fn app() -> TestApp {
    AppBuilder::new()
        .with_admin()
        .with("admin.login_failures_allowed", 2)
        .untracked()
        .start()
        .await
}

/// Wrong passwords for the admin, each from a different address, until one is
/// turned away: the username is then locked for browsers without a device cookie.
async fn strangers_lock_the_username(app: &TestApp) {
    // Stops at the first 429: the lock (1 s after the allowance) is then fresh.
    for i in 1..=6 {
        let status = Browser::at(&format!("198.51.100.{i}:1000"))
            .login(app, ADMIN_USER, "guess")
            .await;
        match status {
            429 => return,
            401 => {}
            other => panic!("a wrong password answered {other}"),
        }
    }
    panic!("the username was never locked for strangers");
}

#[rocket::async_test]
async fn a_browser_that_logged_in_before_is_not_locked_out_by_strangers() {
    let app = app().await;
    let mut admin = Browser::at("192.0.2.10:5000");
    assert_eq!(admin.login(&app, ADMIN_USER, ADMIN_PASSWORD).await, 303);
    assert!(admin.holds("rc_device"), "a successful login earns one");
    admin.end_session();

    strangers_lock_the_username(&app).await;
    // Without a device cookie, even the right password waits out the lock.
    let mut new_browser = Browser::at("192.0.2.11:5000");
    assert_eq!(
        new_browser.login(&app, ADMIN_USER, ADMIN_PASSWORD).await,
        429
    );
    // The admin's browser, from anywhere, gets in.
    admin.address = "203.0.113.7:6000".parse().unwrap();
    assert_eq!(admin.login(&app, ADMIN_USER, ADMIN_PASSWORD).await, 303);
}

#[rocket::async_test]
async fn failures_with_a_device_cookie_lock_that_browser_only() {
    let app = app().await;
    let mut admin = Browser::at("192.0.2.10:5000");
    assert_eq!(admin.login(&app, ADMIN_USER, ADMIN_PASSWORD).await, 303);
    admin.end_session();
    // A stolen laptop guessing: its own lock, after the allowance.
    assert_eq!(admin.login(&app, ADMIN_USER, "guess").await, 401);
    assert_eq!(admin.login(&app, ADMIN_USER, "guess").await, 401);
    assert_eq!(admin.login(&app, ADMIN_USER, "guess").await, 401);
    assert_eq!(
        admin.login(&app, ADMIN_USER, ADMIN_PASSWORD).await,
        429,
        "this device is locked"
    );
    // Its failures counted against neither the username nor the address.
    let mut other = Browser::at("192.0.2.10:5001");
    assert_eq!(other.login(&app, ADMIN_USER, ADMIN_PASSWORD).await, 303);
}

#[rocket::async_test]
async fn a_device_cookie_counts_only_for_the_username_that_earned_it() {
    let app = app().await;
    let mut admin = Browser::at("192.0.2.10:5000");
    assert_eq!(admin.login(&app, ADMIN_USER, ADMIN_PASSWORD).await, 303);
    admin.end_session();
    // Tries for another username are a stranger's: they lock the address.
    for _ in 0..3 {
        assert_eq!(admin.login(&app, "root", "guess").await, 401);
    }
    assert_eq!(admin.login(&app, "root", "guess").await, 429);
    // A forged device cookie is no device cookie.
    let mut forger = Browser::at("192.0.2.20:5000");
    forger
        .cookies
        .push(("rc_device".to_owned(), "{\"user\":\"admin\"}".to_owned()));
    strangers_lock_the_username(&app).await;
    assert_eq!(forger.login(&app, ADMIN_USER, ADMIN_PASSWORD).await, 429);
    assert_eq!(admin.login(&app, ADMIN_USER, ADMIN_PASSWORD).await, 303);
}
