//! Endpoint 7: downloads with safe headers, for the author and staff only.

use reqwest::multipart::{Form, Part};
use serde_json::json;

use crate::helpers::{Backend, Person, TestApp, TestResult, send};

async fn ticket_with_file(
    app: &TestApp,
    who: &Person,
    name: &str,
    mime: &str,
    bytes: &[u8],
) -> TestResult<(i64, i64)> {
    // Category names are unique; one category per file name lets a test call this repeatedly.
    let category = app.category(&format!("Files: {name}"))?;
    let form = Form::new()
        .text("subject", "file")
        .text("priority", "1")
        .text("comment", "c")
        .text("category", category.to_string())
        .part(
            "attachment",
            Part::bytes(bytes.to_vec())
                .file_name(name.to_owned())
                .mime_str(mime)?,
        );
    let answer = send(
        app.post("/api/v1/support/create/ticket/", who)
            .multipart(form),
    )
    .await?;
    let ticket = answer.assert_ok()["ticket"]["id"].as_i64().ok_or("no id")?;
    let detail = send(app.get(
        &format!("/api/v1/support/ticket/detailed-view/?ticket_id={ticket}"),
        who,
    ))
    .await?;
    let attachment = detail.assert_ok()["attachments"][0]["id"]
        .as_i64()
        .ok_or("no attachment")?;
    Ok((ticket, attachment))
}

async fn the_author_downloads_the_exact_bytes_with_safe_headers(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let (_, attachment) =
        ticket_with_file(&app, &alice, "report.pdf", "application/pdf", &bytes).await?;

    let answer = send(app.get(
        &format!("/api/v1/support/ticket/download/{attachment}/"),
        &alice,
    ))
    .await?;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.bytes, bytes);
    assert_eq!(answer.headers["content-type"], "application/pdf");
    assert_eq!(answer.headers["content-length"], "70000");
    assert_eq!(
        answer.headers["content-disposition"],
        "attachment; filename=\"report.pdf\""
    );
    assert_eq!(answer.headers["x-content-type-options"], "nosniff");
    Ok(())
}

async fn active_content_is_never_served_as_itself(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    for (name, mime) in [
        ("x.html", "text/html"),
        ("x.svg", "image/svg+xml"),
        ("x.js", "application/javascript"),
        ("x.xml", "text/xml"),
    ] {
        let (ticket, attachment) =
            ticket_with_file(&app, &alice, name, mime, b"<script>alert(1)</script>").await?;
        let answer = send(app.get(
            &format!("/api/v1/support/ticket/download/{attachment}"),
            &alice,
        ))
        .await?;
        assert_eq!(answer.status, 200);
        assert_eq!(
            answer.headers["content-type"], "application/octet-stream",
            "{name}"
        );
        assert!(
            answer.headers["content-disposition"]
                .to_str()?
                .starts_with("attachment;")
        );
        // Close it, so the open-ticket limit does not stop the loop.
        send(
            app.post("/api/v1/support/ticket/status/", &alice)
                .form(&[("ticket", ticket.to_string()), ("status", "3".to_owned())]),
        )
        .await?
        .assert_ok();
    }
    Ok(())
}

async fn non_ascii_and_hostile_file_names_stay_one_valid_header(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let (_, attachment) = ticket_with_file(
        &app,
        &alice,
        "../../Grüße \"quoted\".txt",
        "text/plain",
        b"hi",
    )
    .await?;
    let answer = send(app.get(
        &format!("/api/v1/support/ticket/download/{attachment}"),
        &alice,
    ))
    .await?;
    assert_eq!(
        answer.headers["content-disposition"],
        "attachment; filename=\"Gr__e _quoted_.txt\"; filename*=UTF-8''Gr%C3%BC%C3%9Fe%20%22quoted%22.txt"
    );
    let detail = send(app.get("/api/v1/support/ticket/detailed-view/?ticket_id=1", &alice)).await?;
    assert_eq!(
        detail.assert_ok()["attachments"][0]["filename"],
        "Grüße \"quoted\".txt"
    );
    Ok(())
}

async fn nobody_else_can_download_and_cannot_tell_a_foreign_id_from_a_missing_one(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let mallory = app.customer("mallory@example.com")?;
    let agent = app.person("agent@example.com", "agent")?;
    let (_, attachment) =
        ticket_with_file(&app, &alice, "secret.txt", "text/plain", b"secret").await?;

    let foreign = send(app.get(
        &format!("/api/v1/support/ticket/download/{attachment}"),
        &mallory,
    ))
    .await?;
    foreign.assert_errors(404, json!({"detail": ["Not found."]}));
    let missing = send(app.get("/api/v1/support/ticket/download/987654", &mallory)).await?;
    missing.assert_errors(404, json!({"detail": ["Not found."]}));
    assert_eq!(foreign.bytes, missing.bytes);
    let junk = send(app.get("/api/v1/support/ticket/download/abc", &mallory)).await?;
    junk.assert_errors(404, json!({"detail": ["Not found."]}));

    let staff = send(app.get(
        &format!("/api/v1/support/ticket/download/{attachment}"),
        &agent,
    ))
    .await?;
    assert_eq!(staff.status, 200);
    assert_eq!(staff.bytes, b"secret");
    Ok(())
}

on_both_backends!(
    the_author_downloads_the_exact_bytes_with_safe_headers,
    active_content_is_never_served_as_itself,
    non_ascii_and_hostile_file_names_stay_one_valid_header,
    nobody_else_can_download_and_cannot_tell_a_foreign_id_from_a_missing_one,
);
