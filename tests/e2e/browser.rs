//! The admin portal in a real browser: Debian's headless Chromium driven through chromedriver
//! (WebDriver). Sign-up with a mistake shown next to its field, a custom role and a user who
//! holds it, a plugin uploaded, enabled and configured, the dashboard and an order's trace read
//! against the API, and what a read-only user (on a phone-sized screen) is not offered.
//!
//! A failing step leaves a screenshot in `target/tmp/portal-screenshots/`. Without a
//! chromedriver these tests say so and pass, except under CI, which installs one.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use reqwest::StatusCode;
use serde_json::json;

use crate::harness::*;

const DRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const WAIT: Duration = Duration::from_secs(15);

pub struct Browser {
    client: Client,
    base: String,
    _driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A browser session against `app`, or None (with a note) where no chromedriver is installed.
async fn browser(app: &TestApp) -> Option<Browser> {
    if !std::path::Path::new(DRIVER).exists() {
        assert!(std::env::var_os("CI").is_none(), "CI must install chromium and chromium-driver (.ci/run does)");
        eprintln!("skipping the browser test: no {DRIVER} (apt-get install chromium chromium-driver)");
        return None;
    }
    let port = free_port();
    let driver = tokio::process::Command::new(DRIVER)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let profile = tempfile::tempdir().unwrap();
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            // As root, without a GPU or the network: no sandbox, and nothing that phones home.
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                     format!("--user-data-dir={}", profile.path().display())]
        }
    });
    let caps: fantoccini::wd::Capabilities = caps.as_object().unwrap().clone();
    let url = format!("http://127.0.0.1:{port}");
    let mut last = None;
    for _ in 0..150 {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector).capabilities(caps.clone()).connect(&url).await {
            Ok(client) => return Some(Browser { client, base: app.base.clone(), _driver: driver, _profile: profile }),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no WebDriver session: {last:?}");
}

/// Runs `steps` in a browser; when a step fails, a screenshot of the page is saved first.
async fn in_browser(app: &TestApp, name: &str, steps: impl AsyncFnOnce(&Browser)) {
    let Some(b) = browser(app).await else { return };
    let outcome = AssertUnwindSafe(steps(&b)).catch_unwind().await;
    if let Err(panic) = outcome {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("portal-screenshots");
        std::fs::create_dir_all(&dir).ok();
        let file = dir.join(format!("{name}-{}.png", uuid::Uuid::now_v7()));
        match b.client.screenshot().await {
            Ok(png) if std::fs::write(&file, &png).is_ok() => {
                eprintln!("screenshot of the failure: {}", file.display())
            }
            other => eprintln!("no screenshot: {:?}", other.err()),
        }
        if let Ok(url) = b.client.current_url().await {
            eprintln!("the page was {url}");
        }
        b.client.clone().close().await.ok();
        std::panic::resume_unwind(panic);
    }
    b.client.clone().close().await.ok();
}

impl Browser {
    async fn open(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    async fn wait(&self, css: &str) -> Element {
        match self.client.wait().at_most(WAIT).for_element(Locator::Css(css)).await {
            Ok(e) => e,
            Err(e) => panic!("no {css} on the page: {e}"),
        }
    }

    /// Waits for a page to have rendered its data.
    async fn ready(&self, page: &str) {
        self.wait(&format!("#view[data-page=\"{page}\"][data-ready=\"true\"]")).await;
    }

    async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.unwrap().len()
    }

    async fn text(&self, css: &str) -> String {
        self.wait(css).await.text().await.unwrap()
    }

    async fn click(&self, css: &str) {
        self.wait(css).await.click().await.unwrap();
    }

    async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.wait(css).await.attr(name).await.unwrap()
    }

    /// Types into the named fields of a form (clearing what they held).
    async fn fill(&self, form: &str, fields: &[(&str, &str)]) {
        for (name, value) in fields {
            let input = self.wait(&format!("{form} [name=\"{name}\"]")).await;
            input.clear().await.unwrap();
            input.send_keys(value).await.unwrap();
        }
    }

    /// Waits until `css`'s text satisfies `ok`.
    async fn until_text(&self, css: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let t = match self.client.find(Locator::Css(css)).await {
                Ok(e) => e.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if ok(&t) {
                return t;
            }
            assert!(tokio::time::Instant::now() < deadline, "{css} still reads {t:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn go(&self, route: &str, page: &str) {
        self.open(&format!("/admin#/{route}")).await;
        self.ready(page).await;
    }

    async fn login(&self, tenant: &str, email: &str, password: &str) {
        self.go("login", "login").await;
        self.fill("#login-form", &[("tenant", tenant), ("email", email), ("password", password)]).await;
        self.click("#login-submit").await;
        self.ready("dashboard").await;
    }
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

#[tokio::test]
async fn a_company_signs_up_builds_a_role_and_adds_a_user_in_the_browser() {
    on_each_backend(async |app| {
        in_browser(&app, "signup", async |b| {
            let tenants = app.state.store.count_rows_unfiltered(None, "tenants").await.unwrap();
            b.open("/admin").await;
            b.ready("login").await;
            b.click("#signup-link").await;
            b.ready("signup").await;
            let slug = format!("browser-{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
            b.fill(
                "#signup-form",
                &[
                    ("company_name", "Browser Trading"),
                    ("slug", &slug),
                    ("admin_email", "not-an-email"),
                    ("admin_name", "Bo Wen"),
                    ("admin_password", "short"),
                ],
            )
            .await;
            b.click("#signup-submit").await;
            // The API's field errors sit next to their fields; nothing was written.
            assert!(!b.text(".field-error[data-field=\"admin_email\"]").await.is_empty());
            assert!(b.text(".field-error[data-field=\"admin_password\"]").await.contains("10"));
            let class = b.attr("#signup-form [name=\"admin_email\"]", "class").await.unwrap_or_default();
            assert!(class.contains("invalid"), "the field is marked: {class}");
            assert_eq!(app.state.store.count_rows_unfiltered(None, "tenants").await.unwrap(), tenants);
            b.fill("#signup-form", &[("admin_email", "bo@browser.test"), ("admin_password", "browser-password-1")])
                .await;
            b.click("#signup-submit").await;
            b.ready("dashboard").await;
            assert!(b.text("#whoami").await.contains("bo@browser.test"));
            assert!(b.text("#subscription-banner").await.contains("Trial"), "a trial shows its days left");
            assert_eq!(b.count("a[data-nav=\"users\"]").await, 1);
            let owner = app.login(&slug, "bo@browser.test", "browser-password-1").await.body["access_token"]
                .as_str()
                .unwrap()
                .to_owned();

            // A custom role from permissions per module and action.
            b.go("roles", "roles").await;
            b.click("#new-role").await;
            b.fill("#role-form", &[("name", "Stock clerk"), ("description", "Counts and moves stock")]).await;
            for p in ["inventory:read", "inventory:write"] {
                b.click(&format!("#role-form input[name=\"permissions\"][value=\"{p}\"]")).await;
            }
            b.click("#role-submit").await;
            b.wait("tr[data-role=\"Stock clerk\"]").await;
            let roles = app.get("/api/v1/roles", &owner).await;
            let clerk =
                roles.body["data"].as_array().unwrap().iter().find(|r| r["name"] == "Stock clerk").unwrap().clone();
            assert_eq!(clerk["permissions"], json!(["inventory:read", "inventory:write"]));

            // A user with that role; a bad form first, which writes nothing.
            b.go("users", "users").await;
            b.click("#new-user").await;
            b.fill("#user-form", &[("email", "clara"), ("display_name", "Clara Clerk"), ("password", "short")]).await;
            b.click("#user-submit").await;
            b.wait(".field-error[data-field=\"email\"]").await;
            b.wait(".field-error[data-field=\"password\"]").await;
            assert_eq!(app.get("/api/v1/users", &owner).await.body["data"].as_array().unwrap().len(), 1);
            b.fill("#user-form", &[("email", "clara@browser.test"), ("password", "clerk-password-1")]).await;
            b.click("#user-form input[name=\"role_ids\"][data-role-name=\"Stock clerk\"]").await;
            b.click("#user-submit").await;
            let roles =
                b.until_text("tr[data-email=\"clara@browser.test\"] .roles", |t| t.contains("Stock clerk")).await;
            assert_eq!(roles, "Stock clerk");

            // She logs in and is offered what her role allows, no more.
            b.click("#logout").await;
            b.ready("login").await;
            b.login(&slug, "clara@browser.test", "clerk-password-1").await;
            assert_eq!(b.count("a[data-nav=\"users\"]").await, 0, "no user admin for a stock clerk");
            assert_eq!(b.count("a[data-nav=\"plugins\"]").await, 0);
            b.wait("#card-stock[data-state=\"ready\"]").await;
            b.wait("#card-sales[data-state=\"denied\"]").await;
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn a_plugin_is_uploaded_enabled_and_configured_in_the_browser() {
    on_each_backend(async |app| {
        let t = app.signup_with("Plugin Browser Co", "generic", "CNY").await;
        in_browser(&app, "plugin", async |b| {
            b.login(&t.slug, &t.email, PASSWORD).await;
            b.go("plugins", "plugins").await;
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins");
            let wasm = root.join("dist/credit-guard.wasm").canonicalize().unwrap();
            let bad = tempfile::Builder::new().suffix(".json").tempfile().unwrap();
            std::fs::write(bad.path(), "{ this is not json").unwrap();
            let upload = async |manifest: &std::path::Path| {
                b.wait("#plugin-upload-form input[name=\"manifest\"]")
                    .await
                    .send_keys(&manifest.display().to_string())
                    .await
                    .unwrap();
                b.wait("#plugin-upload-form input[name=\"component\"]")
                    .await
                    .send_keys(&wasm.display().to_string())
                    .await
                    .unwrap();
                b.click("#plugin-upload-submit").await;
            };
            upload(bad.path()).await;
            b.wait(".field-error[data-field=\"manifest\"]").await;
            assert_eq!(app.get("/api/v1/plugins", &t.token).await.body["data"], json!([]), "nothing uploaded");

            b.go("plugins", "plugins").await;
            upload(&root.join("credit-guard/manifest.json").canonicalize().unwrap()).await;
            b.ready("plugin").await;
            assert_eq!(b.text("#plugin-status").await, "disabled");
            let log = b.wait("input[name=\"capabilities\"][value=\"log\"]").await;
            assert!(log.is_selected().await.unwrap(), "the capabilities asked for are offered, checked");
            b.click("#plugin-enable").await;
            b.until_text("#plugin-status", |s| s == "enabled").await;
            let p = app.get("/api/v1/plugins/credit-guard", &t.token).await;
            assert_eq!(p.body["enabled"], true, "{:?}", p.body);

            b.fill("#plugin-settings-form", &[("tag", "vip"), ("limit", "2500")]).await;
            b.click("#plugin-settings-submit").await;
            let deadline = tokio::time::Instant::now() + WAIT;
            loop {
                let p = app.get("/api/v1/plugins/credit-guard", &t.token).await;
                if p.body["settings"]["limit"] == "2500" {
                    assert_eq!(p.body["settings"]["tag"], "vip");
                    break;
                }
                assert!(tokio::time::Instant::now() < deadline, "settings not saved: {:?}", p.body);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            b.wait("#plugin-invocations").await;
            b.go("plugins", "plugins").await;
            assert_eq!(b.text("tr[data-plugin=\"credit-guard\"] .status").await, "enabled");
            assert_eq!(b.text("tr[data-plugin=\"credit-guard\"] .version").await, "1.0.0");
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn the_dashboard_and_a_trace_show_the_apis_figures_and_a_viewer_gets_no_write_controls() {
    on_each_backend_with(
        |c| c.seed_demo = true,
        async |app| {
            let owner = app.login("demo", "owner@demo.meridian.test", "meridian-demo").await.body["access_token"]
                .as_str()
                .unwrap()
                .to_owned();
            let summary = app.get("/api/v1/reports/sales-summary", &owner).await.body;
            let orders = app.get("/api/v1/sales-orders?kind=order&limit=20", &owner).await.body;
            // The demo's desk order is made by a production order: its trace shows it.
            let mut made_to_order = None;
            for o in orders["data"].as_array().unwrap() {
                let id = o["id"].as_str().unwrap();
                let trace = app.get(&format!("/api/v1/sales-orders/{id}/trace"), &owner).await.body;
                if trace["production_orders"].as_array().is_some_and(|p| !p.is_empty()) {
                    made_to_order = Some((o["number"].as_str().unwrap().to_owned(), trace));
                }
            }
            let (number, trace) = made_to_order.expect("a demo order made to order");
            in_browser(&app, "dashboard", async |b| {
                b.login("demo", "owner@demo.meridian.test", "meridian-demo").await;
                for card in ["sales", "top-revenue", "top-margin", "stock", "ar", "repurchase", "funnel", "production"]
                {
                    b.wait(&format!("#card-{card}[data-state=\"ready\"]")).await;
                }
                let figure = b.text("#card-sales .figure").await;
                assert_eq!(digits(&figure), digits(summary["this_month"]["revenue"].as_str().unwrap()), "{figure}");
                assert!(b.count("#card-sales svg").await >= 1, "a chart of the month");
                if let Some(top) = summary["top_by_revenue"].as_array().unwrap().first() {
                    assert!(b.text("#card-top-revenue").await.contains(top["sku"].as_str().unwrap()));
                }

                // The trace of the order made to order reads what the API reads.
                b.go("trace", "trace").await;
                b.click(&format!("a.trace-link[data-number=\"{number}\"]")).await;
                b.ready("trace").await;
                b.wait("#trace-view").await;
                let margin = b.text("#trace-profit [data-figure=\"margin\"] dd").await;
                assert_eq!(
                    digits(&margin),
                    digits(trace["margin"].as_str().unwrap()),
                    "{margin} against {:?}",
                    trace["margin"]
                );
                let made = trace["production_orders"].as_array().unwrap().len();
                assert_eq!(b.count("#trace-production tr[data-number]").await, made);
                assert!(b.text("#trace-view").await.contains(&number));

                // A viewer on a phone: reads, is offered no writes, and the API refuses them anyway.
                b.click("#logout").await;
                b.ready("login").await;
                b.client.set_window_size(390, 844).await.unwrap();
                b.login("demo", "viewer@demo.meridian.test", "meridian-demo").await;
                let fits = b
                    .client
                    .execute("return document.documentElement.scrollWidth <= window.innerWidth + 1", vec![])
                    .await
                    .unwrap();
                assert_eq!(fits, json!(true), "the dashboard fits a phone's width");
                for nav in ["users", "roles", "api-keys", "plugins", "audit"] {
                    assert_eq!(b.count(&format!("a[data-nav=\"{nav}\"]")).await, 0, "{nav}");
                }
                b.go("settings", "settings").await;
                b.wait("#settings-tax-codes").await;
                b.wait("#settings-warehouses").await;
                for form in ["#company-form", "#tax-code-form", "#warehouse-form"] {
                    assert_eq!(b.count(form).await, 0, "{form} is not offered to a viewer");
                }
                assert_eq!(b.count("#settings-numbering").await, 0, "numbering needs admin read");
                let viewer = app.login("demo", "viewer@demo.meridian.test", "meridian-demo").await.body["access_token"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                let refused = app.post("/api/v1/warehouses", &viewer, json!({"code": "NOPE", "name": "Nope"})).await;
                assert_eq!(refused.status, StatusCode::FORBIDDEN);
            })
            .await;
        },
    )
    .await;
}

#[tokio::test]
async fn the_portal_is_served_with_its_assets_and_a_strict_policy() {
    let app = spawn_app(Backend::Sqlite).await;
    for (path, kind) in [
        ("/admin", "text/html"),
        ("/admin/app.js", "text/javascript"),
        ("/admin/app.css", "text/css"),
        ("/admin/users", "text/html"),
    ] {
        let r = app.client.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let h = r.headers();
        assert!(h["content-type"].to_str().unwrap().starts_with(kind), "{path}");
        assert!(h["content-security-policy"].to_str().unwrap().contains("default-src 'self'"), "{path}");
        let tag = h["etag"].to_str().unwrap().to_owned();
        let again = app.client.get(format!("{}{path}", app.base)).header("If-None-Match", &tag).send().await.unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
    }
    let html = app.client.get(format!("{}/admin", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(
        html.contains("/admin/app.js") && !html.contains("http://") && !html.contains("https://"),
        "no assets from elsewhere"
    );
}
