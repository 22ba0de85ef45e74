//! Endpoint 5: priority and tags of one's own ticket.

use serde_json::json;

use crate::helpers::{Backend, TestApp, TestResult, send};

const UPDATE: &str = "/api/v1/support/update/ticket/";

async fn tags_are_replaced_and_priority_changed_in_every_list_encoding(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Billing")?;
    let t1 = app.tag("One")?;
    let t2 = app.tag("Two")?;
    let t3 = app.tag("Three")?;
    let ticket = app.ticket(&alice, category, "Tags").await?;
    let id = ticket.to_string();

    let answer = send(app.post(UPDATE, &alice).form(&[
        ("ticket_id", id.as_str()),
        ("priority", "3"),
        ("tags", &t3.to_string()),
        ("tags", &t1.to_string()),
        ("tags", &t1.to_string()),
    ]))
    .await?;
    let data = answer.assert_ok();
    assert_eq!(
        data["ticket"]["tags"],
        json!([t1, t3]),
        "ascending, duplicates once"
    );
    assert_eq!(data["ticket"]["priority"], "3");
    assert!(data["ticket"]["updated_at"].as_str() > data["ticket"]["created_at"].as_str());

    let answer = send(
        app.post(UPDATE, &alice)
            .form(&[("ticket_id", id.as_str()), ("tags", &format!("{t2}, {t3}"))]),
    )
    .await?;
    let data = answer.assert_ok();
    assert_eq!(
        data["ticket"]["tags"],
        json!([t2, t3]),
        "replaced, not added"
    );
    assert_eq!(data["ticket"]["priority"], "3", "priority kept when absent");

    let answer = send(
        app.post(UPDATE, &alice)
            .json(&json!({"ticket_id": ticket, "tags": [t1], "priority": 1})),
    )
    .await?;
    let data = answer.assert_ok();
    assert_eq!(data["ticket"]["tags"], json!([t1]));
    assert_eq!(data["ticket"]["priority"], "1");

    let form = reqwest::multipart::Form::new()
        .text("ticket_id", id.clone())
        .text("tags", t2.to_string())
        .text("tags", t1.to_string());
    let answer = send(app.post(UPDATE, &alice).multipart(form)).await?;
    assert_eq!(answer.assert_ok()["ticket"]["tags"], json!([t1, t2]));
    Ok(())
}

async fn update_reports_the_contracts_messages(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let bob = app.customer("bob@example.com")?;
    let category = app.category("Billing")?;
    let tag = app.tag("One")?;
    let retired = app.tag("Old")?;
    app.cli_ok(&["tag", "deactivate", &retired.to_string()])?;
    let ticket = app.ticket(&alice, category, "Mine").await?.to_string();

    let answer = send(app.post(UPDATE, &alice).form(&[("priority", "9")])).await?;
    answer.assert_errors(
        400,
        json!({
            "ticket": ["Ticket id is required and this may not be blank."],
            "priority": ["\"9\" is not a valid choice."],
            "tags": ["This field is required."],
        }),
    );
    let answer = send(
        app.post(UPDATE, &alice)
            .form(&[("ticket_id", " "), ("tags", "")]),
    )
    .await?;
    answer.assert_errors(
        400,
        json!({
            "ticket": ["Ticket id is required and this may not be blank."],
            "tags": ["This list may not be empty."],
        }),
    );
    for bad in ["abc", "999", "1.5"] {
        let answer = send(
            app.post(UPDATE, &alice)
                .form(&[("ticket_id", bad), ("tags", &tag.to_string())]),
        )
        .await?;
        answer.assert_errors(400, json!({"ticket": ["Ticket id is not valid."]}));
    }
    let answer = send(app.post(UPDATE, &alice).form(&[
        ("ticket_id", ticket.as_str()),
        ("tags", &format!("{tag},x")),
    ]))
    .await?;
    answer.assert_errors(
        400,
        json!({"tags": ["Incorrect type. Expected pk value, received str."]}),
    );
    let answer = send(app.post(UPDATE, &alice).form(&[
        ("ticket_id", ticket.as_str()),
        ("tags", &format!("77,{retired}")),
    ]))
    .await?;
    answer.assert_errors(
        400,
        json!({"tags": ["Invalid pk \"77\" - object does not exist."]}),
    );
    let answer = send(app.post(UPDATE, &alice).form(&[
        ("ticket_id", ticket.as_str()),
        ("tags", &retired.to_string()),
    ]))
    .await?;
    answer.assert_errors(
        400,
        json!({"tags": [format!("Invalid pk \"{retired}\" - object does not exist.")]}),
    );
    let answer = send(
        app.post(UPDATE, &alice)
            .json(&json!({"ticket_id": ticket, "tags": []})),
    )
    .await?;
    answer.assert_errors(400, json!({"tags": ["This list may not be empty."]}));
    let answer = send(
        app.post(UPDATE, &alice)
            .json(&json!({"ticket_id": ticket, "tags": [true]})),
    )
    .await?;
    answer.assert_errors(
        400,
        json!({"tags": ["Incorrect type. Expected pk value, received bool."]}),
    );

    // Someone else's ticket: the ownership message, after the fields are valid.
    let answer = send(
        app.post(UPDATE, &bob)
            .form(&[("ticket_id", ticket.as_str()), ("tags", &tag.to_string())]),
    )
    .await?;
    answer.assert_errors(
        400,
        json!({"ticket": ["You are not the owner of the requested ticket."]}),
    );
    let answer = send(
        app.post(UPDATE, &bob)
            .form(&[("ticket_id", ticket.as_str()), ("tags", "")]),
    )
    .await?;
    answer.assert_errors(400, json!({"tags": ["This list may not be empty."]}));
    let detail = send(app.get(
        &format!("/api/v1/support/ticket/detailed-view/?ticket_id={ticket}"),
        &alice,
    ))
    .await?;
    assert_eq!(
        detail.assert_ok()["ticket"]["tags"],
        json!([]),
        "nothing changed"
    );
    Ok(())
}

async fn a_deactivated_tag_stays_on_a_ticket_that_has_it(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Billing")?;
    let keep = app.tag("Keep")?;
    let other = app.tag("Other")?;
    let ticket = app.ticket(&alice, category, "Mine").await?.to_string();
    send(
        app.post(UPDATE, &alice)
            .form(&[("ticket_id", ticket.as_str()), ("tags", &keep.to_string())]),
    )
    .await?
    .assert_ok();
    app.cli_ok(&["tag", "deactivate", &keep.to_string()])?;

    let tags = send(app.get("/api/v1/support/get/ticket/tags/", &alice)).await?;
    assert_eq!(
        tags.assert_ok()["TicketTagList"],
        json!([{"id": other, "tag": "Other", "keyword": "other"}])
    );
    let answer = send(app.post(UPDATE, &alice).form(&[
        ("ticket_id", ticket.as_str()),
        ("tags", &format!("{keep},{other}")),
    ]))
    .await?;
    assert_eq!(answer.assert_ok()["ticket"]["tags"], json!([keep, other]));
    Ok(())
}

on_both_backends!(
    tags_are_replaced_and_priority_changed_in_every_list_encoding,
    update_reports_the_contracts_messages,
    a_deactivated_tag_stays_on_a_ticket_that_has_it,
);
