//! The agents' side: the queue, a ticket in full, replies, internal notes, changes and events.

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::helpers::{Backend, Person, TestApp, TestResult, send};

fn ids(data: &Value) -> Vec<i64> {
    data["tickets"]
        .as_array()
        .map(|l| l.iter().filter_map(|t| t["id"].as_i64()).collect())
        .unwrap_or_default()
}

/// A desk with two customers' tickets, an agent and two tags.
struct Desk {
    app: TestApp,
    alice: Person,
    agent: Person,
    billing: i64,
    tech: i64,
    urgent: i64,
    tickets: Vec<i64>,
}

async fn desk(backend: Backend) -> TestResult<Desk> {
    let app = TestApp::spawn_with(backend, &[("SUPPORTDESK_OPEN_TICKET_LIMIT", "50")]).await?;
    let alice = app.customer("alice@example.com")?;
    let bob = app.customer("bob@example.com")?;
    let agent = app.person("agent@example.com", "agent")?;
    let billing = app.category("Billing")?;
    let tech = app.category("Tech")?;
    let urgent = app.tag("Urgent")?;
    let mut tickets = Vec::new();
    for i in 0..3 {
        tickets.push(
            app.ticket(&alice, billing, &format!("alice billing {i}"))
                .await?,
        );
        tickets.push(app.ticket(&bob, tech, &format!("bob tech {i}")).await?);
    }
    Ok(Desk {
        app,
        alice,
        agent,
        billing,
        tech,
        urgent,
        tickets,
    })
}

async fn queue(d: &Desk, query: &str) -> TestResult<Value> {
    let answer = send(
        d.app
            .get(&format!("/api/v1/agent/tickets/?{query}"), &d.agent),
    )
    .await?;
    Ok(answer.assert_ok().clone())
}

async fn agent_update(d: &Desk, ticket: i64, form: &[(&str, &str)]) -> TestResult<Value> {
    let answer = send(
        d.app
            .post(&format!("/api/v1/agent/tickets/{ticket}/update/"), &d.agent)
            .form(form),
    )
    .await?;
    Ok(answer.assert_ok().clone())
}

async fn the_queue_lists_every_ticket_filtered_and_sorted(backend: Backend) -> TestResult {
    let d = desk(backend).await?;
    let all = d.tickets.clone();
    let newest_first: Vec<i64> = all.iter().rev().copied().collect();
    assert_eq!(ids(&queue(&d, "").await?), newest_first);
    assert_eq!(ids(&queue(&d, "sort=created").await?), all);

    let by_bob: Vec<i64> = all.iter().copied().skip(1).step_by(2).collect();
    assert_eq!(
        ids(&queue(&d, "author=BOB@example.com&sort=created").await?),
        by_bob
    );
    assert_eq!(
        ids(&queue(&d, &format!("category={}&sort=created", d.tech)).await?),
        by_bob
    );
    assert_eq!(
        ids(&queue(&d, "q=BILLING%201&sort=created").await?),
        vec![all[2]]
    );

    agent_update(
        &d,
        all[0],
        &[
            ("status", "3"),
            ("priority", "3"),
            ("tags", &d.urgent.to_string()),
        ],
    )
    .await?;
    agent_update(&d, all[1], &[("assignee", &d.agent.id.to_string())]).await?;
    assert_eq!(ids(&queue(&d, "status=3").await?), vec![all[0]]);
    assert_eq!(
        ids(&queue(&d, "status=1,2&sort=created").await?),
        all[1..].to_vec()
    );
    // The filters that reach into each status's branch: the author's email (a join of its own
    // there), the category and the subject text. Bob's tickets are the odd ones, all tech.
    let bobs = vec![all[1], all[3], all[5]];
    for filter in [
        "author=bob@example.com".to_owned(),
        format!("category={}", d.tech),
        "q=bob%20tech".to_owned(),
    ] {
        assert_eq!(
            ids(&queue(&d, &format!("status=1,2&sort=created&{filter}")).await?),
            bobs,
            "{filter}"
        );
    }
    assert_eq!(ids(&queue(&d, "priority=3").await?), vec![all[0]]);
    assert_eq!(
        ids(&queue(&d, &format!("tag={}", d.urgent)).await?),
        vec![all[0]]
    );
    assert_eq!(
        ids(&queue(&d, &format!("assignee={}", d.agent.id)).await?),
        vec![all[1]]
    );
    let unassigned = ids(&queue(&d, "assignee=none&sort=created").await?);
    assert!(!unassigned.contains(&all[1]) && unassigned.len() == 5);
    assert_eq!(
        ids(&queue(&d, "sort=-priority&limit=1").await?),
        vec![all[0]]
    );
    assert_eq!(
        ids(&queue(&d, "sort=-updated&limit=2").await?),
        vec![all[1], all[0]]
    );

    let item = &queue(&d, "sort=created&limit=1").await?["tickets"][0];
    assert_eq!(item["author"], "alice@example.com");
    assert_eq!(item["category_title"], "Billing");
    Ok(())
}

/// The ids of every page of the queue for `query`, following each page's cursor.
async fn every_page(d: &Desk, query: &str) -> TestResult<Vec<i64>> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut page = query.to_owned();
        if let Some(c) = &cursor {
            page.push_str(&format!("&cursor={c}"));
        }
        let data = queue(d, &page).await?;
        seen.extend(ids(&data));
        match data["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(seen),
        }
    }
}

async fn the_queue_pages_by_cursor_without_gaps_or_repeats(backend: Backend) -> TestResult {
    let d = desk(backend).await?;
    for sort in ["created", "-created", "priority", "-updated"] {
        let seen = every_page(&d, &format!("sort={sort}&limit=4")).await?;
        let mut sorted = seen.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), seen.len(), "{sort}: no repeats");
        assert_eq!(sorted.len(), d.tickets.len(), "{sort}: nothing missed");
    }

    // Several statuses are read as one ordered branch per status, merged (`store::queue::list`):
    // every sort, paged two at a time, gives exactly the order of the whole desk's listing (one
    // statement) less the closed ticket, over tickets of both statuses and every priority.
    for (i, (status, priority)) in [("2", "3"), ("2", "1"), ("3", "2"), ("1", "3")]
        .into_iter()
        .enumerate()
    {
        agent_update(
            &d,
            d.tickets[i],
            &[("status", status), ("priority", priority)],
        )
        .await?;
    }
    for sort in [
        "created",
        "-created",
        "priority",
        "-priority",
        "-updated",
        "updated",
    ] {
        let whole = queue(&d, &format!("sort={sort}&limit=50")).await?["tickets"].clone();
        let expected: Vec<i64> = whole
            .as_array()
            .map(|l| {
                l.iter()
                    .filter(|t| t["status"] != "3")
                    .filter_map(|t| t["id"].as_i64())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(expected.len(), d.tickets.len() - 1, "{sort}: {whole}");
        let seen = every_page(&d, &format!("status=1,2&sort={sort}&limit=2")).await?;
        assert_eq!(seen, expected, "status=1,2&sort={sort}");
    }
    // A status named twice is still one branch.
    assert_eq!(
        ids(&queue(&d, "status=2,1,2&sort=created&limit=50").await?),
        ids(&queue(&d, "status=1,2&sort=created&limit=50").await?)
    );

    let answer = send(d.app.get(
        "/api/v1/agent/tickets/?sort=created&cursor=updated:1:1",
        &d.agent,
    ))
    .await?;
    answer.assert_errors(400, json!({"cursor": ["Invalid cursor."]}));
    Ok(())
}

async fn bad_queue_parameters_are_all_reported(backend: Backend) -> TestResult {
    let d = desk(backend).await?;
    let answer = send(d.app.get(
        "/api/v1/agent/tickets/?status=4&priority=x&category=a&sort=name&created_after=yesterday&limit=0&assignee=me",
        &d.agent,
    ))
    .await?;
    answer.assert_errors(
        400,
        json!({
            "status": ["\"4\" is not a valid choice."],
            "priority": ["\"x\" is not a valid choice."],
            "category": ["A valid integer is required."],
            "sort": ["\"name\" is not a valid choice."],
            "created_after": ["Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."],
            "limit": ["Ensure this value is greater than or equal to 1."],
            "assignee": ["A valid integer or \"none\" is required."],
        }),
    );
    let data = queue(
        &d,
        "created_after=2000-01-01T00:00:00Z&created_before=2999-01-01T00:00:00%2B02:00",
    )
    .await?;
    assert_eq!(ids(&data).len(), 6);
    let data = queue(&d, "created_before=2000-01-01T00:00:00Z").await?;
    assert!(ids(&data).is_empty());
    Ok(())
}

async fn a_reply_reaches_the_customer_and_a_note_never_does(backend: Backend) -> TestResult {
    let d = desk(backend).await?;
    let ticket = d.tickets[0];
    let reply = Form::new().text("comment", "We refunded you.").part(
        "attachment",
        Part::bytes(b"refund receipt".to_vec())
            .file_name("refund.txt")
            .mime_str("text/plain")?,
    );
    let answer = send(
        d.app
            .post(&format!("/api/v1/agent/tickets/{ticket}/reply/"), &d.agent)
            .multipart(reply),
    )
    .await?;
    assert_eq!(answer.assert_ok()["conversation"]["internal"], false);
    let note = Form::new()
        .text("comment", "SECRET: customer is a known abuser")
        .part(
            "attachment",
            Part::bytes(b"SECRET dossier".to_vec())
                .file_name("dossier.txt")
                .mime_str("text/plain")?,
        );
    let answer = send(
        d.app
            .post(&format!("/api/v1/agent/tickets/{ticket}/note/"), &d.agent)
            .multipart(note),
    )
    .await?;
    assert_eq!(answer.assert_ok()["conversation"]["internal"], true);

    // The agent sees both, and the attachments with their visibility.
    let staff = send(
        d.app
            .get(&format!("/api/v1/agent/tickets/{ticket}/"), &d.agent),
    )
    .await?;
    let data = staff.assert_ok().clone();
    assert_eq!(data["conversations"].as_array().map(Vec::len), Some(2));
    assert_eq!(data["attachments"][0]["internal"], false);
    assert_eq!(data["attachments"][1]["internal"], true);
    let note_attachment = data["attachments"][1]["id"].as_i64().ok_or("no id")?;
    assert_eq!(
        data["ticket"]["status"], "2",
        "the first reply made it Processing"
    );

    // The customer sees the reply and nothing of the note, on every customer endpoint.
    let detail = send(d.app.get(
        &format!("/api/v1/support/ticket/detailed-view/?ticket_id={ticket}"),
        &d.alice,
    ))
    .await?;
    let text = String::from_utf8_lossy(&detail.bytes).into_owned();
    assert!(text.contains("We refunded you."));
    assert!(!text.contains("SECRET"), "{text}");
    assert_eq!(
        detail.assert_ok()["attachments"].as_array().map(Vec::len),
        Some(1)
    );
    for path in [
        "/api/v1/support/get/ticket/history/".to_owned(),
        "/api/v1/support/get/ticket/history/?subject=billing".to_owned(),
        "/api/v1/support/get/category-list/".to_owned(),
        "/api/v1/support/get/ticket/tags/".to_owned(),
    ] {
        let answer = send(d.app.get(&path, &d.alice)).await?;
        assert!(
            !String::from_utf8_lossy(&answer.bytes).contains("SECRET"),
            "{path}"
        );
    }
    let answer = send(
        d.app
            .post("/api/v1/support/ticket/conversation/", &d.alice)
            .form(&[
                ("ticket", ticket.to_string()),
                ("comment", "thanks".to_owned()),
            ]),
    )
    .await?;
    assert!(!String::from_utf8_lossy(&answer.bytes).contains("SECRET"));
    let answer = send(
        d.app
            .post("/api/v1/support/update/ticket/", &d.alice)
            .form(&[
                ("ticket_id", ticket.to_string()),
                ("tags", d.urgent.to_string()),
            ]),
    )
    .await?;
    assert!(!String::from_utf8_lossy(&answer.bytes).contains("SECRET"));
    let answer = send(
        d.app
            .post("/api/v1/support/ticket/status/", &d.alice)
            .form(&[("ticket", ticket.to_string()), ("status", "3".to_owned())]),
    )
    .await?;
    assert!(!String::from_utf8_lossy(&answer.bytes).contains("SECRET"));
    let answer = send(d.app.get(
        &format!("/api/v1/support/ticket/download/{note_attachment}/"),
        &d.alice,
    ))
    .await?;
    answer.assert_errors(404, json!({"detail": ["Not found."]}));
    // Staff may download it.
    let answer = send(d.app.get(
        &format!("/api/v1/support/ticket/download/{note_attachment}/"),
        &d.agent,
    ))
    .await?;
    assert_eq!(answer.bytes, b"SECRET dossier");
    Ok(())
}

async fn every_change_is_recorded_as_an_event(backend: Backend) -> TestResult {
    let d = desk(backend).await?;
    let ticket = d.tickets[0];
    let agent = d.agent.id;
    agent_update(
        &d,
        ticket,
        &[
            ("status", "2"),
            ("priority", "1"),
            ("category", &d.tech.to_string()),
            ("tags", &d.urgent.to_string()),
            ("assignee", &agent.to_string()),
        ],
    )
    .await?;
    agent_update(&d, ticket, &[("assignee", ""), ("tags", "")]).await?;
    send(
        d.app
            .post(&format!("/api/v1/agent/tickets/{ticket}/note/"), &d.agent)
            .form(&[("comment", "looked at it")]),
    )
    .await?
    .assert_ok();
    send(
        d.app
            .post("/api/v1/support/ticket/status/", &d.alice)
            .form(&[("ticket", ticket.to_string()), ("status", "3".to_owned())]),
    )
    .await?
    .assert_ok();

    let data = send(
        d.app
            .get(&format!("/api/v1/agent/tickets/{ticket}"), &d.agent),
    )
    .await?
    .assert_ok()
    .clone();
    let events: Vec<(String, String, Value, Value)> = data["events"]
        .as_array()
        .ok_or("no events")?
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap_or_default().to_owned(),
                e["kind"].as_str().unwrap_or_default().to_owned(),
                e["from"].clone(),
                e["to"].clone(),
            )
        })
        .collect();
    let agent_email = "agent@example.com".to_owned();
    let alice = "alice@example.com".to_owned();
    let expected = vec![
        (
            alice.clone(),
            "created".to_owned(),
            json!(null),
            json!(null),
        ),
        (
            agent_email.clone(),
            "status".to_owned(),
            json!("1"),
            json!("2"),
        ),
        (
            agent_email.clone(),
            "priority".to_owned(),
            json!("2"),
            json!("1"),
        ),
        (
            agent_email.clone(),
            "category".to_owned(),
            json!(d.billing.to_string()),
            json!(d.tech.to_string()),
        ),
        (
            agent_email.clone(),
            "tags".to_owned(),
            json!(""),
            json!(d.urgent.to_string()),
        ),
        (
            agent_email.clone(),
            "assignee".to_owned(),
            json!(null),
            json!(agent.to_string()),
        ),
        (
            agent_email.clone(),
            "tags".to_owned(),
            json!(d.urgent.to_string()),
            json!(""),
        ),
        (
            agent_email.clone(),
            "assignee".to_owned(),
            json!(agent.to_string()),
            json!(null),
        ),
        (
            agent_email.clone(),
            "note".to_owned(),
            json!(null),
            data["conversations"][0]["id"].to_string().into(),
        ),
        (alice.clone(), "status".to_owned(), json!("2"), json!("3")),
    ];
    assert_eq!(events, expected);
    assert!(
        data["events"][0]["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    Ok(())
}

async fn agent_updates_are_validated(backend: Backend) -> TestResult {
    let d = desk(backend).await?;
    let ticket = d.tickets[0];
    let answer = send(
        d.app
            .post(&format!("/api/v1/agent/tickets/{ticket}/update/"), &d.agent)
            .form(&[
                ("status", "9"),
                ("priority", ""),
                ("category", "777"),
                ("tags", "x"),
                ("assignee", d.alice.email.as_str()),
            ]),
    )
    .await?;
    answer.assert_errors(
        400,
        json!({
            "status": ["\"9\" is not a valid choice."],
            "priority": ["\"\" is not a valid choice."],
            "category": ["Invalid pk \"777\" - object does not exist."],
            "tags": ["Incorrect type. Expected pk value, received str."],
            "assignee": ["Incorrect type. Expected pk value, received str."],
        }),
    );
    // A customer cannot be assigned.
    let answer = send(
        d.app
            .post(&format!("/api/v1/agent/tickets/{ticket}/update/"), &d.agent)
            .form(&[("assignee", "2")]),
    )
    .await?;
    answer.assert_errors(
        400,
        json!({"assignee": ["Invalid pk \"2\" - object does not exist."]}),
    );
    for path in ["/api/v1/agent/tickets/999/", "/api/v1/agent/tickets/abc/"] {
        let answer = send(d.app.get(path, &d.agent)).await?;
        answer.assert_errors(404, json!({"detail": ["Not found."]}));
    }
    let answer = send(
        d.app
            .post("/api/v1/agent/tickets/999/reply/", &d.agent)
            .form(&[("comment", "x")]),
    )
    .await?;
    answer.assert_errors(404, json!({"detail": ["Not found."]}));
    let answer = send(
        d.app
            .post(&format!("/api/v1/agent/tickets/{ticket}/reply/"), &d.agent)
            .form(&[("comment", " ")]),
    )
    .await?;
    answer.assert_errors(400, json!({"comment": ["This field may not be blank."]}));
    Ok(())
}

on_both_backends!(
    the_queue_lists_every_ticket_filtered_and_sorted,
    the_queue_pages_by_cursor_without_gaps_or_repeats,
    bad_queue_parameters_are_all_reported,
    a_reply_reaches_the_customer_and_a_note_never_does,
    every_change_is_recorded_as_an_event,
    agent_updates_are_validated,
);
