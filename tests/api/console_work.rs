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
    let agent = app.person("agent@example.com", "agent")?;
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
    assert_eq!(all.text.matches("form=\"bulk\" aria-label=\"Select #").count(), 3);
    assert_eq!(all.text.matches(" checked>").count(), 4, "three rows and the header");
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
    assert!(mixed.text.contains("1 ticket changed; 2 not changed"), "{}", mixed.text);
    assert!(mixed.text.contains("<strong>#999999</strong>: No such ticket."));
    assert!(mixed.text.contains("<strong>abc&#60;b&#62;</strong>: Not a ticket number."));
    let page = browser.get(&format!("/console/tickets/{first}")).await?;
    assert!(page.text.contains("assigned to other@example.com"));
    assert!(page.text.contains("<span class=\"badge processing\">Processing</span>"));

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
        (vec![("csrf", csrf.as_str()), ("status", "3")], StatusCode::BAD_REQUEST),
        (vec![("csrf", csrf.as_str()), ("ticket", a.as_str())], StatusCode::BAD_REQUEST),
        (vec![("ticket", a.as_str()), ("status", "3")], StatusCode::FORBIDDEN),
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
    let _ = agent;
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
    assert!(page.text.contains("<span class=\"tag\">&#60;b&#62;VIP&#60;/b&#62;</span>"));
    assert!(page.text.contains(&format!("name=\"remove\" value=\"{urgent}\"")));
    // Adding one already there changes nothing; removing one.
    browser
        .post(&tags, &[("csrf", &csrf), ("add", &vip.to_string())])
        .await?;
    let answer = browser
        .post(
            &tags,
            &[("csrf", &csrf), ("add", ""), ("remove", &urgent.to_string())],
        )
        .await?;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let page = browser.get(&path).await?;
    assert!(!page.text.contains("<span class=\"tag\">Urgent</span>"));
    assert_eq!(page.text.matches("&#60;b&#62;VIP&#60;/b&#62;</span>").count(), 2, "meta and panel");
    // Bad input: a clear 400, never a 500; without the token, 403.
    for (form, status) in [
        (vec![("csrf", csrf.as_str()), ("add", "nope")], StatusCode::BAD_REQUEST),
        (vec![("csrf", csrf.as_str()), ("add", "999999")], StatusCode::BAD_REQUEST),
        (vec![("csrf", csrf.as_str())], StatusCode::BAD_REQUEST),
        (vec![("add", "1")], StatusCode::FORBIDDEN),
    ] {
        let answer = browser.post(&tags, &form).await?;
        assert_eq!(answer.status, status, "{form:?}: {}", answer.text);
    }
    assert_eq!(
        browser
            .post("/console/tickets/999999/tags", &[("csrf", &csrf), ("add", "1")])
            .await?
            .status,
        StatusCode::NOT_FOUND
    );
    Ok(())
}

on_both_backends!(
    the_queue_filters_name_what_the_view_chooses,
    bulk_changes_apply_to_each_ticked_ticket_and_report_what_is_not_a_ticket,
    the_side_panel_edits_one_field_at_a_time_and_the_tags_editor_adds_and_removes,
);
