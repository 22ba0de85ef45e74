//! The agent console over HTTP, as a browser without JavaScript uses it: sign-in, sessions,
//! CSRF, the queue and ticket pages and their forms, assets, attachments and the live stream.
//! (`console_browser` drives it in a real browser.)

use std::collections::HashMap;
use std::time::Duration;

use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::{Client, StatusCode};
use sha2::Digest;

use crate::helpers::{Backend, TestApp, TestResult, send};

/// A browser without JavaScript: keeps cookies, does not follow redirects.
pub struct Browser {
    pub client: Client,
    pub origin: String,
    pub cookies: HashMap<String, String>,
}

pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The value of the first hidden `csrf` field.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        self.text
            .split_once(marker)
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(value, _)| value.to_owned())
            .unwrap_or_default()
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect()
    }
}

impl Browser {
    pub fn new(app: &TestApp) -> TestResult<Self> {
        Ok(Self {
            client: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .pool_idle_timeout(Duration::from_secs(5))
                .build()?,
            origin: app.origin.clone(),
            cookies: HashMap::new(),
        })
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn read(&mut self, response: reqwest::Response) -> TestResult<Page> {
        let status = response.status();
        let headers = response.headers().clone();
        for value in headers.get_all(SET_COOKIE) {
            let text = value.to_str()?;
            let pair = text.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() || text.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        let text = response.text().await?;
        Ok(Page {
            status,
            headers,
            text,
        })
    }

    pub async fn get(&mut self, path: &str) -> TestResult<Page> {
        let response = self
            .client
            .get(format!("{}{path}", self.origin))
            .header("cookie", self.cookie_header())
            .send()
            .await?;
        self.read(response).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> TestResult<Page> {
        let response = self
            .client
            .post(format!("{}{path}", self.origin))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await?;
        self.read(response).await
    }

    pub fn session_cookie(&self) -> Option<&String> {
        self.cookies.get("sd_console")
    }

    /// Opens the sign-in page and signs in; answers the sign-in's answer.
    pub async fn sign_in(&mut self, email: &str, password: &str) -> TestResult<Page> {
        let form = self.get("/console/sign-in").await?;
        let csrf = form.csrf();
        self.post(
            "/console/sign-in",
            &[("email", email), ("password", password), ("csrf", &csrf)],
        )
        .await
    }

    /// Signs in and expects to land on the queue.
    pub async fn signed_in(app: &TestApp, email: &str, password: &str) -> TestResult<Self> {
        let mut browser = Self::new(app)?;
        let answer = browser.sign_in(email, password).await?;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.text);
        assert_eq!(answer.location(), "/console");
        Ok(browser)
    }
}

fn sha256_hex(text: &str) -> String {
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

async fn staff_sign_in_keeps_only_a_hash_and_sign_out_ends_the_session(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let mut browser = Browser::new(&app)?;
    let form = browser.get("/console/sign-in").await?;
    assert_eq!(form.status, 200);
    for name in [
        "<label for=\"email\">Email</label>",
        "<label for=\"password\">Password</label>",
        ">Sign in</button>",
    ] {
        assert!(form.text.contains(name), "{name} missing: {}", form.text);
    }
    let answer = browser
        .sign_in(&app.admin_email, &app.admin_password)
        .await?;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.text);
    let cookie = answer
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("sd_console="))
        .ok_or("no session cookie")?;
    for part in ["HttpOnly", "SameSite=Lax", "Path=/console"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    // The desk has no https public URL here.
    assert!(!cookie.contains("Secure"), "{cookie}");
    let token = browser.session_cookie().ok_or("no cookie kept")?.clone();

    // Only the token's hash is stored.
    let stored: Vec<String> = app.with_db(|db| async move {
        let rows = sqlx::query("SELECT token_hash FROM console_sessions")
            .fetch_all(db.pool())
            .await?;
        Ok(rows
            .iter()
            .map(|r| sqlx::Row::try_get::<String, _>(r, "token_hash"))
            .collect::<Result<_, _>>()?)
    })?;
    assert_eq!(stored, vec![sha256_hex(&token)]);

    let queue = browser.get("/console").await?;
    assert_eq!(queue.status, 200);
    assert!(queue.text.contains(">Sign out</button>"));
    assert!(queue.text.contains("<main"));
    assert!(queue.text.contains("<nav"));
    let csp = queue
        .headers
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(
        queue.headers.get("x-frame-options").map(|v| v.as_bytes()),
        Some(&b"DENY"[..])
    );

    let csrf = queue.csrf();
    let out = browser
        .post("/console/sign-out", &[("csrf", csrf.as_str())])
        .await?;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), "/console/sign-in");
    // The old cookie, replayed, opens nothing.
    let mut replay = Browser::new(&app)?;
    replay.cookies.insert("sd_console".to_owned(), token);
    let after = replay.get("/console").await?;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert_eq!(after.location(), "/console/sign-in");
    Ok(())
}

async fn customers_are_refused_and_sign_in_shares_the_api_throttle(backend: Backend) -> TestResult {
    let app = TestApp::spawn_with(backend, &[("SUPPORTDESK_SIGNIN_MAX_FAILURES", "3")]).await?;
    app.customer("carol@example.com")?;
    let mut browser = Browser::new(&app)?;
    let refused = browser.sign_in("carol@example.com", "secret-pw").await?;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.text.contains("for support staff only"),
        "{}",
        refused.text
    );
    assert!(browser.session_cookie().is_none());

    app.person("agent@example.com", "agent")?;
    for _ in 0..3 {
        let wrong = browser.sign_in("agent@example.com", "wrong").await?;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert!(wrong.text.contains("Unable to sign in"), "{}", wrong.text);
    }
    // The fourth, even with the right password, waits: the same throttle as the API's...
    let throttled = browser.sign_in("agent@example.com", "secret-pw").await?;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(throttled.headers.contains_key("retry-after"));
    // ...which the API's sign-in shares.
    let api = send(
        app.request(reqwest::Method::POST, "/api/v1/auth/token/", None)
            .form(&[("email", "agent@example.com"), ("password", "secret-pw")]),
    )
    .await?;
    assert_eq!(api.status, StatusCode::TOO_MANY_REQUESTS);
    Ok(())
}

async fn posts_without_the_right_csrf_token_change_nothing(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let category = app.category("Billing")?;
    let carol = app.customer("carol@example.com")?;
    let ticket = app.ticket(&carol, category, "Charged twice").await?;
    app.person("agent@example.com", "agent")?;
    app.person("other@example.com", "agent")?;

    // Sign-in itself needs the form's token (no login CSRF).
    let mut stranger = Browser::new(&app)?;
    let forged = stranger
        .post(
            "/console/sign-in",
            &[("email", "agent@example.com"), ("password", "secret-pw")],
        )
        .await?;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(stranger.session_cookie().is_none());

    let mut agent = Browser::signed_in(&app, "agent@example.com", "secret-pw").await?;
    let mut other = Browser::signed_in(&app, "other@example.com", "secret-pw").await?;
    let others_token = other.get("/console").await?.csrf();
    let path = format!("/console/tickets/{ticket}/reply");
    for csrf in ["", "0000", others_token.as_str()] {
        let answer = agent
            .post(&path, &[("comment", "Refunded"), ("csrf", csrf)])
            .await?;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{csrf:?}");
    }
    let out = agent.post("/console/sign-out", &[]).await?;
    assert_eq!(out.status, StatusCode::FORBIDDEN);
    let page = agent.get(&format!("/console/tickets/{ticket}")).await?;
    assert!(!page.text.contains("Refunded"));
    // Still signed in: the refused sign-out did nothing.
    assert_eq!(page.status, 200);
    Ok(())
}

async fn deactivation_new_passwords_and_sign_out_everywhere_end_console_sessions(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let admin = app.person("root@example.com", "admin")?;
    let agent = app.person("agent@example.com", "agent")?;
    let mut first = Browser::signed_in(&app, "agent@example.com", "secret-pw").await?;
    let mut second = Browser::signed_in(&app, "agent@example.com", "secret-pw").await?;
    let csrf = first.get("/console").await?.csrf();
    let out = first
        .post("/console/sign-out-everywhere", &[("csrf", csrf.as_str())])
        .await?;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    for browser in [&mut first, &mut second] {
        let page = browser.get("/console").await?;
        assert_eq!(page.location(), "/console/sign-in");
    }

    // A new password set by an administrator ends the sessions.
    let mut browser = Browser::signed_in(&app, "agent@example.com", "secret-pw").await?;
    send(
        app.post(&format!("/api/v1/admin/users/{}/", agent.id), &admin)
            .form(&[("password", "a new password 1")]),
    )
    .await?
    .assert_ok();
    assert_eq!(
        browser.get("/console").await?.location(),
        "/console/sign-in"
    );

    // So does a deactivation, also made from the command line (another process).
    let mut browser = Browser::signed_in(&app, "agent@example.com", "a new password 1").await?;
    assert_eq!(browser.get("/console").await?.status, 200);
    app.cli_ok(&["user", "update", &agent.id.to_string(), "--active", "false"])?;
    assert_eq!(
        browser.get("/console").await?.location(),
        "/console/sign-in"
    );
    Ok(())
}

async fn idle_and_absolute_lifetimes_end_sessions(backend: Backend) -> TestResult {
    let app = TestApp::spawn_with(
        backend,
        &[
            ("SUPPORTDESK_CONSOLE_IDLE_TIMEOUT", "1"),
            ("SUPPORTDESK_CONSOLE_SESSION_LIFETIME", "100"),
        ],
    )
    .await?;
    app.person("agent@example.com", "agent")?;
    let mut browser = Browser::signed_in(&app, "agent@example.com", "secret-pw").await?;
    assert_eq!(browser.get("/console").await?.status, 200);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(
        browser.get("/console").await?.location(),
        "/console/sign-in"
    );

    let app = TestApp::spawn_with(
        backend,
        &[
            ("SUPPORTDESK_CONSOLE_IDLE_TIMEOUT", "100"),
            ("SUPPORTDESK_CONSOLE_SESSION_LIFETIME", "2"),
        ],
    )
    .await?;
    app.person("agent@example.com", "agent")?;
    // The session is made somewhere between `before` and `after` (under CI's load a sign-in can
    // take a second or more), so it must last at least 2 s from `before` and end within 2 s of
    // `after`, plus slack for one slow request.
    let before = std::time::Instant::now();
    let mut browser = Browser::signed_in(&app, "agent@example.com", "secret-pw").await?;
    let after = std::time::Instant::now();
    // Busy the whole time (never idle), and still signed out when the lifetime is up.
    loop {
        let page = browser.get("/console").await?;
        if page.status != 200 {
            assert_eq!(page.location(), "/console/sign-in");
            assert!(before.elapsed() >= Duration::from_secs(2), "ended early");
            return Ok(());
        }
        assert!(
            after.elapsed() < Duration::from_secs(6),
            "the session outlived its 2 s lifetime"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn agents_work_a_ticket_without_javascript(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let category = app.category("Billing")?;
    let urgent = app.tag("Urgent")?;
    let carol = app.customer("carol@example.com")?;
    let hostile = "<script>alert(1)</script> & <img src=x onerror=alert(2)>";
    let ticket = app.ticket(&carol, category, hostile).await?;
    let other = app.ticket(&carol, category, "Second question").await?;
    let agent = app.person("agent@example.com", "agent")?;
    let mut browser = Browser::signed_in(&app, "agent@example.com", "secret-pw").await?;

    let queue = browser.get("/console?view=unassigned").await?;
    assert_eq!(queue.status, 200);
    // The subject is the link's text, escaped.
    let escaped =
        "&#60;script&#62;alert(1)&#60;/script&#62; &#38; &#60;img src=x onerror=alert(2)&#62;";
    assert!(
        queue.text.contains(&format!(
            "<a href=\"/console/tickets/{ticket}?view=unassigned\">{escaped}</a>"
        )),
        "{}",
        queue.text
    );
    assert!(!queue.text.contains("<script>alert"));
    assert!(
        queue
            .text
            .contains("Unassigned <span class=\"count\">2</span>")
    );
    assert!(queue.text.contains("Mine <span class=\"count\">0</span>"));
    // A filter narrows the view; a bad one is a clear error page, not a 500.
    let high = browser.get("/console?view=unassigned&priority=3").await?;
    assert!(high.text.contains("No tickets here."));
    let bad = browser.get("/console?view=open&sort=nonsense").await?;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text.contains("sort"), "{}", bad.text);

    let path = format!("/console/tickets/{ticket}");
    let page = browser.get(&format!("{path}?view=unassigned")).await?;
    assert_eq!(page.status, 200);
    for name in [
        "<label for=\"reply\">Reply</label>",
        ">Send reply</button>",
        "<label for=\"note\">Internal note</label>",
        ">Add note</button>",
        "<label for=\"status\">Status</label>",
        "<label for=\"assignee\">Assignee</label>",
        ">Sign out</button>",
        "Second question",
    ] {
        assert!(page.text.contains(name), "{name} missing");
    }
    assert!(!page.text.contains("<script>alert"));
    let csrf = page.csrf();

    let assigned = browser
        .post(
            &format!("{path}/update"),
            &[
                ("csrf", &csrf),
                ("assign", "me"),
                ("view", "view=unassigned"),
            ],
        )
        .await?;
    assert_eq!(assigned.status, StatusCode::SEE_OTHER);
    assert_eq!(
        assigned.location(),
        format!("/console/tickets/{ticket}?view=unassigned")
    );
    // The view counts follow the assignment (the frame counts them on every page).
    let counted = browser.get(&path).await?;
    assert!(
        counted.text.contains("Mine <span class=\"count\">1</span>"),
        "{}",
        counted.text
    );
    assert!(
        counted
            .text
            .contains("Unassigned <span class=\"count\">1</span>")
    );
    assert!(
        counted
            .text
            .contains("All open <span class=\"count\">2</span>")
    );
    assert!(
        counted
            .text
            .contains("Closed <span class=\"count\">0</span>")
    );
    let reply = browser
        .post(
            &format!("{path}/reply"),
            &[("csrf", &csrf), ("comment", "Refunded </textarea><b>x</b>")],
        )
        .await?;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    browser
        .post(
            &format!("{path}/note"),
            &[("csrf", &csrf), ("comment", "Refund ref R-1234")],
        )
        .await?;
    let tags = urgent.to_string();
    browser
        .post(
            &format!("{path}/update"),
            &[
                ("csrf", &csrf),
                ("status", "3"),
                ("priority", "3"),
                ("category", &category.to_string()),
                ("assignee", &agent.id.to_string()),
                ("tags", ""),
                ("tags", &tags),
            ],
        )
        .await?;

    let page = browser.get(&path).await?;
    assert!(page.text.contains("Internal note"));
    assert!(page.text.contains("Refund ref R-1234"));
    assert!(
        page.text
            .contains("Refunded &#60;/textarea&#62;&#60;b&#62;x&#60;/b&#62;")
    );
    assert!(
        page.text
            .contains("<span class=\"badge closed\">Closed</span>")
    );
    assert!(page.text.contains("<span class=\"tag\">Urgent</span>"));
    assert!(
        page.text
            .contains("changed status from Processing to Closed")
    );

    // The customer sees the reply and not the note.
    let detail = send(app.get(
        &format!("/api/v1/support/ticket/detailed-view/?ticket_id={ticket}"),
        &carol,
    ))
    .await?;
    let text = detail.body.to_string();
    assert!(text.contains("Refunded"), "{text}");
    assert!(!text.contains("R-1234"), "{text}");

    // Closed is in Closed; the other ticket is next in Unassigned ("Send and next").
    let closed = browser.get("/console?view=closed").await?;
    assert!(
        closed
            .text
            .contains(&format!("/console/tickets/{ticket}?view=closed"))
    );
    let other_path = format!("/console/tickets/{other}");
    let next = browser
        .post(
            &format!("{other_path}/reply"),
            &[
                ("csrf", &csrf),
                ("comment", "On it"),
                ("next", "1"),
                ("view", "view=unassigned"),
            ],
        )
        .await?;
    // Nothing after it in the view: back to the view.
    assert_eq!(next.location(), "/console?view=unassigned");

    // Search uses the agent search: the note's words find the ticket.
    let found = browser.get("/console?search=R-1234").await?;
    assert!(found.text.contains(&format!("/console/tickets/{ticket}?")));
    assert!(!found.text.contains(&format!("/console/tickets/{other}?")));

    // A missing ticket is a page that says so.
    assert_eq!(browser.get("/console/tickets/999999").await?.status, 404);
    Ok(())
}

async fn assets_are_hashed_cached_and_attachments_download(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let category = app.category("Billing")?;
    let carol = app.customer("carol@example.com")?;
    let form = reqwest::multipart::Form::new()
        .text("subject", "A page")
        .text("priority", "2")
        .text("comment", "see attached")
        .text("category", category.to_string())
        .part(
            "attachment",
            reqwest::multipart::Part::bytes(b"<script>alert(1)</script>".to_vec())
                .file_name("page.html")
                .mime_str("text/html")?,
        );
    let created = send(
        app.post("/api/v1/support/create/ticket/", &carol)
            .multipart(form),
    )
    .await?;
    let ticket = created.assert_ok()["ticket"]["id"]
        .as_i64()
        .ok_or("no id")?;
    app.person("agent@example.com", "agent")?;
    let mut browser = Browser::signed_in(&app, "agent@example.com", "secret-pw").await?;
    let page = browser.get(&format!("/console/tickets/{ticket}")).await?;
    let link = page
        .text
        .split("href=\"/console/attachments/")
        .nth(1)
        .and_then(|rest| rest.split_once('"'))
        .map(|(id, _)| format!("/console/attachments/{id}"))
        .ok_or("no attachment link")?;
    let file = browser.get(&link).await?;
    assert_eq!(file.status, 200);
    let disposition = file
        .headers
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(disposition.starts_with("attachment"), "{disposition}");
    let csp = file
        .headers
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(csp.contains("sandbox"), "{csp}");
    // Without a session, no file.
    let mut stranger = Browser::new(&app)?;
    assert_eq!(stranger.get(&link).await?.status, StatusCode::SEE_OTHER);

    let css = page
        .text
        .split("<link rel=\"stylesheet\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split_once('"'))
        .map(|(url, _)| url.to_owned())
        .ok_or("no stylesheet")?;
    let asset = stranger.get(&css).await?;
    assert_eq!(asset.status, 200);
    assert!(
        asset
            .headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("immutable"))
    );
    assert!(asset.text.contains(".queue"));
    let stale = stranger
        .get("/console/assets/console-000000000000.css")
        .await?;
    assert_eq!(stale.status, 404);
    Ok(())
}

/// Reads the event stream until an event of each of `names` has arrived, or fails after
/// `limit`.
pub async fn wait_for_events(
    response: &mut reqwest::Response,
    names: &[&str],
    limit: Duration,
) -> TestResult<Duration> {
    let start = std::time::Instant::now();
    let mut seen = String::new();
    loop {
        if names
            .iter()
            .all(|name| seen.contains(&format!("event: {name}\n")))
        {
            return Ok(start.elapsed());
        }
        let left = limit.saturating_sub(start.elapsed());
        match tokio::time::timeout(left, response.chunk()).await {
            Ok(Ok(Some(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            Ok(Ok(None)) => return Err(format!("stream ended: {seen}").into()),
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => return Err(format!("no {names:?} within {limit:?}: {seen}").into()),
        }
    }
}

async fn the_live_stream_announces_changes_from_any_process(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let category = app.category("Billing")?;
    let carol = app.customer("carol@example.com")?;
    app.person("agent@example.com", "agent")?;
    let browser = Browser::signed_in(&app, "agent@example.com", "secret-pw").await?;
    // Without a session there is no stream.
    let refused = Browser::new(&app)?.get("/console/live").await?;
    assert_eq!(refused.status, StatusCode::SEE_OTHER);

    let mut stream = browser
        .client
        .get(app.url("/console/live"))
        .header("cookie", browser.cookie_header())
        .send()
        .await?;
    assert_eq!(
        stream
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let ticket = app.ticket(&carol, category, "Live one").await?;
    let name = format!("ticket-{ticket}");
    wait_for_events(&mut stream, &["changed", &name], Duration::from_secs(2)).await?;

    if backend == Backend::Postgres {
        // A second process's console hears of a ticket made through the first.
        let sibling = app.sibling()?;
        let other = Browser::signed_in(&sibling, "agent@example.com", "secret-pw").await?;
        let mut far = other
            .client
            .get(sibling.url("/console/live"))
            .header("cookie", other.cookie_header())
            .send()
            .await?;
        // The listener starts with the process; give it a moment to be listening.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let second = app.ticket(&carol, category, "Across processes").await?;
        let name = format!("ticket-{second}");
        wait_for_events(&mut far, &[&name], Duration::from_secs(2)).await?;
    }
    Ok(())
}

on_both_backends!(
    staff_sign_in_keeps_only_a_hash_and_sign_out_ends_the_session,
    customers_are_refused_and_sign_in_shares_the_api_throttle,
    posts_without_the_right_csrf_token_change_nothing,
    deactivation_new_passwords_and_sign_out_everywhere_end_console_sessions,
    idle_and_absolute_lifetimes_end_sessions,
    agents_work_a_ticket_without_javascript,
    assets_are_hashed_cached_and_attachments_download,
    the_live_stream_announces_changes_from_any_process,
);
