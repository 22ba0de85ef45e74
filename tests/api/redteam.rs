//! The attacker's side: other people's ids, injection in filters, hostile uploads, forged and
//! replayed tokens, throttles, and what reaches the log.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Backend, Person, TestApp, TestResult, send};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt");

fn body_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn another_persons_ids_get_nothing_on_every_id_taking_route(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let mallory = app.customer("mallory@example.com")?;
    let category = app.category("Billing")?;
    let tag = app.tag("Urgent")?;
    let form = Form::new()
        .text("subject", "ALICE-PRIVATE-SUBJECT")
        .text("priority", "1")
        .text("comment", "ALICE-PRIVATE-COMMENT")
        .text("category", category.to_string())
        .part(
            "attachment",
            Part::bytes(b"ALICE-PRIVATE-BYTES".to_vec()).file_name("alice-private.txt"),
        );
    let created = send(
        app.post("/api/v1/support/create/ticket/", &alice)
            .multipart(form),
    )
    .await?;
    let ticket = created.assert_ok()["ticket"]["id"]
        .as_i64()
        .ok_or("no id")?;
    let form = Form::new()
        .text("ticket", ticket.to_string())
        .text("comment", "ALICE-PRIVATE-REPLY")
        .part(
            "attachment",
            Part::bytes(b"ALICE-PRIVATE-BYTES-2".to_vec()).file_name("alice-2.txt"),
        );
    send(
        app.post("/api/v1/support/ticket/conversation/", &alice)
            .multipart(form),
    )
    .await?
    .assert_ok();
    let t = ticket.to_string();

    let attempts = vec![
        send(app.get(
            &format!("/api/v1/support/ticket/detailed-view/?ticket_id={t}"),
            &mallory,
        ))
        .await?,
        send(
            app.get("/api/v1/support/ticket/detailed-view/", &mallory)
                .json(&json!({"ticket_id": ticket})),
        )
        .await?,
        send(app.post("/api/v1/support/update/ticket/", &mallory).form(&[
            ("ticket_id", t.as_str()),
            ("tags", &tag.to_string()),
            ("priority", "3"),
        ]))
        .await?,
        send(
            app.post("/api/v1/support/ticket/conversation/", &mallory)
                .form(&[("ticket", t.as_str()), ("comment", "pwned")]),
        )
        .await?,
        send(
            app.post("/api/v1/support/ticket/status/", &mallory)
                .form(&[("ticket", t.as_str()), ("status", "3")]),
        )
        .await?,
        send(app.get("/api/v1/support/get/ticket/history/?limit=1000", &mallory)).await?,
        send(app.get(&format!("/api/v1/agent/tickets/{t}/"), &mallory)).await?,
        send(app.get("/api/v1/agent/tickets/", &mallory)).await?,
        send(
            app.post(&format!("/api/v1/agent/tickets/{t}/update/"), &mallory)
                .form(&[("status", "3")]),
        )
        .await?,
    ];
    for answer in &attempts {
        let text = body_text(&answer.bytes);
        assert!(!text.contains("ALICE-PRIVATE"), "leaked: {text}");
        assert!(!text.contains("alice@example.com"), "leaked: {text}");
    }
    assert_eq!(attempts[0].status, 400);
    assert_eq!(attempts[5].assert_ok()["count"], 0);
    for forbidden in &attempts[6..] {
        assert_eq!(forbidden.status, 403);
    }

    // Attachments: a foreign id and a missing id answer byte for byte the same.
    let missing = send(app.get("/api/v1/support/ticket/download/424242/", &mallory)).await?;
    for id in [1, 2] {
        let foreign =
            send(app.get(&format!("/api/v1/support/ticket/download/{id}/"), &mallory)).await?;
        assert_eq!(foreign.status, 404);
        assert_eq!(foreign.bytes, missing.bytes);
    }

    // Nothing of Alice's ticket changed.
    let detail = send(app.get(
        &format!("/api/v1/support/ticket/detailed-view/?ticket_id={t}"),
        &alice,
    ))
    .await?;
    let data = detail.assert_ok();
    assert_eq!(data["ticket"]["status"], "1");
    assert_eq!(data["ticket"]["priority"], "1");
    assert_eq!(data["ticket"]["tags"], json!([]));
    assert_eq!(data["conversations"].as_array().map(Vec::len), Some(1));
    Ok(())
}

async fn sql_and_unknown_names_in_filters_and_sorts_are_inert(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let mallory = app.customer("mallory@example.com")?;
    let agent = app.person("agent@example.com", "agent")?;
    let category = app.category("Billing")?;
    app.ticket(&alice, category, "alice secret").await?;

    let history = "/api/v1/support/get/ticket/history/";
    for subject in [
        "' OR '1'='1",
        "%' OR 1=1 --",
        "\\",
        "%",
        "_",
        "'; DROP TABLE tickets; --",
    ] {
        let answer = send(app.get(history, &mallory).query(&[("subject", subject)])).await?;
        assert_eq!(answer.assert_ok()["count"], 0, "{subject}");
    }
    for (name, value, message) in [
        ("category", "1 OR 1=1", "Category id is not valid numeric."),
        (
            "status",
            "1; DROP TABLE tickets",
            "Status id is not valid numeric.",
        ),
        ("offset", "0 UNION SELECT", "A valid integer is required."),
        ("limit", "1); --", "A valid integer is required."),
    ] {
        let answer = send(app.get(history, &mallory).query(&[(name, value)])).await?;
        answer.assert_errors(400, json!({ name: [message] }));
    }
    let queue = "/api/v1/agent/tickets/";
    for sort in [
        "id; DROP TABLE tickets",
        "subject",
        "t.id",
        "created_at DESC --",
        "-(SELECT 1)",
    ] {
        let answer = send(app.get(queue, &agent).query(&[("sort", sort)])).await?;
        answer.assert_errors(
            400,
            json!({"sort": [format!("\"{sort}\" is not a valid choice.")]}),
        );
    }
    for (name, value) in [
        ("tag", "1) OR (1=1"),
        ("category", "1 OR 1=1"),
        ("assignee", "1 OR 1=1"),
        ("status", "1) OR (1=1"),
    ] {
        let answer = send(app.get(queue, &agent).query(&[(name, value)])).await?;
        assert_eq!(answer.status, 400, "{name}={value}");
    }
    for (name, value) in [
        ("q", "' OR 1=1 --"),
        ("author", "' OR ''='"),
        ("cursor", "created:1 OR 1=1:1"),
    ] {
        let answer = send(app.get(queue, &agent).query(&[(name, value)])).await?;
        assert!(
            answer.status == 200 || answer.status == 400,
            "{name}: {}",
            answer.body
        );
        if answer.status == 200 {
            assert_eq!(answer.body["data"]["tickets"], json!([]), "{name}={value}");
        }
    }
    // Everything still works and still belongs to its owner.
    let answer = send(app.get(history, &alice)).await?;
    assert_eq!(answer.assert_ok()["count"], 1);
    app.ticket(&alice, category, "after the attack").await?;
    Ok(())
}

/// A multipart body with a raw, unescaped file name (reqwest would escape it).
fn raw_multipart(category: i64, filename: &[u8], content_type: &str, content: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in [
        ("subject", "files".to_owned()),
        ("priority", "1".to_owned()),
        ("comment", "c".to_owned()),
        ("category", category.to_string()),
    ] {
        body.extend_from_slice(
            format!("--XB\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        b"--XB\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"",
    );
    body.extend_from_slice(filename);
    body.extend_from_slice(format!("\"\r\nContent-Type: {content_type}\r\n\r\n").as_bytes());
    body.extend_from_slice(content);
    body.extend_from_slice(b"\r\n--XB--\r\n");
    body
}

fn all_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            all_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

async fn hostile_file_names_never_escape_the_storage_directory(backend: Backend) -> TestResult {
    let app = TestApp::spawn_with(backend, &[("SUPPORTDESK_OPEN_TICKET_LIMIT", "100")]).await?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Billing")?;
    let names: Vec<&[u8]> = vec![
        b"../../../../../../tmp/supportdesk-pwned.txt",
        b"..\\..\\..\\windows\\system32\\evil.dll",
        b"nul\x00byte.txt",
        b"line\r\nX-Injected: yes.txt",
        b"semi;colon; filename=other.txt",
        "ünïcødé 文件 🎫.txt".as_bytes(),
        b"/etc/passwd",
        b"..",
    ];
    let mut malformed = 0;
    for name in &names {
        let body = raw_multipart(category, name, "text/plain", b"hostile");
        let answer = send(
            app.post("/api/v1/support/create/ticket/", &alice)
                .header("content-type", "multipart/form-data; boundary=XB")
                .body(body),
        )
        .await?;
        if answer.status == 400 {
            // A name that breaks the part's header line (NUL, CR/LF) leaves no file name to
            // read: the body is malformed, or the part is no file. Refused whole either way.
            let errors = answer.body["errors"].clone();
            assert!(
                errors == json!({"detail": ["Malformed request body."]})
                    || errors
                        == json!({"attachment": ["The submitted data was not a file. Check the encoding type on the form."]}),
                "{errors}"
            );
            malformed += 1;
            continue;
        }
        let id = answer.assert_ok()["ticket"]["id"].as_i64().ok_or("no id")?;
        let detail = send(app.get(
            &format!("/api/v1/support/ticket/detailed-view/?ticket_id={id}"),
            &alice,
        ))
        .await?;
        let attachment = detail.assert_ok()["attachments"][0].clone();
        let stored_name = attachment["filename"].as_str().ok_or("no name")?.to_owned();
        assert!(
            !stored_name.contains('/') && !stored_name.contains('\\'),
            "{stored_name}"
        );
        assert!(
            !stored_name.chars().any(char::is_control),
            "{stored_name:?}"
        );
        let download = send(app.get(
            &format!("/api/v1/support/ticket/download/{}/", attachment["id"]),
            &alice,
        ))
        .await?;
        assert_eq!(download.bytes, b"hostile");
        let disposition = download
            .headers
            .get_all("content-disposition")
            .iter()
            .collect::<Vec<_>>();
        assert_eq!(disposition.len(), 1, "one header");
        let value = disposition[0].to_str()?;
        assert!(value.starts_with("attachment; filename=\""), "{value}");
        assert!(!value.contains('\r') && !value.contains('\n'));
        assert!(!download.headers.contains_key("x-injected"));
    }
    assert!(
        malformed <= 2,
        "only the CR/LF and NUL names may break the body"
    );
    let history = send(app.get("/api/v1/support/get/ticket/history/", &alice)).await?;
    assert_eq!(history.assert_ok()["count"], names.len() - malformed);
    assert!(!Path::new("/tmp/supportdesk-pwned.txt").exists());
    let mut files = Vec::new();
    all_files(app.data_dir.path(), &mut files)?;
    for file in files {
        let relative = file
            .strip_prefix(app.data_dir.path())?
            .to_string_lossy()
            .into_owned();
        let allowed = relative.starts_with("supportdesk.db")
            || relative.starts_with("server-")
            || relative.starts_with("attachments/")
                && relative
                    .rsplit('/')
                    .next()
                    .is_some_and(|n| n.len() == 32 && n.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(allowed, "unexpected file {relative}");
    }
    Ok(())
}

async fn html_svg_and_javascript_uploads_are_never_rendered(backend: Backend) -> TestResult {
    let app = TestApp::spawn_with(backend, &[("SUPPORTDESK_OPEN_TICKET_LIMIT", "100")]).await?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Billing")?;
    for (name, mime) in [
        ("x.html", "text/html; charset=utf-8"),
        ("x.htm", "application/xhtml+xml"),
        ("x.svg", "image/svg+xml"),
        ("x.js", "text/javascript"),
        ("x.mjs", "application/ecmascript"),
    ] {
        let body = raw_multipart(
            category,
            name.as_bytes(),
            mime,
            b"<script>alert(document.cookie)</script>",
        );
        let answer = send(
            app.post("/api/v1/support/create/ticket/", &alice)
                .header("content-type", "multipart/form-data; boundary=XB")
                .body(body),
        )
        .await?;
        let id = answer.assert_ok()["ticket"]["id"].as_i64().ok_or("no id")?;
        let detail = send(app.get(
            &format!("/api/v1/support/ticket/detailed-view/?ticket_id={id}"),
            &alice,
        ))
        .await?;
        let attachment = detail.assert_ok()["attachments"][0]["id"].clone();
        let download = send(app.get(
            &format!("/api/v1/support/ticket/download/{attachment}/"),
            &alice,
        ))
        .await?;
        assert_eq!(
            download.headers["content-type"], "application/octet-stream",
            "{name}"
        );
        assert_eq!(download.headers["x-content-type-options"], "nosniff");
        assert!(
            download.headers["content-security-policy"]
                .to_str()?
                .contains("sandbox")
        );
        assert!(
            download.headers["content-disposition"]
                .to_str()?
                .starts_with("attachment")
        );
    }
    Ok(())
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn fixture(name: &str) -> TestResult<Vec<u8>> {
    Ok(std::fs::read(Path::new(FIXTURES).join(name))?)
}

fn sign(
    alg: Algorithm,
    kid: Option<&str>,
    key: &EncodingKey,
    claims: &Value,
) -> TestResult<String> {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    Ok(jsonwebtoken::encode(&header, claims, key)?)
}

fn b64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(TABLE[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

const HS_SECRET: &str = "host-platform-shared-secret-for-tests";

async fn jwt_app() -> TestResult<TestApp> {
    let ec = format!("{FIXTURES}/ec_public.pem");
    let jwks = format!("{FIXTURES}/jwks.json");
    TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("SUPPORTDESK_JWT_HS256_SECRET", HS_SECRET),
            ("SUPPORTDESK_JWT_PUBLIC_KEY_FILE", &ec),
            ("SUPPORTDESK_JWT_JWKS_FILE", &jwks),
            ("SUPPORTDESK_JWT_ISSUER", "https://host.example"),
            ("SUPPORTDESK_JWT_AUDIENCE", "supportdesk"),
            ("SUPPORTDESK_JWT_ROLE_CLAIM", "desk_role"),
            ("SUPPORTDESK_JWT_LEEWAY", "5"),
        ],
    )
    .await
}

fn claims(sub: &str, email: &str) -> Value {
    json!({
        "sub": sub, "email": email, "iss": "https://host.example", "aud": "supportdesk",
        "exp": now() + 600, "nbf": now() - 10, "iat": now()
    })
}

fn bearer(token: String) -> Person {
    Person {
        id: 0,
        email: String::new(),
        token,
    }
}

#[tokio::test]
async fn host_platform_jwts_are_verified_strictly() -> TestResult {
    let app = jwt_app().await?;
    let history = "/api/v1/support/get/ticket/history/";
    let hs = EncodingKey::from_secret(HS_SECRET.as_bytes());
    let rsa = EncodingKey::from_rsa_pem(&fixture("rsa_private.pem")?)?;
    let other_rsa = EncodingKey::from_rsa_pem(&fixture("other_rsa_private.pem")?)?;
    let ec = EncodingKey::from_ec_pem(&fixture("ec_private.pem")?)?;

    // Good tokens of each kind: the person is created on first sight, then recognised.
    let good = [
        sign(
            Algorithm::HS256,
            None,
            &hs,
            &claims("u-1", "one@host.example"),
        )?,
        sign(
            Algorithm::RS256,
            Some("host-key-1"),
            &rsa,
            &claims("u-2", "two@host.example"),
        )?,
        sign(
            Algorithm::ES256,
            None,
            &ec,
            &claims("u-3", "three@host.example"),
        )?,
    ];
    for token in &good {
        send(app.get(history, &bearer(token.clone())))
            .await?
            .assert_ok();
        send(app.get(history, &bearer(token.clone())))
            .await?
            .assert_ok();
    }
    let category = app.category("Billing")?;
    let ticket = app
        .ticket(&bearer(good[0].clone()), category, "from the host")
        .await?;
    let detail = send(app.get(
        &format!("/api/v1/support/ticket/detailed-view/?ticket_id={ticket}"),
        &bearer(good[0].clone()),
    ))
    .await?;
    assert_eq!(detail.assert_ok()["author"], "one@host.example");
    // Another subject cannot see that ticket.
    let detail = send(app.get(
        &format!("/api/v1/support/ticket/detailed-view/?ticket_id={ticket}"),
        &bearer(good[1].clone()),
    ))
    .await?;
    assert_eq!(detail.status, 400);

    let mut bad: Vec<(&str, String)> = Vec::new();
    let mut expired = claims("u-1", "one@host.example");
    expired["exp"] = json!(now() - 3600);
    bad.push(("expired", sign(Algorithm::HS256, None, &hs, &expired)?));
    let mut early = claims("u-1", "one@host.example");
    early["nbf"] = json!(now() + 3600);
    bad.push(("not yet valid", sign(Algorithm::HS256, None, &hs, &early)?));
    bad.push((
        "wrong key",
        sign(
            Algorithm::RS256,
            Some("host-key-1"),
            &other_rsa,
            &claims("u-2", "two@host.example"),
        )?,
    ));
    bad.push((
        "wrong HS secret",
        sign(
            Algorithm::HS256,
            None,
            &EncodingKey::from_secret(b"guess"),
            &claims("u-1", "one@host.example"),
        )?,
    ));
    let mut wrong_aud = claims("u-1", "one@host.example");
    wrong_aud["aud"] = json!("another-service");
    bad.push((
        "wrong audience",
        sign(Algorithm::HS256, None, &hs, &wrong_aud)?,
    ));
    let mut wrong_iss = claims("u-1", "one@host.example");
    wrong_iss["iss"] = json!("https://evil.example");
    bad.push((
        "wrong issuer",
        sign(Algorithm::HS256, None, &hs, &wrong_iss)?,
    ));
    let mut no_aud = claims("u-1", "one@host.example");
    no_aud.as_object_mut().ok_or("claims")?.remove("aud");
    bad.push(("no audience", sign(Algorithm::HS256, None, &hs, &no_aud)?));
    let mut no_exp = claims("u-1", "one@host.example");
    no_exp.as_object_mut().ok_or("claims")?.remove("exp");
    bad.push(("no expiry", sign(Algorithm::HS256, None, &hs, &no_exp)?));
    bad.push(("no email on first sight", sign(Algorithm::HS256, None, &hs, &json!({"sub": "u-new", "iss": "https://host.example", "aud": "supportdesk", "exp": now() + 600}))?));
    // alg: none, by hand.
    let unsigned = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(claims("u-1", "one@host.example").to_string().as_bytes())
    );
    bad.push(("alg none", unsigned));
    // HS/RS confusion: HMAC keyed with the RSA public key the server trusts.
    let public_pem = fixture("rsa_public.pem")?;
    bad.push((
        "HS256 keyed with the public key",
        sign(
            Algorithm::HS256,
            Some("host-key-1"),
            &EncodingKey::from_secret(&public_pem),
            &claims("u-2", "two@host.example"),
        )?,
    ));
    let good_token = good[0].clone();
    let mut parts: Vec<&str> = good_token.split('.').collect();
    let tampered_payload = b64(claims("u-2", "two@host.example").to_string().as_bytes());
    parts[1] = &tampered_payload;
    bad.push(("tampered payload", parts.join(".")));
    bad.push(("garbage", "not.a.jwt".to_owned()));

    for (case, token) in bad {
        let answer = send(app.get(history, &bearer(token))).await?;
        assert_eq!(answer.status, 401, "{case}: {}", answer.body);
        answer.assert_errors(
            401,
            json!({"authorization": ["Invalid or expired access token."]}),
        );
    }

    // Roles come from the configured claim, and follow it.
    let mut agent_claims = claims("u-4", "agent@host.example");
    agent_claims["desk_role"] = json!("agent");
    let agent = bearer(sign(Algorithm::HS256, None, &hs, &agent_claims)?);
    send(app.get("/api/v1/agent/tickets/", &agent))
        .await?
        .assert_ok();
    agent_claims["desk_role"] = json!("customer");
    let demoted = bearer(sign(Algorithm::HS256, None, &hs, &agent_claims)?);
    assert_eq!(
        send(app.get("/api/v1/agent/tickets/", &demoted))
            .await?
            .status,
        403
    );

    // A deactivated person's host tokens stop working too.
    let admin = app.person("boss@example.com", "admin")?;
    let users = send(app.get("/api/v1/admin/users/", &admin)).await?;
    let id = users.assert_ok()["users"]
        .as_array()
        .and_then(|l| l.iter().find(|u| u["email"] == "one@host.example"))
        .and_then(|u| u["id"].as_i64())
        .ok_or("no user")?;
    send(
        app.post(&format!("/api/v1/admin/users/{id}/"), &admin)
            .form(&[("active", "false")]),
    )
    .await?
    .assert_ok();
    assert_eq!(
        send(app.get(history, &bearer(good[0].clone())))
            .await?
            .status,
        401
    );

    // Opaque tokens work beside host tokens.
    let local = app.customer("local@example.com")?;
    send(app.get(history, &local)).await?.assert_ok();
    Ok(())
}

#[tokio::test]
async fn a_desk_with_a_bad_key_file_refuses_to_start() -> TestResult {
    let result = TestApp::spawn_process_with(
        Backend::Sqlite,
        &[("SUPPORTDESK_JWT_PUBLIC_KEY_FILE", "/nonexistent/key.pem")],
    )
    .await;
    assert!(result.is_err());
    Ok(())
}

async fn sign_in(app: &TestApp, email: &str, password: &str) -> TestResult<crate::helpers::Answer> {
    send(
        app.request(Method::POST, "/api/v1/auth/token/", None)
            .form(&[("email", email), ("password", password)]),
    )
    .await
}

#[tokio::test]
async fn tokens_stop_working_after_sign_out_deactivation_and_expiry() -> TestResult {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("SUPPORTDESK_TOKEN_TTL", "2")]).await?;
    let admin = app.person("boss@example.com", "admin")?;
    let alice = app.customer("alice@example.com")?;
    let history = "/api/v1/support/get/ticket/history/";
    let invalid = json!({"authorization": ["Invalid or expired access token."]});

    // Sign-out revokes the access token and its refresh token.
    let session = sign_in(&app, "alice@example.com", "secret-pw")
        .await?
        .assert_ok()
        .clone();
    let token = bearer(
        session["access_token"]
            .as_str()
            .ok_or("no token")?
            .to_owned(),
    );
    send(app.get(history, &token)).await?.assert_ok();
    send(app.post("/api/v1/auth/revoke/", &token))
        .await?
        .assert_ok();
    send(app.get(history, &token))
        .await?
        .assert_errors(401, invalid.clone());
    let refreshed = send(
        app.request(Method::POST, "/api/v1/auth/refresh/", None)
            .form(&[(
                "refresh_token",
                session["refresh_token"].as_str().ok_or("no refresh")?,
            )]),
    )
    .await?;
    refreshed.assert_errors(
        401,
        json!({"detail": ["Invalid or expired refresh token."]}),
    );

    // Deactivation stops every token at once.
    send(app.get(history, &alice)).await?.assert_ok();
    send(
        app.post(&format!("/api/v1/admin/users/{}/", alice.id), &admin)
            .form(&[("active", "false")]),
    )
    .await?
    .assert_ok();
    send(app.get(history, &alice))
        .await?
        .assert_errors(401, invalid.clone());

    // Expiry (two seconds here).
    let session = sign_in(&app, "boss@example.com", "secret-pw")
        .await?
        .assert_ok()
        .clone();
    assert_eq!(session["expires_in"], 2);
    let token = bearer(
        session["access_token"]
            .as_str()
            .ok_or("no token")?
            .to_owned(),
    );
    send(app.get(history, &token)).await?.assert_ok();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    send(app.get(history, &token))
        .await?
        .assert_errors(401, invalid);
    Ok(())
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_replayed_one_revokes_the_family() -> TestResult {
    let app = TestApp::spawn(Backend::Sqlite).await?;
    app.customer("alice@example.com")?;
    let refresh = |token: String| {
        app.request(Method::POST, "/api/v1/auth/refresh/", None)
            .json(&json!({"refresh_token": token}))
    };
    let first = sign_in(&app, "alice@example.com", "secret-pw")
        .await?
        .assert_ok()
        .clone();
    let r1 = first["refresh_token"]
        .as_str()
        .ok_or("no refresh")?
        .to_owned();
    let second = send(refresh(r1.clone())).await?.assert_ok().clone();
    let a2 = bearer(
        second["access_token"]
            .as_str()
            .ok_or("no token")?
            .to_owned(),
    );
    let r2 = second["refresh_token"]
        .as_str()
        .ok_or("no refresh")?
        .to_owned();
    assert_ne!(r1, r2);
    send(app.get("/api/v1/support/get/ticket/history/", &a2))
        .await?
        .assert_ok();

    // Replaying r1 (stolen, say) fails, and takes every token of the family with it.
    send(refresh(r1)).await?.assert_errors(
        401,
        json!({"detail": ["Invalid or expired refresh token."]}),
    );
    let answer = send(app.get("/api/v1/support/get/ticket/history/", &a2)).await?;
    assert_eq!(answer.status, 401);
    send(refresh(r2)).await?.assert_errors(
        401,
        json!({"detail": ["Invalid or expired refresh token."]}),
    );
    send(refresh("sdr_nonsense".to_owned()))
        .await?
        .assert_errors(
            401,
            json!({"detail": ["Invalid or expired refresh token."]}),
        );
    Ok(())
}

#[tokio::test]
async fn sign_in_is_throttled_per_account_without_telling_whether_it_exists() -> TestResult {
    let app =
        TestApp::spawn_with(Backend::Sqlite, &[("SUPPORTDESK_SIGNIN_MAX_FAILURES", "3")]).await?;
    app.customer("alice@example.com")?;
    // The per-address count is also 3 here: use one server per account to keep them apart.
    for _ in 0..3 {
        sign_in(&app, "alice@example.com", "wrong")
            .await?
            .assert_errors(
                401,
                json!({"detail": ["Unable to log in with provided credentials."]}),
            );
    }
    let throttled = sign_in(&app, "alice@example.com", "secret-pw").await?;
    assert_eq!(throttled.status, 429, "even the right password waits");
    let retry: u64 = throttled.headers["retry-after"].to_str()?.parse()?;
    assert!(retry > 800 && retry <= 901, "{retry}");
    let message = throttled.errors("detail");

    let other =
        TestApp::spawn_with(Backend::Sqlite, &[("SUPPORTDESK_SIGNIN_MAX_FAILURES", "3")]).await?;
    for _ in 0..3 {
        sign_in(&other, "nobody@example.com", "wrong")
            .await?
            .assert_errors(
                401,
                json!({"detail": ["Unable to log in with provided credentials."]}),
            );
    }
    let unknown = sign_in(&other, "nobody@example.com", "wrong").await?;
    assert_eq!(unknown.status, 429);
    assert_eq!(unknown.errors("detail").len(), message.len());
    assert!(
        unknown.errors("detail")[0].starts_with("Request was throttled. Expected available in ")
    );
    Ok(())
}

#[tokio::test]
async fn sign_in_is_throttled_per_client_address_across_accounts() -> TestResult {
    let app =
        TestApp::spawn_with(Backend::Sqlite, &[("SUPPORTDESK_SIGNIN_MAX_FAILURES", "3")]).await?;
    app.customer("alice@example.com")?;
    for email in ["a@example.com", "b@example.com", "c@example.com"] {
        assert_eq!(sign_in(&app, email, "guess").await?.status, 401);
    }
    let answer = sign_in(&app, "alice@example.com", "secret-pw").await?;
    assert_eq!(
        answer.status, 429,
        "this address guessed too often: {}",
        answer.body
    );
    Ok(())
}

#[tokio::test]
async fn requests_over_the_rate_limit_get_429_with_retry_after() -> TestResult {
    let app =
        TestApp::spawn_with(Backend::Sqlite, &[("SUPPORTDESK_RATE_LIMIT_PER_KEY", "5")]).await?;
    let mut limited = 0;
    for _ in 0..30 {
        let answer =
            send(app.request(Method::GET, "/api/v1/support/get/category-list/", None)).await?;
        if answer.status == 429 {
            limited += 1;
            assert!(answer.headers.contains_key("retry-after"));
            assert_eq!(answer.body["status_code"], 429);
            assert!(answer.errors("detail")[0].starts_with("Request was throttled."));
        }
    }
    assert!(limited >= 20, "only {limited} of 30 were limited");
    // The health route is not limited.
    for _ in 0..20 {
        send(app.client.get(app.url("/healthz"))).await?.assert_ok();
    }
    let per_ip =
        TestApp::spawn_with(Backend::Sqlite, &[("SUPPORTDESK_RATE_LIMIT_PER_IP", "3")]).await?;
    let mut limited = 0;
    for _ in 0..15 {
        let answer = send(
            per_ip
                .client
                .get(per_ip.url("/api/v1/support/get/category-list/")),
        )
        .await?;
        limited += usize::from(answer.status == 429);
    }
    assert!(limited >= 10, "only {limited} of 15 were limited");
    Ok(())
}

#[tokio::test]
async fn registration_is_off_by_default_and_checks_passwords_when_on() -> TestResult {
    let off = TestApp::spawn(Backend::Sqlite).await?;
    let answer = send(
        off.request(Method::POST, "/api/v1/auth/register/", None)
            .form(&[
                ("email", "new@example.com"),
                ("password", "a long passphrase"),
            ]),
    )
    .await?;
    answer.assert_errors(403, json!({"detail": ["Registration is disabled."]}));

    let app = TestApp::spawn_with(Backend::Sqlite, &[("SUPPORTDESK_REGISTRATION", "true")]).await?;
    let register = |email: &str, password: &str| {
        app.request(Method::POST, "/api/v1/auth/register/", None)
            .form(&[
                ("email", email.to_owned()),
                ("password", password.to_owned()),
            ])
    };
    let answer = send(register("new@example.com", "1234567")).await?;
    answer.assert_errors(
        400,
        json!({"password": [
            "This password is too short. It must contain at least 8 characters.",
            "This password is entirely numeric.",
        ]}),
    );
    let answer = send(register("newbie@example.com", "password")).await?;
    answer.assert_errors(400, json!({"password": ["This password is too common."]}));
    let answer = send(register("not-an-email", "")).await?;
    answer.assert_errors(400, json!({"email": ["Enter a valid email address."], "password": ["This field may not be blank."]}));
    let answer = send(register("New@Example.com", "a long passphrase")).await?;
    assert_eq!(answer.assert_ok()["user"]["email"], "new@example.com");
    assert_eq!(answer.body["data"]["user"]["role"], "customer");
    send(register("new@example.com", "another passphrase"))
        .await?
        .assert_errors(
            400,
            json!({"email": ["A user with that email already exists."]}),
        );
    sign_in(&app, "new@example.com", "a long passphrase")
        .await?
        .assert_ok();
    // Registration needs the client's key like everything else.
    let answer = send(app.client.post(app.url("/api/v1/auth/register/")).form(&[
        ("email", "x@example.com"),
        ("password", "a long passphrase"),
    ]))
    .await?;
    assert_eq!(answer.status, 401);
    Ok(())
}

#[tokio::test]
async fn customer_scoped_keys_cannot_reach_staff_routes() -> TestResult {
    let app = TestApp::spawn(Backend::Sqlite).await?;
    let admin = app.person("boss@example.com", "admin")?;
    let key = app.cli_ok(&["apikey", "create", "--name", "mobile"])?;
    let with_key = |method: Method, path: &str| {
        app.client
            .request(method, app.url(path))
            .header("apikey", &key)
            .bearer_auth(&admin.token)
    };
    send(with_key(Method::GET, "/api/v1/support/get/ticket/history/"))
        .await?
        .assert_ok();
    for path in ["/api/v1/agent/tickets/", "/api/v1/admin/users/"] {
        let answer = send(with_key(Method::GET, path)).await?;
        answer.assert_errors(
            403,
            json!({"detail": ["This API key may not be used for staff routes."]}),
        );
    }
    let staff_key = send(
        app.post("/api/v1/admin/apikeys/", &admin)
            .form(&[("name", "console"), ("scope", "all")]),
    )
    .await?;
    let staff_key = staff_key.assert_ok()["apikey"]
        .as_str()
        .ok_or("no key")?
        .to_owned();
    let answer = send(
        app.client
            .get(app.url("/api/v1/admin/users/"))
            .header("apikey", staff_key)
            .bearer_auth(&admin.token),
    )
    .await?;
    answer.assert_ok();
    Ok(())
}

#[tokio::test]
async fn cors_allows_the_configured_origins_only_and_every_answer_has_security_headers()
-> TestResult {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[(
            "SUPPORTDESK_CORS_ORIGINS",
            "https://app.example.com,https://other.example.com",
        )],
    )
    .await?;
    let preflight = |origin: &str| {
        app.client
            .request(Method::OPTIONS, app.url("/api/v1/support/create/ticket/"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "apikey, authorization, content-type",
            )
    };
    let allowed = preflight("https://app.example.com").send().await?;
    assert!(allowed.status().is_success());
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(
        !allowed
            .headers()
            .contains_key("access-control-allow-credentials")
    );
    let refused = preflight("https://evil.example.com").send().await?;
    assert!(
        !refused
            .headers()
            .contains_key("access-control-allow-origin")
    );
    let simple = app
        .client
        .get(app.url("/api/v1/support/get/category-list/"))
        .header("apikey", &app.apikey)
        .header("origin", "https://app.example.com")
        .send()
        .await?;
    assert_eq!(
        simple.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );

    for path in ["/healthz", "/api/v1/support/get/category-list/", "/nowhere"] {
        let answer = send(app.client.get(app.url(path)).header("apikey", &app.apikey)).await?;
        assert_eq!(
            answer.headers["x-content-type-options"], "nosniff",
            "{path}"
        );
        assert_eq!(answer.headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(answer.headers["referrer-policy"], "no-referrer", "{path}");
        assert!(
            answer.headers.contains_key("content-security-policy"),
            "{path}"
        );
        assert_eq!(answer.headers["cache-control"], "no-store", "{path}");
    }
    Ok(())
}

#[tokio::test]
async fn a_client_that_sends_its_headers_slowly_is_cut_off() -> TestResult {
    let app = TestApp::spawn_process_with(Backend::Sqlite, &[("SUPPORTDESK_HEADER_TIMEOUT", "1")])
        .await?;
    let address = app.origin.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await?;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await?;
    // Never finish the headers: the server must close the connection by itself.
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "the connection was still open after 10 s");
    // Others are served meanwhile and afterwards.
    send(app.client.get(app.url("/healthz"))).await?.assert_ok();
    Ok(())
}

#[tokio::test]
async fn oversized_headers_and_too_many_connections_are_refused() -> TestResult {
    let app = TestApp::spawn_process_with(Backend::Sqlite, &[("SUPPORTDESK_MAX_CONNECTIONS", "2")])
        .await?;
    let huge = "x".repeat(64 * 1024);
    let answer = app
        .client
        .get(app.url("/healthz"))
        .header("x-padding", huge)
        .send()
        .await;
    match answer {
        Ok(response) => assert_eq!(response.status(), 431),
        // The server may close the connection before the client has sent everything.
        Err(err) => assert!(err.is_request() || err.is_connect(), "{err}"),
    }

    let address = app.origin.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = tokio::net::TcpStream::connect(&address).await?;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await?;
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf).await?;
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        held.push(stream);
    }
    // Both slots are held by idle keep-alive connections: a third is closed unanswered.
    let mut third = tokio::net::TcpStream::connect(&address).await?;
    let _ = third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), third.read_to_end(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "the third connection was served"
    );
    drop(held);
    // With the slots free again, connections are served.
    let mut served = false;
    for _ in 0..50 {
        if send(app.client.get(app.url("/healthz")))
            .await
            .is_ok_and(|a| a.status == 200)
        {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served);
    Ok(())
}

#[tokio::test]
async fn no_secret_ever_reaches_the_log() -> TestResult {
    let app = TestApp::spawn_process_with(Backend::Sqlite, &[("RUST_LOG", "trace")]).await?;
    app.customer("alice@example.com")?;
    let session = sign_in(&app, "alice@example.com", "secret-pw")
        .await?
        .assert_ok()
        .clone();
    let token = session["access_token"]
        .as_str()
        .ok_or("no token")?
        .to_owned();
    let refresh_token = session["refresh_token"]
        .as_str()
        .ok_or("no refresh")?
        .to_owned();
    send(app.get(
        "/api/v1/support/get/ticket/history/?subject=x",
        &bearer(token.clone()),
    ))
    .await?
    .assert_ok();
    send(
        app.request(Method::POST, "/api/v1/auth/refresh/", None)
            .form(&[("refresh_token", refresh_token.as_str())]),
    )
    .await?
    .assert_ok();
    sign_in(&app, "alice@example.com", "a-wrong-password").await?;
    let log = app.log();
    assert!(
        log.contains("/api/v1/auth/token"),
        "the log was written: {log}"
    );
    for secret in [
        app.apikey.as_str(),
        &token,
        &refresh_token,
        "secret-pw",
        "a-wrong-password",
        &app.admin_password,
    ] {
        assert!(!log.contains(secret), "the log contains a secret");
    }
    Ok(())
}

on_both_backends!(
    another_persons_ids_get_nothing_on_every_id_taking_route,
    sql_and_unknown_names_in_filters_and_sorts_are_inert,
    hostile_file_names_never_escape_the_storage_directory,
    html_svg_and_javascript_uploads_are_never_rendered,
);
