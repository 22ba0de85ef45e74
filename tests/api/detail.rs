//! Endpoint 6: the detailed view, its `ticket_id` from the query or a GET body.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, TestApp, TestResult, send};

const DETAIL: &str = "/api/v1/support/ticket/detailed-view/";

async fn the_ticket_id_is_read_from_the_query_or_any_kind_of_get_body(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Billing")?;
    let ticket = app.ticket(&alice, category, "Detail").await?;
    let id = ticket.to_string();

    let by_query = send(app.get(&format!("{DETAIL}?ticket_id={id}"), &alice)).await?;
    let by_multipart = send(
        app.get(DETAIL, &alice)
            .multipart(reqwest::multipart::Form::new().text("ticket_id", id.clone())),
    )
    .await?;
    let by_form = send(app.get(DETAIL, &alice).form(&[("ticket_id", id.as_str())])).await?;
    let by_json = send(app.get(DETAIL, &alice).json(&json!({"ticket_id": ticket}))).await?;
    for answer in [&by_query, &by_multipart, &by_form, &by_json] {
        let data = answer.assert_ok();
        assert_eq!(data["ticket"]["id"], ticket);
        assert_eq!(data, by_query.assert_ok());
    }
    let data = by_query.assert_ok();
    assert_eq!(data["author"], "alice@example.com");
    assert_eq!(data["conversations"], json!([]));
    assert_eq!(data["attachments"], json!([]));
    assert_eq!(data["ticket"]["tags"], json!([]));
    assert_eq!(data["ticket"]["status"], "1");
    Ok(())
}

async fn conversations_are_listed_oldest_first(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Billing")?;
    let ticket = app.ticket(&alice, category, "Chat").await?;
    for text in ["first", "second", "third"] {
        send(
            app.post("/api/v1/support/ticket/conversation/", &alice)
                .form(&[("ticket", ticket.to_string()), ("comment", text.to_owned())]),
        )
        .await?
        .assert_ok();
    }
    let data = send(app.get(&format!("{DETAIL}?ticket_id={ticket}"), &alice))
        .await?
        .assert_ok()
        .clone();
    let comments: Vec<&str> = data["conversations"]
        .as_array()
        .ok_or("no list")?
        .iter()
        .filter_map(|c| c["comment"].as_str())
        .collect();
    assert_eq!(comments, ["first", "second", "third"]);
    let first = &data["conversations"][0];
    assert_eq!(first["ticket"], ticket);
    assert_eq!(first["author"], "alice@example.com");
    assert!(
        first["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    Ok(())
}

async fn detail_reports_missing_invalid_and_foreign_ticket_ids(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let mallory = app.customer("mallory@example.com")?;
    let category = app.category("Billing")?;
    let ticket = app.ticket(&alice, category, "Private").await?;

    let answer = send(app.get(DETAIL, &alice)).await?;
    answer.assert_errors(
        400,
        json!({"ticket": ["Ticket id is required and this may not be blank."]}),
    );
    let answer = send(app.get(&format!("{DETAIL}?ticket_id="), &alice)).await?;
    answer.assert_errors(
        400,
        json!({"ticket": ["Ticket id is required and this may not be blank."]}),
    );
    for bad in ["abc", "0", "424242"] {
        let answer = send(app.get(&format!("{DETAIL}?ticket_id={bad}"), &alice)).await?;
        answer.assert_errors(400, json!({"ticket": ["Ticket id is not valid."]}));
    }
    let answer = send(app.get(&format!("{DETAIL}?ticket_id={ticket}"), &mallory)).await?;
    answer.assert_errors(
        400,
        json!({"ticket": ["You are not the owner of the requested ticket."]}),
    );
    assert!(!String::from_utf8_lossy(&answer.bytes).contains("Private"));

    // Staff see tickets through the staff routes, not this one.
    let agent = app.person("agent@example.com", "agent")?;
    let answer = send(app.request(
        Method::GET,
        &format!("{DETAIL}?ticket_id={ticket}"),
        Some(&agent),
    ))
    .await?;
    answer.assert_errors(
        400,
        json!({"ticket": ["You are not the owner of the requested ticket."]}),
    );
    Ok(())
}

on_both_backends!(
    the_ticket_id_is_read_from_the_query_or_any_kind_of_get_body,
    conversations_are_listed_oldest_first,
    detail_reports_missing_invalid_and_foreign_ticket_ids,
);
