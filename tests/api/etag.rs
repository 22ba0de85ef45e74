//! Polling clients: history and the detailed view answer 304 while nothing changed.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, TestApp, TestResult, send};

async fn history_and_detail_revalidate_with_etags(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let mallory = app.customer("mallory@example.com")?;
    let admin = app.person("boss@example.com", "admin")?;
    let category = app.category("Billing")?;
    let ticket = app.ticket(&alice, category, "Polled").await?;

    let history = "/api/v1/support/get/ticket/history/";
    let first = send(app.get(history, &alice)).await?;
    first.assert_ok();
    let etag = first.headers["etag"].to_str()?.to_owned();
    assert!(etag.starts_with("W/\""));
    let again = send(app.get(history, &alice).header("if-none-match", &etag)).await?;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.bytes.is_empty());
    // Another filter is another representation.
    let filtered = send(
        app.get(&format!("{history}?status=1"), &alice)
            .header("if-none-match", &etag),
    )
    .await?;
    assert_eq!(filtered.status, StatusCode::OK);

    let detail = format!("/api/v1/support/ticket/detailed-view/?ticket_id={ticket}");
    let first_detail = send(app.get(&detail, &alice)).await?;
    let detail_etag = first_detail.headers["etag"].to_str()?.to_owned();
    assert_eq!(
        send(
            app.get(&detail, &alice)
                .header("if-none-match", &detail_etag)
        )
        .await?
        .status,
        StatusCode::NOT_MODIFIED
    );
    // Someone else's ticket: the ownership message, never a 304.
    let foreign = send(
        app.get(&detail, &mallory)
            .header("if-none-match", &detail_etag),
    )
    .await?;
    foreign.assert_errors(
        400,
        json!({"ticket": ["You are not the owner of the requested ticket."]}),
    );

    // A staff reply changes both.
    send(
        app.post(&format!("/api/v1/agent/tickets/{ticket}/reply/"), &admin)
            .form(&[("comment", "On it")]),
    )
    .await?
    .assert_ok();
    let changed = send(
        app.get(&detail, &alice)
            .header("if-none-match", &detail_etag),
    )
    .await?;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(changed.body["data"]["conversations"][0]["comment"], "On it");
    let changed = send(app.get(history, &alice).header("if-none-match", &etag)).await?;
    assert_eq!(changed.status, StatusCode::OK);
    let etag = changed.headers["etag"].to_str()?.to_owned();

    // Renaming a category changes the history, which shows its name.
    send(
        app.post(&format!("/api/v1/admin/categories/{category}/"), &admin)
            .form(&[("category", "Payments")]),
    )
    .await?
    .assert_ok();
    let renamed = send(app.get(history, &alice).header("if-none-match", &etag)).await?;
    assert_eq!(renamed.status, StatusCode::OK);
    assert_eq!(
        renamed.body["data"]["TicketList"][0]["category_title"],
        "Payments"
    );
    Ok(())
}

on_both_backends!(history_and_detail_revalidate_with_etags);
