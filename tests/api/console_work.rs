//! The console's queue and ticket work over HTTP (issue 14, round 2): the queue's filter
//! labels, bulk changes, in-place edits of the side panel, presence, compression and the live
//! stream after sign-out. (`console_browser` covers what needs a real browser.)

use std::time::Duration;

use reqwest::StatusCode;

use crate::console::{Browser, wait_for_events};
use crate::helpers::{Backend, TestApp, TestResult, send};

async fn the_queue_filters_name_what_the_view_chooses(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    app.person("agent@example.com", "agent")?;
    let mut browser = Browser::signed_in(&app, "agent@example.com", "secret-pw").await?;
    for (view, status, assignee) in [
        ("mine", "Open + processing", "Me (view)"),
        ("unassigned", "Open + processing", "Nobody (view)"),
        ("open", "Open + processing", "Anyone"),
        ("closed", "Closed", "Anyone"),
    ] {
        let page = browser.get(&format!("/console?view={view}")).await?;
        assert!(
            page.text.contains(&format!(
                "<select id=\"f-status\" name=\"status\"><option value=\"\">{status}</option>"
            )),
            "{view}: {}",
            page.text
        );
        assert!(
            page.text.contains(&format!(
                "<select id=\"f-assignee\" name=\"assignee\"><option value=\"\">{assignee}</option>"
            )),
            "{view}"
        );
        assert!(!page.text.contains("View's"));
        // The live refresh of the table also brings the views' counts.
        assert!(page.text.contains("hx-select-oob=\"#views\""));
        assert!(page.text.contains("<nav id=\"views\""));
    }
    Ok(())
}

async fn bulk_changes_apply_to_each_ticked_ticket_and_report_what_is_not_a_ticket(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let category = app.category("Billing")?;
    let urgent = app.tag("Urgent")?;
    let carol = app.customer("carol@example.com")?;
    let first = app.ticket(&carol, category, "First").await?;
    let second = app.ticket(&carol, category, "Second").await?;
    let third = app.ticket(&carol, category, "Third").await?;
    app.person("agent@example.com", "agent")?;
    let other = app.person("other@example.com", "agent")?;
    let mut browser = Browser::signed_in(&app, "agent@example.com", "secret-pw").await?;

    let queue = browser.get("/console?view=unassigned").await?;
    for part in [
        "<form id=\"bulk\" class=\"bulk\" method=\"post\" action=\"/console/bulk\"",
        &format!("name=\"ticket\" value=\"{first}\" form=\"bulk\""),
        "id=\"select-all\"",
        "<label for=\"b-assignee\">Assign</label>",
        "<label for=\"b-status\">Status</label>",
        "<label for=\"b-tag\">Add tag</label>",
        ">Apply to selected</button>",
    ] {
        assert!(queue.text.contains(part), "{part} missing");
    }
    // Without JavaScript, "Select all on page" ticks every row.
    let all = browser.get("/console?view=unassigned&select=all").await?;
    assert_eq!(
        all.text
            .matches("form=\"bulk\" aria-label=\"Select #")
            .count(),
        3
    );
    assert_eq!(
        all.text.matches(" checked>").count(),
        4,
        "three rows and the header"
    );
    let csrf = queue.csrf();

    // Assign two to me and tag them: one post, back to the view with a count.
    let (a, b) = (first.to_string(), second.to_string());
    let tag = urgent.to_string();
    let done = browser
        .post(
            "/console/bulk",
            &[
                ("csrf", &csrf),
                ("view", "view=unassigned"),
                ("ticket", &a),
                ("ticket", &b),
                ("assignee", "me"),
                ("tag", &tag),
            ],
        )
        .await?;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    assert_eq!(done.location(), "/console?view=unassigned&done=2");
    let after = browser.get(done.location()).await?;
    assert!(after.text.contains("2 tickets changed."), "{}", after.text);
    assert!(!after.text.contains(&format!("value=\"{first}\" form")));
    assert!(after.text.contains(&format!("value=\"{third}\" form")));
    for id in [first, second] {
        let page = browser.get(&format!("/console/tickets/{id}")).await?;
        assert!(page.text.contains("assigned to agent@example.com"));
        assert!(page.text.contains("<span class=\"tag\">Urgent</span>"));
    }
    let mine = browser.get("/console?view=mine").await?;
    assert!(mine.text.contains("Mine <span class=\"count\">2</span>"));

    // To another agent, with a status; an id that is no ticket and one that is not a number
    // are reported by name, and the real ones still change.
    let to = other.id.to_string();
    let mixed = browser
        .post(
            "/console/bulk",
            &[
                ("csrf", &csrf),
                ("view", "view=mine"),
                ("ticket", &a),
                ("ticket", "999999"),
                ("ticket", "abc<b>"),
                ("assignee", &to),
                ("status", "2"),
            ],
        )
        .await?;
    assert_eq!(mixed.status, StatusCode::OK, "{}", mixed.text);
    assert!(
        mixed.text.contains("1 ticket changed; 2 not changed"),
        "{}",
        mixed.text
    );
    assert!(
        mixed
            .text
            .contains("<strong>#999999</strong>: No such ticket.")
    );
    assert!(
        mixed
            .text
            .contains("<strong>abc&#60;b&#62;</strong>: Not a ticket number.")
    );
    let page = browser.get(&format!("/console/tickets/{first}")).await?;
    assert!(page.text.contains("assigned to other@example.com"));
    assert!(
        page.text
            .contains("<span class=\"badge processing\">Processing</span>")
    );

    // A refused change is refused per ticket (the same checks as the single update): nobody
    // changed, 400, the words of the check.
    let refused = browser
        .post(
            "/console/bulk",
            &[("csrf", &csrf), ("ticket", &b), ("status", "9")],
        )
        .await?;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.text.contains("status: "), "{}", refused.text);
    let customer = app.customer("dave@example.com")?;
    let refused = browser
        .post(
            "/console/bulk",
            &[
                ("csrf", &csrf),
                ("ticket", &b),
                ("assignee", &customer.id.to_string()),
            ],
        )
        .await?;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.text.contains("assignee: "), "{}", refused.text);

    // Nothing ticked, no action, no CSRF token: clear refusals that change nothing.
    for (form, status) in [
        (
            vec![("csrf", csrf.as_str()), ("status", "3")],
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![("csrf", csrf.as_str()), ("ticket", a.as_str())],
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![("ticket", a.as_str()), ("status", "3")],
            StatusCode::FORBIDDEN,
        ),
    ] {
        let answer = browser.post("/console/bulk", &form).await?;
        assert_eq!(answer.status, status, "{form:?}: {}", answer.text);
    }
    let page = browser.get(&format!("/console/tickets/{first}")).await?;
    assert!(!page.text.contains("badge closed"));

    // The customer API shows what the bulk change did.
    let detail = send(app.get(
        &format!("/api/v1/support/ticket/detailed-view/?ticket_id={second}"),
        &carol,
    ))
    .await?;
    detail.assert_ok();
    Ok(())
}

async fn the_side_panel_edits_one_field_at_a_time_and_the_tags_editor_adds_and_removes(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let category = app.category("Billing")?;
    let urgent = app.tag("Urgent")?;
    let vip = app.tag("<b>VIP</b>")?;
    let carol = app.customer("carol@example.com")?;
    let ticket = app.ticket(&carol, category, "Charged twice").await?;
    app.person("agent@example.com", "agent")?;
    let mut browser = Browser::signed_in(&app, "agent@example.com", "secret-pw").await?;
    let path = format!("/console/tickets/{ticket}");
    let page = browser.get(&path).await?;
    for part in [
        "<aside id=\"panel\"",
        // Each select posts alone (htmx), only its own field.
        "hx-params=\"csrf,view,status\"",
        "hx-params=\"csrf,view,priority\"",
        "hx-params=\"csrf,view,category\"",
        "hx-params=\"csrf,view,assignee\"",
        "hx-select=\"#panel\"",
        "<label for=\"tags\">Add a tag</label>",
        &format!("<option value=\"{urgent}\">Urgent</option>"),
        "No tags.",
    ] {
        assert!(page.text.contains(part), "{part} missing: {}", page.text);
    }
    let csrf = page.csrf();

    // One field alone (as htmx sends it) changes only that field.
    let answer = browser
        .post(
            &format!("{path}/update"),
            &[("csrf", csrf.as_str()), ("view", ""), ("priority", "3")],
        )
        .await?;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let page = browser.get(&path).await?;
    assert!(page.text.contains("High priority"));
    assert!(page.text.contains("<span class=\"badge open\">Open</span>"));

    // Tags: add two, remove one; each relative to the ticket's tags now.
    let tags = format!("{path}/tags");
    for tag in [urgent, vip] {
        let answer = browser
            .post(&tags, &[("csrf", &csrf), ("add", &tag.to_string())])
            .await?;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.text);
        assert_eq!(answer.location(), path);
    }
    let page = browser.get(&path).await?;
    assert!(page.text.contains("<span class=\"tag\">Urgent</span>"));
    assert!(
        page.text
            .contains("<span class=\"tag\">&#60;b&#62;VIP&#60;/b&#62;</span>")
    );
    assert!(
        page.text
            .contains(&format!("name=\"remove\" value=\"{urgent}\""))
    );
    // Adding one already there changes nothing; removing one.
    browser
        .post(&tags, &[("csrf", &csrf), ("add", &vip.to_string())])
        .await?;
    let answer = browser
        .post(
            &tags,
            &[
                ("csrf", &csrf),
                ("add", ""),
                ("remove", &urgent.to_string()),
            ],
        )
        .await?;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let page = browser.get(&path).await?;
    assert!(!page.text.contains("<span class=\"tag\">Urgent</span>"));
    assert_eq!(
        page.text
            .matches("&#60;b&#62;VIP&#60;/b&#62;</span>")
            .count(),
        2,
        "meta and panel"
    );
    // Bad input: a clear 400, never a 500; without the token, 403.
    for (form, status) in [
        (
            vec![("csrf", csrf.as_str()), ("add", "nope")],
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![("csrf", csrf.as_str()), ("add", "999999")],
            StatusCode::BAD_REQUEST,
        ),
        (vec![("csrf", csrf.as_str())], StatusCode::BAD_REQUEST),
        (vec![("add", "1")], StatusCode::FORBIDDEN),
    ] {
        let answer = browser.post(&tags, &form).await?;
        assert_eq!(answer.status, status, "{form:?}: {}", answer.text);
    }
    assert_eq!(
        browser
            .post(
                "/console/tickets/999999/tags",
                &[("csrf", &csrf), ("add", "1")]
            )
            .await?
            .status,
        StatusCode::NOT_FOUND
    );
    Ok(())
}

/// Reads the event stream until `text` has arrived (counting from now), or fails after `limit`.
async fn wait_for_text(
    response: &mut reqwest::Response,
    text: &str,
    limit: Duration,
) -> TestResult<Duration> {
    let start = std::time::Instant::now();
    let mut seen = String::new();
    loop {
        if seen.contains(text) {
            return Ok(start.elapsed());
        }
        let left = limit.saturating_sub(start.elapsed());
        match tokio::time::timeout(left, response.chunk()).await {
            Ok(Ok(Some(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            Ok(Ok(None)) => return Err(format!("stream ended: {seen}").into()),
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => return Err(format!("no {text:?} within {limit:?}: {seen}").into()),
        }
    }
}

async fn open_stream(
    browser: &Browser,
    app: &TestApp,
    path: &str,
) -> TestResult<reqwest::Response> {
    let response = browser
        .client
        .get(app.url(path))
        .header("cookie", browser.cookie_header())
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::OK);
    Ok(response)
}

async fn other_staff_see_who_is_viewing_and_replying_live(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let category = app.category("Billing")?;
    let carol = app.customer("carol@example.com")?;
    let ticket = app.ticket(&carol, category, "Charged twice").await?;
    app.person("ann@example.com", "agent")?;
    app.person("bob@example.com", "agent")?;
    // On PostgreSQL Bob is served by another process: presence crosses by NOTIFY.
    let sibling = if backend == Backend::Postgres {
        Some(app.sibling()?)
    } else {
        None
    };
    let bob_app = sibling.as_ref().unwrap_or(&app);
    let mut ann = Browser::signed_in(&app, "ann@example.com", "secret-pw").await?;
    let bob = Browser::signed_in(bob_app, "bob@example.com", "secret-pw").await?;
    let live = format!("/console/live?ticket={ticket}");
    let mut bob_stream = open_stream(&bob, bob_app, &live).await?;
    // Bob's own stream says nobody else is there (never himself).
    wait_for_text(
        &mut bob_stream,
        "event: presence\ndata: <!-- nobody else -->\n",
        Duration::from_secs(3),
    )
    .await?;
    if sibling.is_some() {
        // The sibling's listener starts with the process.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Ann opens the ticket: Bob sees her viewing, live.
    let page = ann.get(&format!("/console/tickets/{ticket}")).await?;
    assert!(
        page.text.contains(&format!("sse-connect=\"{live}\"")),
        "{}",
        page.text
    );
    assert!(
        page.text
            .contains("<p id=\"presence\" class=\"presence\" sse-swap=\"presence\"")
    );
    let csrf = page.csrf();
    let mut ann_stream = open_stream(&ann, &app, &live).await?;
    wait_for_text(
        &mut bob_stream,
        "ann@example.com is viewing",
        Duration::from_secs(3),
    )
    .await?;
    // Ann's stream names Bob, and so does her page once loaded.
    wait_for_text(
        &mut ann_stream,
        "bob@example.com is viewing",
        Duration::from_secs(3),
    )
    .await?;
    let page = ann.get(&format!("/console/tickets/{ticket}")).await?;
    assert!(page.text.contains("bob@example.com is viewing"));
    assert!(!page.text.contains("ann@example.com is viewing"));

    // Ann types a reply: replying; sent: viewing again.
    let presence = format!("/console/tickets/{ticket}/presence");
    let said = ann
        .post(&presence, &[("csrf", csrf.as_str()), ("state", "replying")])
        .await?;
    assert_eq!(said.status, StatusCode::NO_CONTENT, "{}", said.text);
    wait_for_text(
        &mut bob_stream,
        "ann@example.com is replying",
        Duration::from_secs(3),
    )
    .await?;
    ann.post(&presence, &[("csrf", csrf.as_str()), ("state", "idle")])
        .await?;
    wait_for_text(
        &mut bob_stream,
        "ann@example.com is viewing",
        Duration::from_secs(3),
    )
    .await?;

    // Bad input is refused and changes nothing.
    for (form, path, status) in [
        (
            vec![("csrf", csrf.as_str()), ("state", "dancing")],
            presence.clone(),
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![("state", "replying")],
            presence.clone(),
            StatusCode::FORBIDDEN,
        ),
        (
            vec![("csrf", csrf.as_str()), ("state", "replying")],
            "/console/tickets/999999/presence".to_owned(),
            StatusCode::NOT_FOUND,
        ),
    ] {
        assert_eq!(ann.post(&path, &form).await?.status, status, "{form:?}");
    }

    // Ann closes the page (its stream ends): she is gone from Bob's line.
    drop(ann_stream);
    let gone = wait_for_text(
        &mut bob_stream,
        "event: presence\ndata: <!-- nobody else -->\n",
        Duration::from_secs(30),
    )
    .await?;
    eprintln!("presence: a closed page was gone from the other's line after {gone:?}");
    Ok(())
}

async fn a_live_stream_ends_once_its_session_is_signed_out(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    app.person("agent@example.com", "agent")?;
    let mut browser = Browser::signed_in(&app, "agent@example.com", "secret-pw").await?;
    let cookie = browser.cookie_header();
    let mut stream = open_stream(&browser, &app, "/console/live").await?;
    let csrf = browser.get("/console").await?.csrf();
    let out = browser
        .post("/console/sign-out", &[("csrf", csrf.as_str())])
        .await?;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    wait_for_events(&mut stream, &["signed-out"], Duration::from_secs(5)).await?;
    // And then it ends.
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        while stream.chunk().await?.is_some() {}
        Ok::<_, reqwest::Error>(())
    })
    .await;
    assert!(matches!(end, Ok(Ok(()))), "the stream did not end: {end:?}");
    // Reconnecting with the old cookie is refused.
    let again = browser
        .client
        .get(app.url("/console/live"))
        .header("cookie", cookie)
        .send()
        .await?;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    Ok(())
}

async fn gzipped_size(browser: &Browser, app: &TestApp, path: &str) -> TestResult<(usize, String)> {
    let answer = browser
        .client
        .get(app.url(path))
        .header("cookie", browser.cookie_header())
        .header("accept-encoding", "gzip")
        .send()
        .await?;
    assert_eq!(answer.status(), StatusCode::OK, "{path}");
    let encoding = answer
        .headers()
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    Ok((answer.bytes().await?.len(), encoding))
}

async fn the_console_is_gzipped_a_first_load_under_60_kb_and_a_navigation_under_10_kb(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn_with(backend, &[("SUPPORTDESK_OPEN_TICKET_LIMIT", "100")]).await?;
    let category = app.category("Billing")?;
    let carol = app.customer("carol@example.com")?;
    // A full page of the queue (50 rows).
    let mut last = 0;
    for n in 0..50 {
        last = app
            .ticket(
                &carol,
                category,
                &format!("Order {n} arrived damaged, please replace it"),
            )
            .await?;
    }
    app.person("agent@example.com", "agent")?;
    let mut browser = Browser::signed_in(&app, "agent@example.com", "secret-pw").await?;
    let plain = browser.get("/console?view=unassigned").await?;
    let assets: Vec<String> = plain
        .text
        .split("\"/console/assets/")
        .skip(1)
        .filter_map(|rest| rest.split_once('"'))
        .map(|(name, _)| format!("/console/assets/{name}"))
        .collect();
    assert_eq!(assets.len(), 4, "{assets:?}");
    let (html, encoding) = gzipped_size(&browser, &app, "/console?view=unassigned").await?;
    assert_eq!(encoding, "gzip");
    let mut first_load = html;
    for asset in &assets {
        let (size, encoding) = gzipped_size(&browser, &app, asset).await?;
        assert_eq!(encoding, "gzip", "{asset}");
        first_load += size;
    }
    let (ticket_page, encoding) = gzipped_size(
        &browser,
        &app,
        &format!("/console/tickets/{last}?view=unassigned"),
    )
    .await?;
    assert_eq!(encoding, "gzip");
    eprintln!(
        "console: first load (queue of 50 + CSS + JS) {first_load} B gzipped (HTML {html} B); a ticket page after it {ticket_page} B"
    );
    assert!(first_load < 60 * 1024, "first load {first_load} B");
    assert!(ticket_page < 10 * 1024, "navigation {ticket_page} B");
    let (queue_again, _) = gzipped_size(&browser, &app, "/console?view=open").await?;
    assert!(queue_again < 10 * 1024, "navigation {queue_again} B");
    // The event stream is never compressed (it must flush each event).
    let stream = browser
        .client
        .get(app.url("/console/live"))
        .header("cookie", browser.cookie_header())
        .header("accept-encoding", "gzip")
        .send()
        .await?;
    assert!(stream.headers().get("content-encoding").is_none());
    Ok(())
}

on_both_backends!(
    the_queue_filters_name_what_the_view_chooses,
    bulk_changes_apply_to_each_ticked_ticket_and_report_what_is_not_a_ticket,
    the_side_panel_edits_one_field_at_a_time_and_the_tags_editor_adds_and_removes,
    other_staff_see_who_is_viewing_and_replying_live,
    a_live_stream_ends_once_its_session_is_signed_out,
    the_console_is_gzipped_a_first_load_under_60_kb_and_a_navigation_under_10_kb,
);
