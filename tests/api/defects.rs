//! Found when tried as a client would: U+0000 in any text is one field error on both backends;
//! a path parameter that names nothing, and a request head the connection layer refuses, both
//! answer in the envelope.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use reqwest::multipart::Form;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Backend, Person, TestApp, TestResult, send};

const NUL: &str = "Null characters are not allowed.";

async fn nul_characters_in_any_text_are_a_field_error(backend: Backend) -> TestResult {
    let app = TestApp::spawn_with(backend, &[("SUPPORTDESK_REGISTRATION", "true")]).await?;
    let category = app.category("Billing")?;
    let alice = app.customer("alice@example.com")?;
    let agent = app.person("agent@example.com", "agent")?;
    let admin = app.person("boss@example.com", "admin")?;
    let ticket = app.ticket(&alice, category, "Fine").await?;
    let both = json!({"subject": [NUL], "comment": [NUL]});

    // Create, in each of the three encodings.
    let create = "/api/v1/support/create/ticket/";
    let cat = category.to_string();
    let fields = [
        ("subject", "a\0b"),
        ("priority", "2"),
        ("comment", "see\0"),
        ("category", cat.as_str()),
    ];
    send(app.post(create, &alice).form(&fields))
        .await?
        .assert_errors(400, both.clone());
    let body: serde_json::Map<String, Value> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    send(app.post(create, &alice).json(&body))
        .await?
        .assert_errors(400, both.clone());
    let form = fields.iter().fold(Form::new(), |form, (k, v)| {
        form.text((*k).to_owned(), (*v).to_owned())
    });
    send(app.post(create, &alice).multipart(form))
        .await?
        .assert_errors(400, both);

    // The conversation, the history filter.
    send(
        app.post("/api/v1/support/ticket/conversation/", &alice)
            .json(&json!({"ticket": ticket, "comment": "x\u{0}"})),
    )
    .await?
    .assert_errors(400, json!({"comment": [NUL]}));
    send(app.get("/api/v1/support/get/ticket/history/?subject=a%00b", &alice))
        .await?
        .assert_errors(400, json!({"subject": [NUL]}));

    // The staff side: reply, note, the queue's free-text filters.
    for kind in ["reply", "note"] {
        send(
            app.post(&format!("/api/v1/agent/tickets/{ticket}/{kind}/"), &agent)
                .form(&[("comment", "x\0y")]),
        )
        .await?
        .assert_errors(400, json!({"comment": [NUL]}));
    }
    send(app.get("/api/v1/agent/tickets/?q=%00&author=a%00b%40x.com", &agent))
        .await?
        .assert_errors(400, json!({"q": [NUL], "author": [NUL]}));

    // Sign-in and registration.
    for path in ["/api/v1/auth/token/", "/api/v1/auth/register/"] {
        send(app.request(Method::POST, path, None).form(&[
            ("email", "eve\0@example.com"),
            ("password", "a long passphrase"),
        ]))
        .await?
        .assert_errors(400, json!({"email": [NUL]}));
    }

    // Administration: names and descriptions, people, keys.
    send(
        app.post("/api/v1/admin/categories/", &admin)
            .form(&[("category", "Bil\0ling"), ("description", "d\0")]),
    )
    .await?
    .assert_errors(400, json!({"category": [NUL], "description": [NUL]}));
    send(
        app.post(&format!("/api/v1/admin/categories/{category}/"), &admin)
            .json(&json!({"description": "\u{0}"})),
    )
    .await?
    .assert_errors(400, json!({"description": [NUL]}));
    send(
        app.post("/api/v1/admin/tags/", &admin)
            .form(&[("tag", "t\0"), ("keyword", "k\0")]),
    )
    .await?
    .assert_errors(400, json!({"tag": [NUL], "keyword": [NUL]}));
    send(app.post("/api/v1/admin/users/", &admin).form(&[
        ("email", "x\0@example.com"),
        ("password", "a long passphrase"),
    ]))
    .await?
    .assert_errors(400, json!({"email": [NUL]}));
    send(
        app.post("/api/v1/admin/apikeys/", &admin)
            .form(&[("name", "k\0")]),
    )
    .await?
    .assert_errors(400, json!({"name": [NUL]}));

    // Nothing was written by any of them.
    let history = send(app.get("/api/v1/support/get/ticket/history/", &alice)).await?;
    assert_eq!(history.assert_ok()["count"], 1);
    let categories = send(app.get("/api/v1/admin/categories/", &admin)).await?;
    assert_eq!(
        categories.assert_ok()["categories"],
        json!([
            {"id": category, "category": "Billing", "description": "about it", "active": true}
        ])
    );
    Ok(())
}

const HS_SECRET: &str = "host-platform-shared-secret-for-tests";

fn host_token(sub: &str, email: &str) -> TestResult<Person> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let claims = json!({"sub": sub, "email": email, "exp": now + 600});
    let key = EncodingKey::from_secret(HS_SECRET.as_bytes());
    Ok(Person {
        id: 0,
        email: String::new(),
        token: jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)?,
    })
}

async fn a_host_jwt_with_nul_in_sub_or_email_is_refused(backend: Backend) -> TestResult {
    let app = TestApp::spawn_with(backend, &[("SUPPORTDESK_JWT_HS256_SECRET", HS_SECRET)]).await?;
    let history = "/api/v1/support/get/ticket/history/";
    let invalid = json!({"authorization": ["Invalid or expired access token."]});
    send(app.get(history, &host_token("user\u{0}42", "dana@example.com")?))
        .await?
        .assert_errors(401, invalid.clone());
    send(app.get(history, &host_token("user-43", "erin\u{0}@example.com")?))
        .await?
        .assert_errors(401, invalid);
    // The same token without the NUL is accepted: the refusal is the NUL's.
    send(app.get(history, &host_token("user-42", "dana@example.com")?))
        .await?
        .assert_ok();
    Ok(())
}

async fn path_parameters_that_name_nothing_answer_404_in_the_envelope(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let admin = app.person("boss@example.com", "admin")?;
    let not_found = json!({"detail": ["Not found."]});
    for (method, path) in [
        (Method::GET, "/api/v1/support/ticket/download/%FF%FE/"),
        (Method::GET, "/api/v1/support/ticket/download/abc/"),
        (Method::GET, "/api/v1/agent/tickets/%FF/"),
        (Method::POST, "/api/v1/agent/tickets/%C3%28/note/"),
        (Method::POST, "/api/v1/admin/categories/%FF/"),
        (Method::POST, "/api/v1/admin/users/1.5/"),
        (Method::POST, "/api/v1/admin/apikeys/%FE/revoke/"),
    ] {
        let answer = send(app.request(method, path, Some(&admin))).await?;
        assert_eq!(
            answer
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/json"),
            "{path}"
        );
        answer.assert_errors(404, not_found.clone());
    }
    Ok(())
}

/// Sends `head` on a fresh connection and reads the whole answer.
async fn raw(app: &TestApp, head: &[u8]) -> TestResult<String> {
    let mut stream =
        tokio::net::TcpStream::connect(app.origin.trim_start_matches("http://")).await?;
    // The server may answer and close before everything is written.
    let _ = stream.write_all(head).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

fn assert_enveloped(answer: &str, status: u16, message: &str) {
    assert!(
        answer.starts_with(&format!("HTTP/1.1 {status} ")),
        "{answer}"
    );
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("\r\ncontent-type: application/json\r\n"),
        "{answer}"
    );
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert_eq!(
        serde_json::from_str::<Value>(body).ok(),
        Some(json!({"status_code": status, "errors": {"detail": [message]}, "data": {}})),
        "{answer}"
    );
}

async fn heads_the_connection_refuses_answer_in_the_envelope(backend: Backend) -> TestResult {
    let app = TestApp::spawn_process(backend).await?;
    let padding = "x".repeat(20 * 1024);
    let huge = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: {padding}\r\n\r\n");
    assert_enveloped(
        &raw(&app, huge.as_bytes()).await?,
        431,
        "Request header fields too large.",
    );
    for head in [
        &b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"[..],
        b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n",
    ] {
        assert_enveloped(&raw(&app, head).await?, 400, "Malformed request.");
    }
    // A good request on a fresh connection is still served.
    assert!(
        raw(
            &app,
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .await?
        .starts_with("HTTP/1.1 200 ")
    );
    Ok(())
}

on_both_backends!(
    nul_characters_in_any_text_are_a_field_error,
    a_host_jwt_with_nul_in_sub_or_email_is_refused,
    path_parameters_that_name_nothing_answer_404_in_the_envelope,
    heads_the_connection_refuses_answer_in_the_envelope,
);
