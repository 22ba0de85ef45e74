//! Notifications: every notifying ticket change writes its outbox row in its own transaction,
//! and the dispatcher of the serving process handles each row.

use std::time::Duration;

use crate::helpers::{Backend, TestApp, TestResult, send};

/// The outbox's rows by state, as `/metrics` shows them: (pending, delivered).
async fn outbox(app: &TestApp) -> TestResult<(i64, i64)> {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let read = |state: &str| -> TestResult<i64> {
        let prefix = format!("supportdesk_outbox_rows{{state=\"{state}\"}} ");
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .ok_or_else(|| format!("no {state} line in {text}"))?;
        Ok(line.trim().parse()?)
    };
    Ok((read("pending")?, read("delivered")?))
}

/// Waits until nothing is pending (or a few seconds have passed); answers the last reading.
async fn drained(app: &TestApp) -> TestResult<(i64, i64)> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let now = outbox(app).await?;
        if now.0 == 0 || std::time::Instant::now() >= deadline {
            return Ok(now);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn each_change_is_dispatched_once_and_a_refused_write_leaves_no_row(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn_with(
        backend,
        &[
            ("SUPPORTDESK_OPEN_TICKET_LIMIT", "1"),
            ("SUPPORTDESK_OUTBOX_POLL_MS", "10"),
        ],
    )
    .await?;
    let alice = app.customer("alice@example.com")?;
    let agent = app.person("agent@example.com", "agent")?;
    let billing = app.category("Billing")?;
    let ticket = app.ticket(&alice, billing, "printer on fire").await?;
    for route in ["note", "reply"] {
        send(
            app.post(&format!("/api/v1/agent/tickets/{ticket}/{route}/"), &agent)
                .form(&[("comment", "looking into it")]),
        )
        .await?
        .assert_ok();
    }
    // The reply also moves the ticket to Processing: a status change of its own.
    assert_eq!(drained(&app).await?, (0, 4), "created, note, reply, status");

    // Refused by the open-ticket limit: the transaction rolls back with its outbox row.
    let refused = send(app.create_request(&alice, billing, "second")).await?;
    assert_eq!(refused.status, 401, "{:?}", refused.body);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(outbox(&app).await?, (0, 4));
    Ok(())
}

on_both_backends!(each_change_is_dispatched_once_and_a_refused_write_leaves_no_row);
