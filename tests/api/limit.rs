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

/// Staff move tickets between open and closed without the limit (it binds customers), and the
/// customer's room follows: the count the limit reads is kept by every status change, not
/// recounted.
async fn staff_status_changes_move_the_customers_room(backend: Backend) -> TestResult {
    let app = TestApp::spawn_with(backend, &[("SUPPORTDESK_OPEN_TICKET_LIMIT", "2")]).await?;
    let alice = app.customer("alice@example.com")?;
    let agent = app.person("agent@example.com", "agent")?;
    let category = app.category("Billing")?;
    let staff_status = |ticket: i64, status: &'static str| {
        send(
            app.post(&format!("/api/v1/agent/tickets/{ticket}/update/"), &agent)
                .form(&[("status", status)]),
        )
    };
    let first = app.ticket(&alice, category, "first").await?;
    let second = app.ticket(&alice, category, "second").await?;
    let refused = |answer: crate::helpers::Answer| {
        answer.assert_errors(401, json!({"detail": [LIMIT_MESSAGE]}));
    };
    refused(send(app.create_request(&alice, category, "third")).await?);

    // Open -> processing leaves the count alone; closing makes room.
    staff_status(first, "2").await?.assert_ok();
    refused(send(app.create_request(&alice, category, "third")).await?);
    staff_status(first, "3").await?.assert_ok();
    let third = app.ticket(&alice, category, "third").await?;
    refused(send(app.create_request(&alice, category, "fourth")).await?);

    // Staff reopen past the limit; the customer then needs two closed to file one more.
    staff_status(first, "1").await?.assert_ok();
    staff_status(second, "3").await?.assert_ok();
    refused(send(app.create_request(&alice, category, "fourth")).await?);
    // Closing a closed ticket changes nothing, so it cannot make room twice.
    staff_status(second, "3").await?.assert_ok();
    refused(send(app.create_request(&alice, category, "fourth")).await?);
    staff_status(third, "3").await?.assert_ok();
    app.ticket(&alice, category, "fourth").await?;

    let open = send(app.get("/api/v1/support/get/ticket/history/?status=1", &alice)).await?;
    let processing = send(app.get("/api/v1/support/get/ticket/history/?status=2", &alice)).await?;
    assert_eq!(
        open.assert_ok()["count"].as_i64().unwrap_or(-1)
            + processing.assert_ok()["count"].as_i64().unwrap_or(-1),
        2
    );
    Ok(())
}

/// A desk from before the open count: the migration that adds it counts each person's open
/// tickets, so the limit holds from the first create after the upgrade.
async fn the_open_count_migration_counts_existing_tickets(backend: Backend) -> TestResult {
    let app =
        TestApp::spawn_process_with(backend, &[("SUPPORTDESK_OPEN_TICKET_LIMIT", "3")]).await?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Billing")?;
    let first = app.ticket(&alice, category, "first").await?;
    app.ticket(&alice, category, "second").await?;
    app.ticket(&alice, category, "third").await?;
    send(
        app.post("/api/v1/support/ticket/status/", &alice)
            .form(&[("ticket", first.to_string()), ("status", "3".to_owned())]),
    )
    .await?
    .assert_ok();
    // Back to the schema before version 17, then forward again.
    app.with_db(|db| async move {
        for sql in [
            "ALTER TABLE users DROP COLUMN open_count",
            "DELETE FROM _sqlx_migrations WHERE version = 17",
        ] {
            sqlx::query(sql).execute(db.pool()).await?;
        }
        Ok(())
    })?;
    app.cli_ok(&["migrate"])?;
    app.ticket(&alice, category, "fourth").await?;
    let answer = send(app.create_request(&alice, category, "fifth")).await?;
    answer.assert_errors(401, json!({"detail": [LIMIT_MESSAGE]}));
    Ok(())
}

on_both_backends!(
    the_open_count_migration_counts_existing_tickets,
    staff_status_changes_move_the_customers_room,
    creating_past_the_limit_answers_401_and_stores_nothing,
    reopening_by_status_or_by_comment_counts_against_the_limit,
    concurrent_creates_never_exceed_the_limit,
);
