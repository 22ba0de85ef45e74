//! Endpoint 3: a person's own tickets, newest first, filtered and paged.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestResult, send};

const HISTORY: &str = "/api/v1/support/get/ticket/history/";

fn ids(data: &Value) -> Vec<i64> {
    data["TicketList"]
        .as_array()
        .map(|l| l.iter().filter_map(|t| t["id"].as_i64()).collect())
        .unwrap_or_default()
}

async fn history_lists_only_the_callers_tickets_newest_first_with_a_count(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn_with(backend, &[("SUPPORTDESK_OPEN_TICKET_LIMIT", "100")]).await?;
    let alice = app.customer("alice@example.com")?;
    let bob = app.customer("bob@example.com")?;
    let category = app.category("Billing")?;
    let mut mine = Vec::new();
    for i in 0..3 {
        mine.push(app.ticket(&alice, category, &format!("mine {i}")).await?);
        app.ticket(&bob, category, &format!("his {i}")).await?;
    }
    let answer = send(app.get(HISTORY, &alice)).await?;
    let data = answer.assert_ok();
    mine.reverse();
    assert_eq!(ids(data), mine);
    assert_eq!(data["count"], 3);
    let first = &data["TicketList"][0];
    for key in [
        "id",
        "subject",
        "priority",
        "category",
        "category_title",
        "comment",
        "status",
        "created_at",
        "updated_at",
    ] {
        assert!(first.get(key).is_some(), "history item lacks {key}");
    }
    assert!(
        first["priority"].is_string() && first["status"].is_string() && first["category"].is_i64()
    );
    Ok(())
}

async fn history_pages_with_offset_and_limit_and_defaults_to_50(backend: Backend) -> TestResult {
    let app = TestApp::spawn_with(backend, &[("SUPPORTDESK_OPEN_TICKET_LIMIT", "1000")]).await?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Billing")?;
    let mut all = Vec::new();
    for i in 0..55 {
        all.push(app.ticket(&alice, category, &format!("t{i}")).await?);
    }
    all.reverse();
    let data = send(app.get(HISTORY, &alice)).await?.assert_ok().clone();
    assert_eq!(ids(&data), all[..50].to_vec());
    assert_eq!(data["count"], 55);

    let data = send(app.get(&format!("{HISTORY}?offset=10&limit=5"), &alice))
        .await?
        .assert_ok()
        .clone();
    assert_eq!(ids(&data), all[10..15].to_vec());
    assert_eq!(data["count"], 55, "count ignores offset and limit");

    let data = send(app.get(&format!("{HISTORY}?offset=50&limit=5000"), &alice))
        .await?
        .assert_ok()
        .clone();
    assert_eq!(ids(&data), all[50..].to_vec());
    let data = send(app.get(&format!("{HISTORY}?offset=900"), &alice))
        .await?
        .assert_ok()
        .clone();
    assert!(ids(&data).is_empty());
    let data = send(app.get(&format!("{HISTORY}?offset=&limit="), &alice))
        .await?
        .assert_ok()
        .clone();
    assert_eq!(ids(&data).len(), 50, "empty values count as absent");
    Ok(())
}

async fn history_filters_by_subject_category_and_status(backend: Backend) -> TestResult {
    let app = TestApp::spawn_with(backend, &[("SUPPORTDESK_OPEN_TICKET_LIMIT", "100")]).await?;
    let alice = app.customer("alice@example.com")?;
    let billing = app.category("Billing")?;
    let tech = app.category("Tech")?;
    let a = app
        .ticket(&alice, billing, "Ärger mit der Rechnung")
        .await?;
    let b = app.ticket(&alice, tech, "Printer on FIRE").await?;
    let c = app.ticket(&alice, tech, "100% broken_thing").await?;
    send(
        app.post("/api/v1/support/ticket/status/", &alice)
            .form(&[("ticket", b.to_string()), ("status", "3".to_owned())]),
    )
    .await?
    .assert_ok();

    let cases: Vec<(String, Vec<i64>)> = vec![
        ("subject=%C3%A4RGER".to_owned(), vec![a]),
        ("subject=fire".to_owned(), vec![b]),
        ("subject=%25".to_owned(), vec![c]),
        ("subject=_".to_owned(), vec![c]),
        ("subject=nothing".to_owned(), vec![]),
        (format!("category={tech}"), vec![c, b]),
        (format!("category={billing}"), vec![a]),
        ("status=3".to_owned(), vec![b]),
        ("status=1".to_owned(), vec![c, a]),
        (format!("status=1&category={tech}"), vec![c]),
        ("category=999".to_owned(), vec![]),
        ("status=-1".to_owned(), vec![]),
    ];
    for (query, expected) in cases {
        let data = send(app.get(&format!("{HISTORY}?{query}"), &alice))
            .await?
            .assert_ok()
            .clone();
        assert_eq!(ids(&data), expected, "query {query}");
        assert_eq!(data["count"], expected.len(), "query {query}");
    }
    Ok(())
}

async fn bad_history_parameters_are_all_reported(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let answer = send(app.get(
        &format!("{HISTORY}?category=abc&status=1.5&offset=x&limit=0"),
        &alice,
    ))
    .await?;
    answer.assert_errors(
        400,
        json!({
            "category": ["Category id is not valid numeric."],
            "status": ["Status id is not valid numeric."],
            "offset": ["A valid integer is required."],
            "limit": ["Ensure this value is greater than or equal to 1."],
        }),
    );
    let answer = send(app.get(
        &format!("{HISTORY}?offset=-1&limit=abc&category=99999999999999999999"),
        &alice,
    ))
    .await?;
    answer.assert_errors(
        400,
        json!({
            "offset": ["Ensure this value is greater than or equal to 0."],
            "limit": ["A valid integer is required."],
            "category": ["Category id is not valid numeric."],
        }),
    );
    Ok(())
}

/// The unfiltered count comes from a counter the create transaction keeps; a create the
/// open-ticket limit refuses must not move it, and concurrent creates must all count.
async fn the_count_stays_exact_through_concurrent_and_refused_creates(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn_with(backend, &[("SUPPORTDESK_OPEN_TICKET_LIMIT", "12")]).await?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Billing")?;
    let mut tasks = Vec::new();
    for i in 0..20 {
        tasks.push(tokio::spawn(send(app.create_request(
            &alice,
            category,
            &format!("race {i}"),
        ))));
    }
    let mut created = 0;
    for task in tasks {
        if task.await??.status == 200 {
            created += 1;
        }
    }
    assert_eq!(created, 12, "the limit held");
    let data = send(app.get(HISTORY, &alice)).await?;
    let data = data.assert_ok();
    assert_eq!(data["count"], 12);
    assert_eq!(ids(data).len(), 12);
    // The filtered count (counted by the database) agrees with the counter.
    let open = send(app.get(&format!("{HISTORY}?status=1"), &alice)).await?;
    assert_eq!(open.assert_ok()["count"], 12);
    Ok(())
}

on_both_backends!(
    the_count_stays_exact_through_concurrent_and_refused_creates,
    history_lists_only_the_callers_tickets_newest_first_with_a_count,
    history_pages_with_offset_and_limit_and_defaults_to_50,
    history_filters_by_subject_category_and_status,
    bad_history_parameters_are_all_reported,
);
