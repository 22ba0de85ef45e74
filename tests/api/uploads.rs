//! Attachments on create and conversation: multipart, limits enforced while reading, nothing
//! kept of a refused request.

use std::time::Duration;

use reqwest::multipart::{Form, Part};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Backend, TestApp, TestResult, send};

const CREATE: &str = "/api/v1/support/create/ticket/";
const MIB: usize = 1024 * 1024;

fn ticket_form(category: i64) -> Form {
    Form::new()
        .text("subject", "With files")
        .text("priority", "2")
        .text("comment", "see attached")
        .text("category", category.to_string())
}

fn file(bytes: Vec<u8>, name: &str, mime: &str) -> TestResult<Part> {
    Ok(Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str(mime)?)
}

async fn up_to_five_files_are_stored_and_listed_with_their_metadata(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Billing")?;
    let mut form = ticket_form(category);
    for i in 0..5 {
        form = form.part(
            "attachment",
            file(
                vec![b'a' + i; 100 + usize::from(i)],
                &format!("f{i}.txt"),
                "text/plain",
            )?,
        );
    }
    let answer = send(app.post(CREATE, &alice).multipart(form)).await?;
    let id = answer.assert_ok()["ticket"]["id"].as_i64().ok_or("no id")?;

    let detail = send(app.get(
        &format!("/api/v1/support/ticket/detailed-view/?ticket_id={id}"),
        &alice,
    ))
    .await?;
    let attachments = detail.assert_ok()["attachments"]
        .as_array()
        .ok_or("no list")?
        .clone();
    assert_eq!(attachments.len(), 5);
    for (i, a) in attachments.iter().enumerate() {
        assert_eq!(a["filename"], format!("f{i}.txt"));
        assert_eq!(a["size"], 100 + i);
        assert_eq!(a["content_type"], "text/plain");
        assert_eq!(a["conversation_id"], json!(null));
    }
    assert!(
        attachments
            .windows(2)
            .all(|w| w[0]["id"].as_i64() < w[1]["id"].as_i64())
    );
    assert_eq!(app.staged_files(), 0);
    Ok(())
}

async fn a_file_at_exactly_the_limit_is_accepted_and_one_byte_more_is_not(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Billing")?;
    let form = ticket_form(category).part(
        "attachment",
        file(vec![7; 2 * MIB], "max.bin", "application/octet-stream")?,
    );
    send(app.post(CREATE, &alice).multipart(form))
        .await?
        .assert_ok();

    let form = ticket_form(category).part(
        "attachment",
        file(vec![7; 2 * MIB + 1], "big.bin", "application/octet-stream")?,
    );
    let answer = send(app.post(CREATE, &alice).multipart(form)).await?;
    answer.assert_errors(
        400,
        json!({"attachment": ["File is too big. Max filesize: 2MiB."]}),
    );

    let history = send(app.get("/api/v1/support/get/ticket/history/", &alice)).await?;
    assert_eq!(
        history.assert_ok()["count"],
        1,
        "the refused ticket was not created"
    );
    assert_eq!(app.staged_files(), 0);
    Ok(())
}

async fn too_many_empty_and_non_file_attachments_get_their_messages(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Billing")?;

    let mut form = ticket_form(category);
    for i in 0..6 {
        form = form.part(
            "attachment",
            file(vec![1; 10], &format!("{i}.txt"), "text/plain")?,
        );
    }
    let answer = send(app.post(CREATE, &alice).multipart(form)).await?;
    answer.assert_errors(
        400,
        json!({"attachment": ["Ensure this field has no more than 5 files."]}),
    );

    let form =
        ticket_form(category).part("attachment", file(Vec::new(), "empty.txt", "text/plain")?);
    let answer = send(app.post(CREATE, &alice).multipart(form)).await?;
    answer.assert_errors(400, json!({"attachment": ["The submitted file is empty."]}));

    let form = ticket_form(category).text("attachment", "just text");
    let answer = send(app.post(CREATE, &alice).multipart(form)).await?;
    answer.assert_errors(
        400,
        json!({"attachment": ["The submitted data was not a file. Check the encoding type on the form."]}),
    );
    let answer = send(app.post(CREATE, &alice).form(&[
        ("subject", "s"),
        ("priority", "1"),
        ("comment", "c"),
        ("category", &category.to_string()),
        ("attachment", "C:\\file.txt"),
    ]))
    .await?;
    answer.assert_errors(
        400,
        json!({"attachment": ["The submitted data was not a file. Check the encoding type on the form."]}),
    );

    // A browser's "no file chosen" (empty name, empty content) is simply no attachment.
    let form = ticket_form(category).part(
        "attachment",
        file(Vec::new(), "", "application/octet-stream")?,
    );
    send(app.post(CREATE, &alice).multipart(form))
        .await?
        .assert_ok();
    assert_eq!(app.staged_files(), 0);
    Ok(())
}

/// Writes a chunked multipart upload of `total` bytes over a raw connection while reading the
/// answer; returns the answer's text. The writer stops when the server closes the connection.
async fn chunked_upload(
    app: &TestApp,
    token: &str,
    category: i64,
    total: usize,
) -> TestResult<String> {
    let fields = format!(
        "--BOUNDARY\r\nContent-Disposition: form-data; name=\"subject\"\r\n\r\nbig\r\n\
         --BOUNDARY\r\nContent-Disposition: form-data; name=\"priority\"\r\n\r\n1\r\n\
         --BOUNDARY\r\nContent-Disposition: form-data; name=\"comment\"\r\n\r\nc\r\n\
         --BOUNDARY\r\nContent-Disposition: form-data; name=\"category\"\r\n\r\n{category}\r\n\
         --BOUNDARY\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"huge.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    chunked_body(
        app,
        token,
        "multipart/form-data; boundary=BOUNDARY",
        fields,
        total,
    )
    .await
}

/// Sends `start` and then `total` filler bytes as a chunked body of `content_type` over a raw
/// connection, reading the answer meanwhile.
async fn chunked_body(
    app: &TestApp,
    token: &str,
    content_type: &str,
    start: String,
    total: usize,
) -> TestResult<String> {
    let address = app.origin.trim_start_matches("http://").to_owned();
    let stream = TcpStream::connect(&address).await?;
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST {CREATE} HTTP/1.1\r\nHost: {address}\r\napikey: {}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n",
        app.apikey
    );
    let fields = start;
    let writer_task = tokio::spawn(async move {
        let mut sent = 0usize;
        let chunk = vec![b'x'; 64 * 1024];
        let frame = |data: &[u8]| {
            let mut out = format!("{:x}\r\n", data.len()).into_bytes();
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
            out
        };
        if writer.write_all(head.as_bytes()).await.is_err() {
            return sent;
        }
        if writer.write_all(&frame(fields.as_bytes())).await.is_err() {
            return sent;
        }
        while sent < total {
            if writer.write_all(&frame(&chunk)).await.is_err() {
                break;
            }
            sent += chunk.len();
        }
        sent
    });
    let mut answer = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let read = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&answer);
                    if let Some((_, body)) = text.split_once("\r\n\r\n")
                        && body.contains("\"status_code\"")
                        && body.trim_end().ends_with('}')
                    {
                        break;
                    }
                }
            }
        }
    })
    .await;
    read.map_err(|_| "no answer to the upload within 60 s")?;
    writer_task.abort();
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

async fn a_50_mib_upload_is_refused_while_reading_without_being_held_in_memory(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn_process(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Billing")?;
    let rss_before = app.rss_kib().ok_or("no RSS")?;

    let answer = chunked_upload(&app, &alice.token, category, 50 * MIB).await?;
    assert!(answer.starts_with("HTTP/1.1 400"), "answer: {answer}");
    assert!(
        answer.contains(r#""attachment":["File is too big. Max filesize: 2MiB."]"#),
        "answer: {answer}"
    );

    let rss_after = app.rss_kib().ok_or("no RSS")?;
    assert!(
        rss_after < rss_before + 20 * 1024,
        "the server grew from {rss_before} KiB to {rss_after} KiB: it buffered the upload"
    );
    assert_eq!(app.staged_files(), 0, "the partial upload was removed");
    let history = send(app.get("/api/v1/support/get/ticket/history/", &alice)).await?;
    assert_eq!(history.assert_ok()["count"], 0);
    Ok(())
}

async fn a_declared_length_over_11_mib_is_refused_before_the_body_is_read(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn_process(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let address = app.origin.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&address).await?;
    let head = format!(
        "POST {CREATE} HTTP/1.1\r\nHost: {address}\r\napikey: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: multipart/form-data; boundary=B\r\nContent-Length: {}\r\n\r\n--B\r\n",
        app.apikey,
        alice.token,
        50 * MIB
    );
    stream.write_all(head.as_bytes()).await?;
    // Only the head was sent: an answer now proves the server did not wait for the body.
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buf)).await??;
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 400"), "answer: {text}");
    assert!(
        text.contains("File is too big. Max filesize: 2MiB."),
        "answer: {text}"
    );
    Ok(())
}

async fn a_declared_length_over_1_mib_for_other_bodies_answers_413_at_once(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn_process(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let address = app.origin.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&address).await?;
    let head = format!(
        "POST {CREATE} HTTP/1.1\r\nHost: {address}\r\napikey: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{{",
        app.apikey,
        alice.token,
        5 * MIB
    );
    stream.write_all(head.as_bytes()).await?;
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buf)).await??;
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "answer: {text}");
    assert!(text.contains("Request body too large."), "answer: {text}");
    Ok(())
}

async fn a_chunked_body_over_1_mib_answers_413_once_the_limit_is_passed(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn_process(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let start = "subject=".to_owned();
    let answer = chunked_body(
        &app,
        &alice.token,
        "application/x-www-form-urlencoded",
        start,
        3 * MIB,
    )
    .await?;
    assert!(answer.starts_with("HTTP/1.1 413"), "answer: {answer}");
    assert!(
        answer.contains(r#"{"detail":["Request body too large."]}"#),
        "answer: {answer}"
    );
    Ok(())
}

on_both_backends!(
    a_chunked_body_over_1_mib_answers_413_once_the_limit_is_passed,
    up_to_five_files_are_stored_and_listed_with_their_metadata,
    a_file_at_exactly_the_limit_is_accepted_and_one_byte_more_is_not,
    too_many_empty_and_non_file_attachments_get_their_messages,
    a_50_mib_upload_is_refused_while_reading_without_being_held_in_memory,
    a_declared_length_over_11_mib_is_refused_before_the_body_is_read,
    a_declared_length_over_1_mib_for_other_bodies_answers_413_at_once,
);
