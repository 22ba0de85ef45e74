//! Endpoint 2: creating tickets, in every encoding, with every validation message.

use serde_json::json;

use crate::helpers::{Backend, TestApp, TestResult, send};

const CREATE: &str = "/api/v1/support/create/ticket/";

async fn a_ticket_is_created_from_a_form_and_answered_in_the_history_shape(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Billing")?;
    let answer = send(app.post(CREATE, &alice).form(&[
        ("subject", "  Invoice wrong  "),
        ("priority", "3"),
        ("comment", "Charged twice"),
        ("category", &category.to_string()),
    ]))
    .await?;
    let ticket = &answer.assert_ok()["ticket"];
    assert_eq!(ticket["subject"], "Invoice wrong", "values are trimmed");
    assert_eq!(ticket["priority"], "3");
    assert_eq!(ticket["status"], "1");
    assert_eq!(ticket["category"], category);
    assert_eq!(ticket["category_title"], "Billing");
    assert_eq!(ticket["comment"], "Charged twice");
    let created = ticket["created_at"].as_str().ok_or("no created_at")?;
    assert_eq!(created.len(), "2026-11-27T19:30:00.123456Z".len());
    assert!(created.ends_with('Z'));
    assert_eq!(ticket["updated_at"], ticket["created_at"]);
    Ok(())
}

async fn json_bodies_take_strings_and_integers_where_the_contract_says(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Billing")?;
    let answer = send(app.post(CREATE, &alice).json(&json!({
        "subject": "JSON", "priority": 2, "comment": "c", "category": category
    })))
    .await?;
    assert_eq!(answer.assert_ok()["ticket"]["priority"], "2");
    let answer = send(app.post(CREATE, &alice).json(&json!({
        "subject": "JSON", "priority": "1", "comment": "c", "category": category.to_string()
    })))
    .await?;
    answer.assert_ok();

    let answer = send(app.post(CREATE, &alice).json(&json!({
        "subject": 12, "priority": true, "comment": ["x"], "category": 1.5
    })))
    .await?;
    answer.assert_errors(
        400,
        json!({
            "subject": ["Not a valid string."],
            "priority": ["\"True\" is not a valid choice."],
            "comment": ["Not a valid string."],
            "category": ["Incorrect type. Expected pk value, received float."],
        }),
    );
    for (value, type_name) in [
        (json!(true), "bool"),
        (json!([1]), "list"),
        (json!({"id": 1}), "dict"),
    ] {
        let answer = send(app.post(CREATE, &alice).json(&json!({
            "subject": "s", "priority": "1", "comment": "c", "category": value
        })))
        .await?;
        answer.assert_errors(
            400,
            json!({"category": [format!("Incorrect type. Expected pk value, received {type_name}.")]}),
        );
    }
    let answer = send(app.post(CREATE, &alice).json(&json!({
        "subject": null, "priority": null, "comment": "c", "category": null
    })))
    .await?;
    answer.assert_errors(
        400,
        json!({
            "subject": ["This field may not be null."],
            "priority": ["This field may not be null."],
            "category": ["This field may not be null."],
        }),
    );
    Ok(())
}

async fn every_field_error_of_a_request_is_reported_together(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let answer = send(app.post(CREATE, &alice).form(&[("unrelated", "x")])).await?;
    answer.assert_errors(
        400,
        json!({
            "subject": ["This field is required."],
            "priority": ["This field is required."],
            "comment": ["This field is required."],
            "category": ["This field is required."],
        }),
    );
    // The sample code's empty formData is a valid body with no fields.
    let empty = reqwest::multipart::Form::new();
    let answer = send(app.post(CREATE, &alice).multipart(empty)).await?;
    assert_eq!(
        answer.errors("subject"),
        vec!["This field is required."],
        "{}",
        answer.body
    );

    let answer = send(app.post(CREATE, &alice).form(&[
        ("subject", "   "),
        ("priority", ""),
        ("comment", "\t"),
        ("category", ""),
    ]))
    .await?;
    answer.assert_errors(
        400,
        json!({
            "subject": ["This field may not be blank."],
            "priority": ["\"\" is not a valid choice."],
            "comment": ["This field may not be blank."],
            "category": ["This field may not be null."],
        }),
    );
    Ok(())
}

async fn lengths_choices_and_categories_are_checked(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let billing = app.category("Billing")?;
    let retired = app.category("Retired")?;
    app.cli_ok(&["category", "deactivate", &retired.to_string()])?;

    // 500 characters (not bytes) is the most a subject may have.
    let subject_ok = "é".repeat(500);
    let answer = send(app.post(CREATE, &alice).form(&[
        ("subject", subject_ok.as_str()),
        ("priority", "1"),
        ("comment", "c"),
        ("category", &billing.to_string()),
    ]))
    .await?;
    answer.assert_ok();

    let answer = send(app.post(CREATE, &alice).form(&[
        ("subject", "x".repeat(501).as_str()),
        ("priority", "4"),
        ("comment", "y".repeat(65_537).as_str()),
        ("category", "abc"),
    ]))
    .await?;
    answer.assert_errors(
        400,
        json!({
            "subject": ["Ensure this field has no more than 500 characters."],
            "priority": ["\"4\" is not a valid choice."],
            "comment": ["Ensure this field has no more than 65536 characters."],
            "category": ["Incorrect type. Expected pk value, received str."],
        }),
    );

    for missing in [
        retired.to_string(),
        "999".to_owned(),
        "99999999999999999999999".to_owned(),
    ] {
        let answer = send(app.post(CREATE, &alice).form(&[
            ("subject", "s"),
            ("priority", "1"),
            ("comment", "c"),
            ("category", missing.as_str()),
        ]))
        .await?;
        answer.assert_errors(
            400,
            json!({"category": [format!("Invalid pk \"{missing}\" - object does not exist.")]}),
        );
    }
    Ok(())
}

async fn text_is_stored_exactly_as_sent_apart_from_trimming(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Billing")?;
    let comment = "Zeile 1\nZeile 2 — ünïcödé 🎫 <b>&amp;</b> ' \" ; DROP TABLE tickets; --";
    let answer = send(app.post(CREATE, &alice).form(&[
        ("subject", "日本語の件名"),
        ("priority", "1"),
        ("comment", comment),
        ("category", &category.to_string()),
    ]))
    .await?;
    let ticket = &answer.assert_ok()["ticket"];
    assert_eq!(ticket["comment"], comment);
    assert_eq!(ticket["subject"], "日本語の件名");
    Ok(())
}

async fn bodies_that_cannot_be_read_answer_400_413_or_415(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;

    let answer = send(
        app.post(CREATE, &alice)
            .header("content-type", "application/json")
            .body("{\"subject\": "),
    )
    .await?;
    answer.assert_errors(400, json!({"detail": ["Malformed request body."]}));

    let answer = send(
        app.post(CREATE, &alice)
            .header("content-type", "application/json")
            .body("[1, 2]"),
    )
    .await?;
    answer.assert_errors(400, json!({"detail": ["Malformed request body."]}));

    let answer = send(
        app.post(CREATE, &alice)
            .header("content-type", "multipart/form-data; boundary=XYZ")
            .body("--XYZ\r\nContent-Disposition: form-data; name=\"subject\"\r\n\r\nunterminated"),
    )
    .await?;
    answer.assert_errors(400, json!({"detail": ["Malformed request body."]}));

    let answer = send(
        app.post(CREATE, &alice)
            .header("content-type", "multipart/form-data")
            .body("no boundary"),
    )
    .await?;
    answer.assert_errors(400, json!({"detail": ["Malformed request body."]}));

    let answer = send(
        app.post(CREATE, &alice)
            .header("content-type", "text/plain")
            .body("subject=hello"),
    )
    .await?;
    answer.assert_errors(
        415,
        json!({"detail": ["Unsupported media type \"text/plain\" in request."]}),
    );

    // Bodies over the limits are tested over raw connections in `uploads.rs`: a client that
    // is still sending when the server answers early may see the connection reset.

    // Credentials are checked before the body is.
    let answer = send(
        app.client
            .post(app.url(CREATE))
            .header("apikey", &app.apikey)
            .header("content-type", "text/plain")
            .body("x"),
    )
    .await?;
    answer.assert_errors(
        401,
        json!({"authorization": ["Authentication credentials were not provided."]}),
    );
    Ok(())
}

on_both_backends!(
    a_ticket_is_created_from_a_form_and_answered_in_the_history_shape,
    json_bodies_take_strings_and_integers_where_the_contract_says,
    every_field_error_of_a_request_is_reported_together,
    lengths_choices_and_categories_are_checked,
    text_is_stored_exactly_as_sent_apart_from_trimming,
    bodies_that_cannot_be_read_answer_400_413_or_415,
);
