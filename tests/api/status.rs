//! Endpoint 9: closing and reopening.

use serde_json::json;

use crate::helpers::{Backend, TestApp, TestResult, send};

const STATUS: &str = "/api/v1/support/ticket/status/";

async fn close_then_reopen_lands_in_processing_with_the_state_messages_between(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Billing")?;
    let ticket = app.ticket(&alice, category, "Flow").await?.to_string();
    let t = ticket.as_str();

    let answer = send(
        app.post(STATUS, &alice)
            .form(&[("ticket", t), ("status", "2")]),
    )
    .await?;
    answer.assert_errors(400, json!({"ticket": ["Ticket is already open."]}));
    let answer = send(
        app.post(STATUS, &alice)
            .form(&[("ticket", t), ("status", "3")]),
    )
    .await?;
    assert_eq!(answer.assert_ok()["ticket"]["status"], "3");
    let answer = send(
        app.post(STATUS, &alice)
            .form(&[("ticket", t), ("status", "3")]),
    )
    .await?;
    answer.assert_errors(400, json!({"ticket": ["Ticket is already closed."]}));
    let answer = send(
        app.post(STATUS, &alice)
            .json(&json!({"ticket": ticket.parse::<i64>()?, "status": 2})),
    )
    .await?;
    assert_eq!(answer.assert_ok()["ticket"]["status"], "2");
    let answer = send(
        app.post(STATUS, &alice)
            .form(&[("ticket", t), ("status", "2")]),
    )
    .await?;
    answer.assert_errors(400, json!({"ticket": ["Ticket is already processing."]}));
    Ok(())
}

async fn status_reports_the_contracts_messages(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let bob = app.customer("bob@example.com")?;
    let category = app.category("Billing")?;
    let ticket = app.ticket(&alice, category, "Mine").await?.to_string();

    let answer = send(app.post(STATUS, &alice).form(&[("nothing", "")])).await?;
    answer.assert_errors(
        400,
        json!({
            "ticket": ["Ticket id is required and this may not be blank."],
            "status": ["Status id is required and this may not be blank."],
        }),
    );
    for bad in ["1", "4", "open"] {
        let answer = send(
            app.post(STATUS, &alice)
                .form(&[("ticket", "x"), ("status", bad)]),
        )
        .await?;
        answer.assert_errors(
            400,
            json!({"ticket": ["Ticket id is not valid."], "status": [format!("\"{bad}\" is not a valid choice.")]}),
        );
    }
    let answer = send(
        app.post(STATUS, &alice)
            .form(&[("ticket", "31337"), ("status", "3")]),
    )
    .await?;
    answer.assert_errors(400, json!({"ticket": ["Ticket id is not valid."]}));
    let answer = send(
        app.post(STATUS, &bob)
            .form(&[("ticket", ticket.as_str()), ("status", "3")]),
    )
    .await?;
    answer.assert_errors(
        400,
        json!({"ticket": ["You Can't open or close this Ticket."]}),
    );
    // A state message only once every field is valid on its own.
    let answer = send(
        app.post(STATUS, &bob)
            .form(&[("ticket", ticket.as_str()), ("status", "1")]),
    )
    .await?;
    answer.assert_errors(400, json!({"status": ["\"1\" is not a valid choice."]}));
    let detail = send(app.get(
        &format!("/api/v1/support/ticket/detailed-view/?ticket_id={ticket}"),
        &alice,
    ))
    .await?;
    assert_eq!(
        detail.assert_ok()["ticket"]["status"],
        "1",
        "nothing changed"
    );
    Ok(())
}

on_both_backends!(
    close_then_reopen_lands_in_processing_with_the_state_messages_between,
    status_reports_the_contracts_messages,
);
