//! The books page (`examples/books/page.html`) in a real browser: the books app runs in-process
//! (temporary database, free port, dev secret) and headless Chromium, driven over WebDriver by
//! fantoccini through Debian's chromedriver, uses the page as a person would: dev tokens, live
//! updates between two windows, validation messages next to the fields, permission errors.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian: `apt-get install chromium
//! chromium-driver`). Without them the test is skipped with a loud message, except under CI
//! (`CI` set), where it fails.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod books_app;

use books_app::{Books, app};
use fantoccini::elements::Element;
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use std::fmt::Display;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The longest any single condition is waited for.
const WAIT: Duration = Duration::from_secs(10);
/// How often a condition is checked while waiting.
const POLL: Duration = Duration::from_millis(50);

/// Whether the browser is installed; fails under CI when it is not.
fn browser_installed() -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|path| !Path::new(path).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let what = missing.join(" and ");
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} not found: CI must install the Debian packages `chromium chromium-driver` \
         (apt-get install -y chromium chromium-driver) before running the tests"
    );
    // Straight to stderr: libtest captures `eprintln!` of a passing test.
    let _ = writeln!(
        std::io::stderr(),
        "\n{bar}\n!!! books_browser SKIPPED: {what} not found.\n\
         !!! skipped: install chromium chromium-driver (apt-get install -y chromium chromium-driver)\n{bar}\n",
        bar = "!".repeat(78)
    );
    false
}

/// Runs `probe` until it returns `Ok`, for at most [`WAIT`]; panics with the last `Err` then.
async fn eventually<T>(what: impl Display, mut probe: impl AsyncFnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out after {WAIT:?} waiting for {what}; last seen: {last}")
            }
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}

/// The books app on a free port with a temporary database and the dev secret.
impl Books {
    fn url(&self) -> String {
        format!("http://{}/", self.running.addr)
    }
}

/// chromedriver on a free port, in a process group of its own so that dropping it ends the
/// browsers it started too, even when the test panicked before closing its sessions.
struct Driver {
    child: Child,
    port: u16,
    /// Browser profiles and the chromedriver log.
    dir: PathBuf,
}

impl Driver {
    fn spawn() -> Self {
        let dir = std::env::temp_dir().join(format!("books-browser-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(dir.join("chromedriver.log")).unwrap();
        let mut command = Command::new(CHROMEDRIVER);
        command
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().unwrap();
        Self { child, port, dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("chromedriver.log")).unwrap_or_default()
    }

    /// A new browser (its own fresh profile) and WebDriver session.
    async fn session(&self) -> Client {
        let profile = self.dir.join(format!("profile-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&profile).unwrap();
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            // Without these Chromium reaches out to Google, which this closed network refuses.
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,900",
            &format!("--user-data-dir={}", profile.display()),
        ];
        let mut capabilities = Capabilities::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({"binary": CHROMIUM, "args": args}),
        );
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities);
        let url = format!("http://127.0.0.1:{}", self.port);
        // chromedriver may still be starting: retry until it accepts the session.
        let deadline = Instant::now() + WAIT;
        loop {
            match builder.connect(&url).await {
                Ok(client) => return client,
                Err(err) if Instant::now() >= deadline => panic!(
                    "cannot start a Chromium session through chromedriver: {err}\n\
                     chromedriver log:\n{}",
                    self.log()
                ),
                Err(_) => tokio::time::sleep(POLL).await,
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        #[cfg(unix)]
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--"])
            .arg(format!("-{}", self.child.id()))
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One browser window on the page.
struct Page {
    name: &'static str,
    client: Client,
}

impl Page {
    async fn open(driver: &Driver, url: &str, name: &'static str) -> Self {
        let client = driver.session().await;
        client.goto(url).await.unwrap();
        let page = Self { name, client };
        page.find("#connect").await;
        page
    }

    async fn find(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .every(POLL)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(err) => panic!("page {}: no element {css}: {err}", self.name),
        }
    }

    async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }

    async fn fill(&self, css: &str, text: &str) {
        let input = self.find(css).await;
        input.clear().await.unwrap();
        if !text.is_empty() {
            input.send_keys(text).await.unwrap();
        }
    }

    async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client.execute(script, args).await.unwrap()
    }

    /// The text of the first element matching `css` ("" when there is none).
    async fn text(&self, css: &str) -> String {
        let script =
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';";
        self.js(script, vec![json!(css)])
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until the text of `css` contains `needle`; returns the whole text.
    async fn wait_text(&self, css: &str, needle: &str) -> String {
        let what = format!("page {}: {css} to contain {needle:?}", self.name);
        eventually(what, async || {
            let text = self.text(css).await;
            if text.contains(needle) {
                Ok(text)
            } else {
                Err(format!("{text:?}"))
            }
        })
        .await
    }

    /// The cells of the listed books, row by row.
    async fn rows(&self) -> Vec<Vec<String>> {
        let script = "return [...document.querySelectorAll('[data-testid=book-row]')]
            .map(row => [...row.cells].slice(0, 3).map(cell => cell.textContent));";
        serde_json::from_value(self.js(script, vec![]).await).unwrap()
    }

    /// Waits until a listed book has this title; returns its cells (title, author, ISBN).
    async fn wait_row(&self, title: &str) -> Vec<String> {
        let what = format!("page {}: a book row titled {title:?}", self.name);
        eventually(what, async || {
            let rows = self.rows().await;
            rows.iter()
                .find(|cells| cells[0] == title)
                .cloned()
                .ok_or_else(|| format!("{rows:?}"))
        })
        .await
    }

    async fn wait_no_row(&self, title: &str) {
        let what = format!("page {}: no book row titled {title:?}", self.name);
        eventually(what, async || {
            let rows = self.rows().await;
            if rows.iter().any(|cells| cells[0] == title) {
                Err(format!("{rows:?}"))
            } else {
                Ok(())
            }
        })
        .await;
    }

    /// The `data-book-id` of the listed book with this title.
    async fn book_id(&self, title: &str) -> String {
        let script = "const row = [...document.querySelectorAll('[data-testid=book-row]')]
            .find(r => r.cells[0].textContent === arguments[0]);
            return row ? row.dataset.bookId : null;";
        self.js(script, vec![json!(title)])
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn toasts(&self) -> Vec<String> {
        let script = "return [...document.querySelectorAll('[data-testid=toast]')]
            .map(t => t.textContent);";
        serde_json::from_value(self.js(script, vec![]).await).unwrap()
    }

    async fn wait_toast(&self, text: &str) {
        let what = format!("page {}: a toast {text:?}", self.name);
        eventually(what, async || {
            let toasts = self.toasts().await;
            if toasts.iter().any(|t| t == text) {
                Ok(())
            } else {
                Err(format!("{toasts:?}"))
            }
        })
        .await;
    }

    /// Gets a dev token for `user` with every role but `without`, and connects with it.
    async fn login(&self, user: &str, without: &[&str]) {
        // The helper shows once the page learnt that the server mints dev tokens.
        let what = format!("page {}: the dev token helper", self.name);
        eventually(what, async || {
            let panel = self.find("#dev-token-panel").await;
            match panel.is_displayed().await {
                Ok(true) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
        self.fill("#dev-user", user).await;
        for role in without {
            let checkbox = self.find(&format!("#role-{role}")).await;
            assert!(checkbox.is_selected().await.unwrap(), "roles start checked");
            checkbox.click().await.unwrap();
        }
        self.click("#get-token").await;
        let what = format!("page {}: a token in #token", self.name);
        eventually(what, async || {
            let token = self.find("#token").await.prop("value").await.unwrap();
            match token {
                Some(token) if token.split('.').count() == 3 => Ok(()),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
        self.click("#connect").await;
        self.wait_text("#status", &format!("Connected as {user}"))
            .await;
        // Connected: the first page of books is listed.
        self.wait_text("#page-info", "Page 1 of").await;
    }

    /// Waits until the author select lists the authors, then chooses `author_id`.
    async fn choose_author(&self, author_id: i64) {
        let select = self.find("#book-author").await;
        let what = format!("page {}: authors in #book-author", self.name);
        eventually(what, async || {
            let loaded = select.attr("data-loaded").await.unwrap();
            if loaded.as_deref() == Some("true") {
                Ok(())
            } else {
                Err(format!("data-loaded={loaded:?}"))
            }
        })
        .await;
        select
            .select_by_value(&author_id.to_string())
            .await
            .unwrap();
    }

    async fn screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }

    async fn close(self) {
        self.client.close().await.unwrap();
    }
}

fn screenshot_path() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("books-page.png")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_works_in_a_real_browser() {
    if !browser_installed() {
        return;
    }
    let started = Instant::now();
    let books = Books::start().await;
    let driver = Driver::spawn();
    let url = books.url();
    let (a, b) = tokio::join!(
        Page::open(&driver, &url, "A"),
        Page::open(&driver, &url, "B")
    );
    assert_eq!(a.client.title().await.unwrap(), "Books · pkg-router demo");

    a.login("alice", &[]).await;
    b.login("bob", &[]).await;
    // The seeded books, with their authors eager-loaded.
    assert_eq!(
        a.wait_row("Dune").await,
        ["Dune", "Frank Herbert", "978-0441013593"]
    );
    a.wait_text("#page-info", "Page 1 of 1 · 4 books").await;
    // B must not reload to see what A does: a reload would lose this.
    b.js("window.notReloaded = true;", vec![]).await;

    // A creates a book: A lists it, and B gets it through the broadcast.
    let title = "The Left Hand of Darkness";
    a.fill("#book-title", title).await;
    a.choose_author(1).await;
    a.fill("#book-isbn", "978-0441478125").await;
    a.click("#create").await;
    a.wait_text("#message", &format!("Added “{title}”")).await;
    let expected = [title, "Ursula K. Le Guin", "978-0441478125"];
    assert_eq!(a.wait_row(title).await, expected);
    assert_eq!(b.wait_row(title).await, expected);
    b.wait_toast(&format!("Book '{title}' created")).await;
    // A's own write is not news to A: its form said so, and no toast repeats it.
    assert!(a.toasts().await.is_empty(), "{:?}", a.toasts().await);
    b.wait_text("#page-info", "Page 1 of 1 · 5 books").await;
    assert_eq!(b.js("return window.notReloaded;", vec![]).await, true);

    // A renames it (partial update): B follows.
    let id = a.book_id(title).await;
    a.click(&format!(
        "[data-testid=book-row][data-book-id='{id}'] [data-testid=edit-book]"
    ))
    .await;
    a.wait_text("#create", "Save changes").await;
    let renamed = "The Left Hand of Darkness (50th anniversary)";
    a.fill("#book-title", renamed).await;
    a.click("#create").await;
    a.wait_text("#message", &format!("Saved “{renamed}”")).await;
    assert_eq!(
        b.wait_row(renamed).await,
        [renamed, "Ursula K. Le Guin", "978-0441478125"]
    );
    b.wait_toast(&format!("Book '{renamed}' updated")).await;
    b.wait_no_row(title).await;
    a.wait_text("#create", "Add book").await;

    // An invalid book: the server's messages land next to the fields.
    a.fill("#book-title", "").await;
    a.choose_author(2).await;
    a.fill("#book-isbn", "123").await;
    a.click("#create").await;
    let title_error = a
        .wait_text("#error-title", "shorter than 1 character")
        .await;
    let isbn_error = a.wait_text("#error-isbn", "does not match").await;
    for (error, field) in [
        ("#error-title", "#book-title"),
        ("#error-isbn", "#book-isbn"),
    ] {
        assert!(a.find(error).await.is_displayed().await.unwrap());
        let invalid = a.find(field).await.attr("aria-invalid").await.unwrap();
        assert_eq!(invalid.as_deref(), Some("true"), "{field}");
    }
    assert_eq!(a.text("#error-author").await, "", "the author was valid");
    a.wait_text("#message", "Please fix the highlighted fields")
        .await;
    eprintln!("validation shown: title: {title_error:?}; isbn: {isbn_error:?}");

    // A third window: a bad token is refused with the close reason; a token without
    // create-book connects, lists and pages, but may not create.
    let c = Page::open(&driver, &url, "C").await;
    c.fill("#token", "not-a-jwt").await;
    c.click("#connect").await;
    c.wait_text("#status", "Authentication failed").await;
    c.wait_text("#conn-message", "4001").await;
    c.login("carol", &["create-book"]).await;
    c.fill("#book-title", "Forbidden Book").await;
    c.choose_author(2).await;
    c.click("#create").await;
    let denied = c.wait_text("#message", "Permission denied").await;
    assert!(denied.contains("create-book"), "{denied}");
    assert_eq!(
        c.find("#message").await.attr("data-kind").await.unwrap(),
        Some("error".to_owned())
    );
    c.find("#per-page")
        .await
        .select_by_value("2")
        .await
        .unwrap();
    c.wait_text("#page-info", "Page 1 of 3 · 5 books").await;
    let first_page = c.rows().await;
    c.click("#next").await;
    c.wait_text("#page-info", "Page 2 of 3").await;
    assert_ne!(c.rows().await, first_page);
    c.close().await;

    let screenshot = screenshot_path();
    a.screenshot(&screenshot).await;
    eprintln!("screenshot of page A: {}", screenshot.display());

    // A deletes the book (two clicks: the button asks to confirm); B's list loses it.
    let delete = format!("[data-testid=book-row][data-book-id='{id}'] [data-testid=delete-book]");
    a.click(&delete).await;
    a.wait_text(&delete, "Confirm").await;
    a.click(&delete).await;
    a.wait_text("#message", &format!("Deleted “{renamed}”"))
        .await;
    b.wait_no_row(renamed).await;
    b.wait_toast(&format!("Book '{renamed}' deleted")).await;
    b.wait_text("#page-info", "Page 1 of 1 · 4 books").await;

    a.close().await;
    b.close().await;
    eprintln!("browser scenario took {:?}", started.elapsed());
}

/// The page is built on the pkg-router browser module (`/pkg-router.js`): when the server
/// restarts, it reconnects by itself with the same token, lists the books again, and pushes made
/// on the new server reach it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_reconnects_after_the_server_restarts() {
    if !browser_installed() {
        return;
    }
    let mut books = Books::start().await;
    let driver = Driver::spawn();
    let page = Page::open(&driver, &books.url(), "A").await;
    page.login("alice", &[]).await;
    page.wait_text("#page-info", "Page 1 of 1 · 4 books").await;

    books.restart().await;
    page.wait_text("#conn-message", "Reconnected").await;
    page.wait_text("#status", "Connected as alice").await;

    // A book created on the new server, by another client: pushed to the page, listed.
    let token = app::web::mint(
        app::DEV_SECRET,
        "writer",
        &["create-book".to_owned()],
        Duration::from_secs(300),
    )
    .unwrap();
    let writer = pkg_router::client::Client::connect(format!("ws://{}/web", books.running.addr))
        .token(token)
        .await
        .unwrap();
    let title = "Written after the restart";
    let _: Value = writer
        .call(3u32, &json!({"title": title, "author_id": 1}))
        .await
        .unwrap();
    page.wait_toast(&format!("Book '{title}' created")).await;
    page.wait_row(title).await;
    page.wait_text("#page-info", "Page 1 of 1 · 5 books").await;
    page.close().await;
}
