//! Headless Chromium driven over WebDriver (chromedriver + fantoccini), and the app
//! served on a real port for it.
//!
//! A browser is found on `PATH` (`chromium`, `chromium-browser`, `google-chrome`)
//! or through `CHROME_BIN` / `CHROMEDRIVER`; `.ci/run` installs Debian's `chromium`
//! and `chromium-driver`. Without one, [`Browser::start`] prints a loud line and the
//! test returns early: that is the only reason a browser test may skip.
//! axe-core (MPL-2.0, not vendored) is fetched once with `npm pack` into `target/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use rocket::Shutdown;
use rocket_cache::db::{Db, QueryCounter};
use serde_json::{json, Value};
use test_support::free_port;

use super::{AppBuilder, TestDb, TestNamespace};

/// The axe-core release the accessibility checks run.
pub const AXE_VERSION: &str = "4.14.1";
/// How long chromedriver and the app get to answer after starting.
const START_TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

/// One browser at a time: the build machine has two cores and each Chromium is heavy.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Where screenshots and the fetched axe-core go.
pub fn artefacts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser")
}

/// The first of `names` that runs, from an environment override or `PATH`.
fn find_program(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// Polls `check` until it is true, for at most [`START_TIMEOUT`].
async fn poll_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + START_TIMEOUT;
    while !check().await {
        assert!(Instant::now() < deadline, "{what} did not answer in time");
        tokio::time::sleep(POLL).await;
    }
}

/// A headless Chromium session at a given window size; chromedriver is killed on drop.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _one_at_a_time: tokio::sync::MutexGuard<'static, ()>,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium of `width`x`height`, or returns
    /// `None` after a loud message when no browser is installed.
    pub async fn start(width: u32, height: u32) -> Option<Self> {
        let Some(driver_path) = find_program("CHROMEDRIVER", &["chromedriver"]) else {
            skip_loudly("chromedriver");
            return None;
        };
        let Some(chrome) = find_program(
            "CHROME_BIN",
            &["chromium", "chromium-browser", "google-chrome"],
        ) else {
            skip_loudly("chromium");
            return None;
        };
        let guard = ONE_BROWSER.lock().await;
        let port = free_port();
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        let status = format!("{url}/status");
        poll_until("chromedriver", || async {
            reqwest::get(&status).await.is_ok()
        })
        .await;
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            json!({
                "binary": chrome,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--hide-scrollbars",
                    "--force-device-scale-factor=1",
                    format!("--window-size={width},{height}"),
                ],
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&url)
            .await
            .expect("a WebDriver session");
        let browser = Self {
            client,
            driver,
            _one_at_a_time: guard,
        };
        browser.fit_viewport(width, height).await;
        Some(browser)
    }

    async fn resize(&self, width: u64, height: u64) {
        let size = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        self.client
            .set_window_size(size(width), size(height))
            .await
            .expect("resize the window");
    }

    /// Makes the layout viewport exactly `width` x `height` (the window may add
    /// borders), and refuses to test at any other width.
    async fn fit_viewport(&self, width: u32, height: u32) {
        let inner = || async {
            let sizes = self
                .eval("return [window.innerWidth, window.innerHeight];")
                .await;
            (
                sizes[0].as_u64().unwrap_or(0),
                sizes[1].as_u64().unwrap_or(0),
            )
        };
        let (w, h) = inner().await;
        let (outer_w, outer_h) = self.client.get_window_size().await.expect("window size");
        let (width, height) = (u64::from(width), u64::from(height));
        if (w, h) != (width, height) {
            self.resize(outer_w + width - w, outer_h + height - h).await;
        }
        // The window manager applies a resize when it gets to it: on a loaded
        // machine the page may still report the old size for a moment.
        test_support::eventually(
            std::time::Duration::from_secs(5),
            "the browser window is sized",
            || async { (inner().await == (width, height)).then_some(()) },
        )
        .await;
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// Runs `script` in the page and returns its value.
    pub async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .expect("the script runs")
    }

    /// The text of the whole page, as a person reads it.
    pub async fn text(&self) -> String {
        self.eval("return document.body.innerText;")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current url");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} on the page: {e}"))
            .click()
            .await
            .expect("click");
    }

    /// Replaces the value of the input `css` with `value`.
    pub async fn fill(&self, css: &str, value: &str) {
        let input = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} on the page: {e}"));
        input.clear().await.expect("clear");
        input.send_keys(value).await.expect("type");
    }

    /// Waits until the browser shows `path` (after a click that navigates).
    pub async fn wait_for_path(&self, path: &str) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let now = self.path().await;
            if now == path {
                return;
            }
            assert!(Instant::now() < deadline, "still on {now}, expected {path}");
            tokio::time::sleep(POLL).await;
        }
    }

    /// Saves a PNG of the whole page as `target/browser/screenshots/<name>.png`: the
    /// window is made as tall as the page for the shot (its width, so the layout,
    /// stays the same).
    pub async fn screenshot(&self, name: &str) {
        let sizes = self
            .eval("return [document.documentElement.scrollHeight, window.innerHeight];")
            .await;
        let (page, inner) = (
            sizes[0].as_u64().unwrap_or(0),
            sizes[1].as_u64().unwrap_or(0),
        );
        let (width, height) = self.client.get_window_size().await.expect("window size");
        let taller = page.saturating_sub(inner).min(6000);
        if taller > 0 {
            self.resize(width, height + taller).await;
        }
        let png = self.client.screenshot().await.expect("screenshot");
        if taller > 0 {
            self.resize(width, height).await;
        }
        let dir = artefacts_dir().join("screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }

    /// Saves a PNG of the element `css` alone as
    /// `target/browser/screenshots/<name>.png`, and returns where.
    pub async fn element_screenshot(&self, css: &str, name: &str) -> PathBuf {
        // Only what is in the window is drawn: bring the element's top to it.
        self.eval(&format!(
            "document.querySelector('{css}').scrollIntoView({{block: 'start'}}); return 0;"
        ))
        .await;
        let element = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} on the page: {e}"));
        let png = element.screenshot().await.expect("element screenshot");
        let dir = artefacts_dir().join("screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// How much wider than the window the page is (0 when it fits).
    pub async fn horizontal_overflow(&self) -> i64 {
        self.eval("return document.documentElement.scrollWidth - window.innerWidth;")
            .await
            .as_i64()
            .unwrap_or(i64::MAX)
    }

    /// Visible words of at most `max` characters that the layout broke across lines,
    /// measured with DOM ranges (one range per word; its boxes on two lines = broken).
    pub async fn broken_words(&self, max: usize) -> Vec<String> {
        let script = r"
            const max = arguments[0];
            const broken = [];
            // Text only screen readers get (clipped to a pixel) is not laid out for reading.
            const hidden = (el) => {
              for (; el; el = el.parentElement) {
                const style = getComputedStyle(el);
                if (style.clipPath !== 'none' || style.display === 'none') return true;
              }
              return false;
            };
            const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
              if (hidden(node.parentElement)) continue;
              // A line may end after a hyphen: each part of a compound is a word.
              for (const m of node.data.matchAll(/[^\s-]+-?/g)) {
                if (m[0].length > max) continue;
                const range = document.createRange();
                range.setStart(node, m.index);
                range.setEnd(node, m.index + m[0].length);
                const tops = new Set();
                for (const r of range.getClientRects()) {
                  if (r.width > 0) tops.add(Math.round(r.top / 4));
                }
                if (tops.size > 1) broken.push(m[0]);
              }
            }
            return broken;";
        let found = self
            .client
            .execute(script, vec![json!(max)])
            .await
            .expect("the word check runs");
        serde_json::from_value(found).unwrap_or_default()
    }

    /// What axe-core does not check: text inputs whose border has less than 3:1
    /// contrast with the page (WCAG 1.4.11), and links with one name that go to
    /// different places (twenty "Edit" links that do not say whom they edit).
    pub async fn accessibility_extras(&self) -> Vec<String> {
        let script = r#"
            const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
            const lum = (c) => { const [r, g, b] = c.match(/[\d.]+/g).map(Number);
              return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b); };
            const contrast = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
              return (x + 0.05) / (y + 0.05); };
            const page = getComputedStyle(document.body).backgroundColor;
            const problems = [];
            for (const input of document.querySelectorAll(
                'input[type=text], input[type=email], input[type=tel], input[type=password]')) {
              const ratio = contrast(getComputedStyle(input).borderTopColor, page);
              if (ratio < 3) problems.push('border of #' + input.id + ' is ' + ratio.toFixed(2) + ':1');
            }
            const seen = new Map();
            for (const link of document.querySelectorAll('a[href]')) {
              const name = link.textContent.replace(/\s+/g, ' ').trim();
              const href = link.getAttribute('href');
              if (seen.has(name) && seen.get(name) !== href) {
                problems.push('links named "' + name + '" go to ' + seen.get(name) + ' and ' + href);
              }
              seen.set(name, href);
            }
            return problems;"#;
        let found = self
            .client
            .execute(script, Vec::new())
            .await
            .expect("the checks run");
        serde_json::from_value(found).unwrap_or_default()
    }

    /// axe-core's serious and critical violations on the current page, one line each.
    pub async fn accessibility_violations(&self) -> Vec<String> {
        let axe = axe_source();
        self.client
            .execute(&format!("{axe}\nreturn true;"), Vec::new())
            .await
            .expect("axe-core loads");
        let script = r"
            const done = arguments[arguments.length - 1];
            axe.run(document, { resultTypes: ['violations'] }).then(
              (r) => done(r.violations
                .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                .map((v) => v.impact + ' ' + v.id + ': ' + v.help + ' at '
                  + v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | '))),
              (e) => done(['axe failed: ' + e]));";
        let found = self
            .client
            .execute_async(script, Vec::new())
            .await
            .expect("axe runs");
        serde_json::from_value(found).unwrap_or_default()
    }

    /// Ends the browser session (Chromium exits), then chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn skip_loudly(missing: &str) {
    eprintln!(
        "\n!!!!!!!! BROWSER TEST SKIPPED: no {missing} found. Install Debian's `chromium` \
         and `chromium-driver` (bash .ci/run does), or set CHROME_BIN / CHROMEDRIVER. !!!!!!!!\n"
    );
}

/// axe-core's `axe.min.js`, fetched once with `npm pack` into `target/browser/`.
fn axe_source() -> String {
    let dir = artefacts_dir().join(format!("axe-core-{AXE_VERSION}"));
    let file = dir.join("package/axe.min.js");
    if !file.is_file() {
        std::fs::create_dir_all(&dir).expect("axe dir");
        let packed = Command::new("npm")
            .args(["pack", &format!("axe-core@{AXE_VERSION}"), "--silent"])
            .current_dir(&dir)
            .output()
            .expect("npm runs (install npm, or run bash .ci/run, to fetch axe-core)");
        assert!(packed.status.success(), "npm pack axe-core: {packed:?}");
        let tarball = format!("axe-core-{AXE_VERSION}.tgz");
        let unpacked = Command::new("tar")
            .args(["xzf", &tarball])
            .current_dir(&dir)
            .status()
            .expect("tar runs");
        assert!(unpacked.success(), "unpack {tarball}");
    }
    std::fs::read_to_string(&file).expect("axe.min.js")
}

/// The app on a real port (browsers need one), with its statement counter.
pub struct ServedApp {
    pub base: String,
    pub queries: QueryCounter,
    /// The served app's cache handle, as its routes see it.
    pub cache: rocket_page_cache::Cache,
    shutdown: Shutdown,
    /// Kept last: the database is dropped after the server is told to stop.
    pub db: Arc<TestDb>,
    /// Held so that the namespace's keys are cleared when the app goes.
    _namespace: Arc<TestNamespace>,
}

impl ServedApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn queries(&self) -> u64 {
        self.queries.get()
    }
}

impl Drop for ServedApp {
    fn drop(&mut self) {
        self.shutdown.clone().notify();
    }
}

impl AppBuilder {
    /// Launches the app on a free port of 127.0.0.1 and waits until it answers.
    pub async fn serve(mut self) -> ServedApp {
        let port = free_port();
        self.figment = self
            .figment
            .merge(("address", "127.0.0.1"))
            .merge(("port", port));
        let rocket = self.build_rocket().ignite().await.expect("the app ignites");
        let queries = rocket.state::<Db>().expect("Db managed").queries().clone();
        let cache = rocket
            .state::<rocket_page_cache::Cache>()
            .expect("Cache managed")
            .clone();
        let shutdown = rocket.shutdown();
        tokio::spawn(rocket.launch());
        let base = format!("http://127.0.0.1:{port}");
        let health = format!("{base}/static/style.css");
        poll_until("the app", || async { reqwest::get(&health).await.is_ok() }).await;
        ServedApp {
            base,
            queries,
            cache,
            shutdown,
            db: self.db,
            _namespace: self.namespace,
        }
    }
}
