//! The pages as a person sees them, in headless Chromium: they fit a desktop and a
//! phone, no short word is broken, axe-core finds nothing serious, the admin's
//! login-edit-logout flow works, and the browser's own cache never shows a stale or
//! someone else's copy. Screenshots go to `target/browser/screenshots/`.

use rocket_cache::ops::fleet::window;

use crate::support::admin::{ADMIN_PASSWORD, ADMIN_USER, API_TOKEN};
use crate::support::browser::{Browser, ServedApp};
use crate::support::AppBuilder;

const DESKTOP: (u32, u32) = (1280, 900);
const PHONE: (u32, u32) = (390, 844);
/// Words up to this long must never be broken across lines.
const SHORT_WORD: usize = 24;
/// The user with the very long row (a one-word 49-character name, a long email and
/// a long address); on page 1 among two-digit ids.
const LONG_ROW_ID: u32 = 14;

/// The sample row, 12 users, the long row, 10 more: 24 users, page 1 shows ids 1 to 20.
fn seed(app: &ServedApp) {
    let plain = |from: u32, to: u32| {
        (from..to)
            .map(|i| {
                format!(
                    "('User Number {i}', 'user{i}@example.com', '+1 555 010 {i:04}', \
                     '{i} Test Street, Springfield')"
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let insert = |values: String| {
        app.db.execute(&format!(
            "INSERT INTO `user` (name, email, phone, address) VALUES {values}"
        ));
    };
    insert(plain(2, 14));
    insert(
        "('Wolfeschlegelsteinhausenbergerdorffvoralternwaren', \
          'maximilian.alexander.wolfeschlegelsteinhausen@research.example-university.edu', \
          '+1 555 010 9999', \
          'Flat 12, The Old Rope Works, 1234 Longest Avenue of the Kingdom, \
           Little Snoring-on-the-Wold, Norfolk NR21 0AA, United Kingdom')"
            .to_owned(),
    );
    insert(plain(15, 25));
}

async fn serve_seeded() -> ServedApp {
    let app = AppBuilder::new().with_admin().serve().await;
    seed(&app);
    app
}

/// Logs the browser in through the login form, starting from `start`'s "Admin" link.
async fn log_in_from(browser: &Browser, app: &ServedApp, start: &str) {
    browser.goto(&app.url(start)).await;
    browser.click("header a.session").await;
    browser.fill("#username", ADMIN_USER).await;
    browser.fill("#password", ADMIN_PASSWORD).await;
    browser.click("form.login button[type=submit]").await;
    browser.wait_for_path(start).await;
}

/// Checks one page as shown now; returns what is wrong with it (empty when fine).
async fn check_page(browser: &Browser, name: &str) -> Vec<String> {
    browser.screenshot(name).await;
    let mut problems = Vec::new();
    let overflow = browser.horizontal_overflow().await;
    if overflow > 0 {
        problems.push(format!("{name}: {overflow} px wider than the window"));
    }
    let broken = browser.broken_words(SHORT_WORD).await;
    if !broken.is_empty() {
        problems.push(format!(
            "{name}: short words broken across lines: {broken:?}"
        ));
    }
    for problem in browser.accessibility_extras().await {
        problems.push(format!("{name}: {problem}"));
    }
    for violation in browser.accessibility_violations().await {
        problems.push(format!("{name}: axe: {violation}"));
    }
    problems
}

/// Visits each page at both sizes, anonymous or as the admin, and checks them all.
async fn check_pages(admin: bool, pages: &[(&str, &str)]) {
    let app = serve_seeded().await;
    let mut problems = Vec::new();
    for (width, height) in [DESKTOP, PHONE] {
        let Some(browser) = Browser::start(width, height).await else {
            return;
        };
        if admin {
            log_in_from(&browser, &app, "/").await;
        }
        for (name, path) in pages {
            browser.goto(&app.url(path)).await;
            let who = if admin { "admin" } else { "anonymous" };
            problems.extend(check_page(&browser, &format!("{who}-{name}-{width}")).await);
        }
        browser.close().await;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[rocket::async_test]
async fn anonymous_pages_fit_desktops_and_phones_without_broken_words_or_serious_axe_issues() {
    check_pages(
        false,
        &[
            ("list", "/"),
            // The full pager: first, previous, five numbers, next and last.
            ("list-pager", "/?after=12&per_page=1"),
            ("user", &format!("/users/{LONG_ROW_ID}")),
        ],
    )
    .await;
}

#[rocket::async_test]
async fn admin_pages_fit_desktops_and_phones_without_broken_words_or_serious_axe_issues() {
    check_pages(
        true,
        &[
            ("list", "/"),
            ("user", &format!("/users/{LONG_ROW_ID}")),
            ("edit", &format!("/users/{LONG_ROW_ID}/edit")),
            ("cache", "/admin/cache"),
        ],
    )
    .await;
}

#[rocket::async_test]
async fn an_admin_logs_in_where_they_were_edits_saves_sees_the_new_value_and_logs_out() {
    let app = serve_seeded().await;
    let Some(browser) = Browser::start(PHONE.0, PHONE.1).await else {
        return;
    };
    // "All users" goes back to the page of the list the user came from.
    browser.goto(&app.url("/?after=20")).await;
    browser.click("a[href='/users/21']").await;
    browser.wait_for_path("/users/21").await;
    browser.click("a[data-back-to-list]").await;
    browser.wait_for_path("/?after=20").await;

    // Logging in from a user's page comes back to it.
    log_in_from(&browser, &app, "/users/2").await;
    assert!(browser.text().await.contains("Logged in as admin"));
    browser.click("a[href='/users/2/edit']").await;
    browser.wait_for_path("/users/2/edit").await;
    browser.fill("#name", "Ada Lovelace").await;
    browser.click("form.user button[type=submit]").await;
    browser.wait_for_path("/users/2").await;
    let page = browser.text().await;
    assert!(page.contains("Saved Ada Lovelace"), "{page}");
    assert!(page.contains("Ada Lovelace"), "{page}");
    assert_eq!(
        app.db.query_one("SELECT name FROM `user` WHERE id = 2"),
        "Ada Lovelace"
    );
    browser.screenshot("flow-saved-390").await;

    browser.click("form.session button[type=submit]").await;
    browser.wait_for_path("/admin/login").await;
    assert!(browser.text().await.contains("Logged out"));
    browser.goto(&app.url("/users/2")).await;
    let page = browser.text().await;
    assert!(page.contains("Ada Lovelace"), "{page}");
    assert!(!page.contains("Log out"), "a visitor again: {page}");
    browser.close().await;
}

/// Item 3 of issue 10: with `Cache-Control: public, max-age=30` on pages, the
/// browser answers from its own cache without asking the server.
#[rocket::async_test]
async fn an_admin_does_not_get_the_anonymous_copy_of_a_page_seen_before_login() {
    let app = serve_seeded().await;
    let Some(browser) = Browser::start(DESKTOP.0, DESKTOP.1).await else {
        return;
    };
    browser.goto(&app.url("/users/3")).await;
    assert!(!browser.text().await.contains("Edit"));
    log_in_from(&browser, &app, "/").await;
    let before = app.queries();
    browser.goto(&app.url("/users/3")).await;
    let page = browser.text().await;
    assert!(
        app.queries() > before,
        "the admin's view of /users/3 never reached MySQL: the browser showed its own copy"
    );
    assert!(
        page.contains("Edit"),
        "the admin sees the anonymous page: {page}"
    );
    browser.close().await;
}

#[rocket::async_test]
async fn a_visitor_sees_a_page_edited_elsewhere_as_after_the_edit() {
    let app = serve_seeded().await;
    let Some(browser) = Browser::start(DESKTOP.0, DESKTOP.1).await else {
        return;
    };
    browser.goto(&app.url("/users/4")).await;
    assert!(browser.text().await.contains("User Number 4"));
    let edited = reqwest::Client::new()
        .put(app.url("/api/users/4"))
        .bearer_auth(API_TOKEN)
        .json(&serde_json::json!({
            "name": "Grace Hopper",
            "email": "grace@example.com",
            "phone": "",
            "address": "Arlington",
        }))
        .send()
        .await
        .expect("the API answers");
    assert_eq!(edited.status().as_u16(), 200);
    let before = app.queries();
    browser.goto(&app.url("/users/4")).await;
    let page = browser.text().await;
    assert!(
        app.queries() > before,
        "the visit after the edit never reached MySQL: the browser showed its own copy"
    );
    assert!(page.contains("Grace Hopper"), "still the old page: {page}");
    browser.close().await;
}

#[rocket::async_test]
async fn the_icon_browsers_ask_for_is_served() {
    let app = AppBuilder::new().serve().await;
    for path in ["/favicon.ico", "/static/favicon.svg"] {
        let answer = reqwest::get(app.url(path)).await.expect("answers");
        assert_eq!(answer.status().as_u16(), 200, "{path}");
        let kind = answer.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .to_owned();
        assert!(kind.starts_with("image/svg+xml"), "{path}: {kind}");
    }
}

/// An hour of a busy fleet, written as the instances' flushes write it: traffic
/// rising to a peak, and a purge 25 minutes ago that sent the hit ratio down
/// while the pages were rendered again.
async fn seed_last_hour(app: &ServedApp) {
    let now = window::now_secs();
    for ago in (0..60u64).rev() {
        let requests = 400 + (60 - ago) * 12 + (ago % 7) * 25;
        let misses = match ago {
            25 => requests * 6 / 10,
            24 => requests * 3 / 10,
            23 => requests / 10,
            _ => requests / 25 + ago % 3,
        };
        let bypasses = requests / 20;
        let hits = requests - misses - bypasses;
        let counts = [("hit", hits), ("miss", misses), ("bypass", bypasses)];
        app.cache
            .fleet_add("seeded", &counts, now - ago * 60)
            .await
            .expect("seed a minute");
    }
}

#[rocket::async_test]
async fn the_admin_chart_draws_the_fleets_last_hour() {
    let app = serve_seeded().await;
    seed_last_hour(&app).await;
    let Some(browser) = Browser::start(DESKTOP.0, DESKTOP.1).await else {
        return;
    };
    log_in_from(&browser, &app, "/").await;
    browser.goto(&app.url("/admin/cache")).await;
    let count = |css: &str| format!("return document.querySelectorAll('{css}').length;");
    assert_eq!(browser.eval(&count("svg.chart rect.chart-bar")).await, 60);
    assert_eq!(browser.eval(&count("svg.chart circle.chart-dot")).await, 60);
    assert_eq!(
        browser.eval(&count("svg.chart polyline.chart-ratio")).await,
        1
    );
    let width = browser
        .eval("return document.querySelector('svg.chart').getBoundingClientRect().width;")
        .await;
    assert!(width.as_f64().is_some_and(|w| w > 300.0), "{width}");
    let text = browser.text().await;
    assert!(text.contains("per minute between"), "{text}");
    let shot = browser
        .element_screenshot("figure.chart", "admin-chart")
        .await;
    eprintln!("chart screenshot: {}", shot.display());
    let problems = check_page(&browser, "admin-cache-chart-1280").await;
    browser.close().await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
