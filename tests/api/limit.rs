//! Contract section 6: the open-ticket limit, on create and on reopening, under concurrency.

use serde_json::json;

use crate::helpers::{Backend, TestApp, TestResult, send};

const LIMIT_MESSAGE: &str = "Currently Open Ticket Limit Exceed.";

async fn creating_past_the_limit_answers_401_and_stores_nothing(backend: Backend) -> TestResult {
    let app = TestApp::spawn_with(backend, &[("SUPPORTDESK_OPEN_TICKET_LIMIT", "2")]).await?;
    let alice = app.customer("alice@example.com")?;
    let bob = app.customer("bob@example.com")?;
    let category = app.category("Billing")?;
    app.ticket(&alice, category, "one").await?;
    app.ticket(&alice, category, "two").await?;
    let form = reqwest::multipart::Form::new()
        .text("subject", "three")
        .text("priority", "1")
        .text("comment", "c")
        .text("category", category.to_string())
        .part(
            "attachment",
            reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("x.txt"),
        );
    let answer = send(
        app.post("/api/v1/support/create/ticket/", &alice)
            .multipart(form),
    )
    .await?;
    answer.assert_errors(401, json!({"detail": [LIMIT_MESSAGE]}));
    // Field errors come first.
    let answer = send(
        app.post("/api/v1/support/create/ticket/", &alice)
            .form(&[("subject", "")]),
    )
    .await?;
    assert_eq!(answer.status, 400);

    let history = send(app.get("/api/v1/support/get/ticket/history/", &alice)).await?;
    assert_eq!(history.assert_ok()["count"], 2);
    // The limit is per person.
    app.ticket(&bob, category, "bob's").await?;
    Ok(())
}

async fn reopening_by_status_or_by_comment_counts_against_the_limit(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn_with(backend, &[("SUPPORTDESK_OPEN_TICKET_LIMIT", "1")]).await?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Billing")?;
    let first = app.ticket(&alice, category, "first").await?.to_string();
    send(
        app.post("/api/v1/support/ticket/status/", &alice)
            .form(&[("ticket", first.as_str()), ("status", "3")]),
    )
    .await?
    .assert_ok();
    let second = app.ticket(&alice, category, "second").await?;

    let answer = send(
        app.post("/api/v1/support/ticket/status/", &alice)
            .form(&[("ticket", first.as_str()), ("status", "2")]),
    )
    .await?;
    answer.assert_errors(401, json!({"detail": [LIMIT_MESSAGE]}));
    let answer = send(
        app.post("/api/v1/support/ticket/conversation/", &alice)
            .form(&[("ticket", first.as_str()), ("comment", "hello?")]),
    )
    .await?;
    answer.assert_errors(401, json!({"detail": [LIMIT_MESSAGE]}));
    let detail = send(app.get(
        &format!("/api/v1/support/ticket/detailed-view/?ticket_id={first}"),
        &alice,
    ))
    .await?;
    let data = detail.assert_ok();
    assert_eq!(data["ticket"]["status"], "3");
    assert_eq!(
        data["conversations"],
        json!([]),
        "the refused comment was not stored"
    );

    // With room again, a comment on the closed ticket reopens it to Processing.
    send(
        app.post("/api/v1/support/ticket/status/", &alice)
            .form(&[("ticket", second.to_string()), ("status", "3".to_owned())]),
    )
    .await?
    .assert_ok();
    send(
        app.post("/api/v1/support/ticket/conversation/", &alice)
            .form(&[("ticket", first.as_str()), ("comment", "hello?")]),
    )
    .await?
    .assert_ok();
    let detail = send(app.get(
        &format!("/api/v1/support/ticket/detailed-view/?ticket_id={first}"),
        &alice,
    ))
    .await?;
    assert_eq!(detail.assert_ok()["ticket"]["status"], "2");
    Ok(())
}

async fn concurrent_creates_never_exceed_the_limit(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Billing")?;
    for i in 0..4 {
        app.ticket(&alice, category, &format!("before {i}")).await?;
    }
    let mut tasks = Vec::new();
    for i in 0..24 {
        let request = app.create_request(&alice, category, &format!("race {i}"));
        tasks.push(tokio::spawn(send(request)));
    }
    let mut created = 0;
    let mut refused = 0;
    for task in tasks {
        let answer = task.await??;
        match answer.status.as_u16() {
            200 => created += 1,
            401 => {
                answer.assert_errors(401, json!({"detail": [LIMIT_MESSAGE]}));
                refused += 1;
            }
            other => return Err(format!("unexpected {other}: {}", answer.body).into()),
        }
    }
    assert_eq!((created, refused), (1, 23));
    let history = send(app.get("/api/v1/support/get/ticket/history/?status=1", &alice)).await?;
    assert_eq!(history.assert_ok()["count"], 5);
    Ok(())
}

on_both_backends!(
    creating_past_the_limit_answers_401_and_stores_nothing,
    reopening_by_status_or_by_comment_counts_against_the_limit,
    concurrent_creates_never_exceed_the_limit,
);
