//! Endpoint 8: adding to the conversation of one's own ticket.

use reqwest::multipart::{Form, Part};
use serde_json::json;

use crate::helpers::{Backend, TestApp, TestResult, send};

const CONVERSATION: &str = "/api/v1/support/ticket/conversation/";

async fn a_comment_with_an_attachment_is_added_and_answered(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Billing")?;
    let ticket = app.ticket(&alice, category, "Chat").await?;
    let form = Form::new()
        .text("ticket", ticket.to_string())
        .text("comment", "  here is the log  ")
        .part(
            "attachment",
            Part::bytes(b"log line".to_vec())
                .file_name("log.txt")
                .mime_str("text/plain")?,
        );
    let answer = send(app.post(CONVERSATION, &alice).multipart(form)).await?;
    let conversation = answer.assert_ok()["conversation"].clone();
    assert_eq!(conversation["ticket"], ticket);
    assert_eq!(conversation["comment"], "here is the log");
    assert_eq!(conversation["author"], alice.email.as_str());

    let detail = send(app.get(
        &format!("/api/v1/support/ticket/detailed-view/?ticket_id={ticket}"),
        &alice,
    ))
    .await?;
    let data = detail.assert_ok();
    assert_eq!(data["conversations"][0]["id"], conversation["id"]);
    assert_eq!(
        data["attachments"][0]["conversation_id"],
        conversation["id"]
    );
    assert_eq!(data["attachments"][0]["filename"], "log.txt");
    assert!(data["ticket"]["updated_at"].as_str() > data["ticket"]["created_at"].as_str());
    Ok(())
}

async fn conversation_reports_the_documents_messages(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let bob = app.customer("bob@example.com")?;
    let category = app.category("Billing")?;
    let ticket = app.ticket(&alice, category, "Mine").await?.to_string();

    let answer = send(app.post(CONVERSATION, &alice).form(&[("x", "y")])).await?;
    answer.assert_errors(
        400,
        json!({"ticket": ["This field is required."], "comment": ["This field is required."]}),
    );
    let answer = send(
        app.post(CONVERSATION, &alice)
            .form(&[("ticket", ""), ("comment", " ")]),
    )
    .await?;
    answer.assert_errors(400, json!({"ticket": ["This field may not be null."], "comment": ["This field may not be blank."]}));
    let answer = send(
        app.post(CONVERSATION, &alice)
            .json(&json!({"ticket": null, "comment": "c"})),
    )
    .await?;
    answer.assert_errors(400, json!({"ticket": ["This field may not be null."]}));
    let answer = send(
        app.post(CONVERSATION, &alice)
            .form(&[("ticket", "abc"), ("comment", "c")]),
    )
    .await?;
    answer.assert_errors(
        400,
        json!({"ticket": ["Incorrect type. Expected pk value, received str."]}),
    );
    let answer = send(
        app.post(CONVERSATION, &alice)
            .form(&[("ticket", "5555"), ("comment", "c")]),
    )
    .await?;
    answer.assert_errors(
        400,
        json!({"ticket": ["Invalid pk \"5555\" - object does not exist."]}),
    );
    let answer = send(
        app.post(CONVERSATION, &bob)
            .form(&[("ticket", ticket.as_str()), ("comment", "c")]),
    )
    .await?;
    answer.assert_errors(
        400,
        json!({"ticket": ["You are not the owner of the requested ticket."]}),
    );
    let form = Form::new()
        .text("ticket", ticket.clone())
        .text("comment", "big")
        .part(
            "attachment",
            Part::bytes(vec![0u8; 2 * 1024 * 1024 + 1]).file_name("big.bin"),
        );
    let answer = send(app.post(CONVERSATION, &alice).multipart(form)).await?;
    answer.assert_errors(
        400,
        json!({"attachment": ["File is too big. Max filesize: 2MiB."]}),
    );

    let detail = send(app.get(
        &format!("/api/v1/support/ticket/detailed-view/?ticket_id={ticket}"),
        &alice,
    ))
    .await?;
    assert_eq!(
        detail.assert_ok()["conversations"],
        json!([]),
        "nothing was added"
    );
    Ok(())
}

on_both_backends!(
    a_comment_with_an_attachment_is_added_and_answered,
    conversation_reports_the_documents_messages,
);
