//! The findings of the security review (issue 11): sessions that outlive a password reset,
//! throttling and refresh rotation under concurrency, host identities, what an internal note
//! tells a customer, invisible characters, orphaned uploads, and the connection-level limits.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::helpers::{Answer, Backend, Person, TestApp, TestResult, eventually, send};

const HISTORY: &str = "/api/v1/support/get/ticket/history/";

async fn sign_in(app: &TestApp, email: &str, password: &str) -> TestResult<Answer> {
    send(
        app.request(Method::POST, "/api/v1/auth/token/", None)
            .form(&[("email", email), ("password", password)]),
    )
    .await
}

/// A session from sign-in: the access token (as a `Person` to call with) and the refresh token.
async fn session(app: &TestApp, email: &str, password: &str) -> TestResult<(Person, String)> {
    let answer = sign_in(app, email, password).await?;
    let data = answer.assert_ok();
    let access = data["access_token"].as_str().ok_or("no access token")?;
    let refresh = data["refresh_token"].as_str().ok_or("no refresh token")?;
    Ok((bearer(access), refresh.to_owned()))
}

fn bearer(token: &str) -> Person {
    Person {
        id: 0,
        email: String::new(),
        token: token.to_owned(),
    }
}

async fn refresh(app: &TestApp, token: &str) -> TestResult<Answer> {
    send(
        app.request(Method::POST, "/api/v1/auth/refresh/", None)
            .form(&[("refresh_token", token)]),
    )
    .await
}

/// Asserts that neither token of a session works any more.
async fn assert_session_ended(app: &TestApp, access: &Person, refresh_token: &str) -> TestResult {
    // Changes made by the CLI reach the server within its refresh interval.
    let answer = eventually(|| app.get(HISTORY, access), |a| a.status == 401).await?;
    answer.assert_errors(
        401,
        json!({"authorization": ["Invalid or expired access token."]}),
    );
    refresh(app, refresh_token).await?.assert_errors(
        401,
        json!({"detail": ["Invalid or expired refresh token."]}),
    );
    Ok(())
}

// ---- 1. A new password, a deactivation or a role change ends every session ----------------

async fn a_password_reset_deactivation_or_role_change_ends_every_session(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let admin = app.person("boss@example.com", "admin")?;
    let alice = app.customer("alice@example.com")?;
    let update = |fields: &[(&str, &str)]| {
        app.post(&format!("/api/v1/admin/users/{}/", alice.id), &admin)
            .form(fields)
    };

    // A new password through the admin API.
    let (access, refresh_token) = session(&app, "alice@example.com", "secret-pw").await?;
    send(app.get(HISTORY, &access)).await?.assert_ok();
    send(update(&[("password", "a new password 1")]))
        .await?
        .assert_ok();
    assert_session_ended(&app, &access, &refresh_token).await?;

    // A new password through the command line.
    let (access, refresh_token) = session(&app, "alice@example.com", "a new password 1").await?;
    let id = alice.id.to_string();
    app.cli_ok(&["user", "update", &id, "--password", "a new password 2"])?;
    assert_session_ended(&app, &access, &refresh_token).await?;

    // A role change.
    let (access, refresh_token) = session(&app, "alice@example.com", "a new password 2").await?;
    send(update(&[("role", "agent")])).await?.assert_ok();
    assert_session_ended(&app, &access, &refresh_token).await?;

    // A deactivation, and reactivation does not bring the old sessions back.
    let (access, refresh_token) = session(&app, "alice@example.com", "a new password 2").await?;
    send(update(&[("active", "false")])).await?.assert_ok();
    send(update(&[("active", "true")])).await?.assert_ok();
    assert_session_ended(&app, &access, &refresh_token).await?;
    // The same through the command line.
    let (access, refresh_token) = session(&app, "alice@example.com", "a new password 2").await?;
    app.cli_ok(&["user", "update", &id, "--active", "false"])?;
    app.cli_ok(&["user", "update", &id, "--active", "true"])?;
    assert_session_ended(&app, &access, &refresh_token).await?;

    // The person can sign in again afterwards, and the new session works.
    let (access, _) = session(&app, "alice@example.com", "a new password 2").await?;
    send(app.get(HISTORY, &access)).await?.assert_ok();
    Ok(())
}

// ---- 2. Sign-in throttling holds under concurrency ------------------------------------------

/// Sends all the sign-ins at once; answers (200, 401, 429) counts.
async fn concurrent_sign_ins(
    app: &TestApp,
    client: &reqwest::Client,
    attempts: &[(&str, &str)],
) -> TestResult<[usize; 3]> {
    let mut set = tokio::task::JoinSet::new();
    for (email, password) in attempts {
        let request = client
            .post(app.url("/api/v1/auth/token/"))
            .header("apikey", &app.apikey)
            .form(&[("email", *email), ("password", *password)]);
        set.spawn(async move { send(request).await.map(|a| a.status.as_u16()) });
    }
    let mut counts = [0usize; 3];
    while let Some(status) = set.join_next().await {
        match status?? {
            200 => counts[0] += 1,
            401 => counts[1] += 1,
            429 => counts[2] += 1,
            other => return Err(format!("a sign-in answered {other}").into()),
        }
    }
    Ok(counts)
}

async fn concurrent_guesses_check_at_most_the_configured_number_of_passwords(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn_with(backend, &[("SUPPORTDESK_SIGNIN_MAX_FAILURES", "10")]).await?;
    app.customer("alice@example.com")?;

    // 59 wrong guesses and the right password, all at once.
    let mut attempts = vec![("alice@example.com", "wrong guess"); 59];
    attempts.insert(30, ("alice@example.com", "secret-pw"));
    let [succeeded, refused, throttled] = concurrent_sign_ins(&app, &app.client, &attempts).await?;
    assert!(
        refused <= 10,
        "{refused} wrong passwords were checked against a limit of 10"
    );
    assert!(succeeded <= 1);
    assert_eq!(succeeded + refused + throttled, 60);
    assert!(throttled >= 49, "{throttled} throttled");

    // 60 guesses at an account that does not exist, from another address (the first one has
    // used up its attempts), half through a second server on the same database: the
    // reservations are in the database, so both processes count the same ones.
    let other = app.sibling()?;
    let client = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()?;
    let guesses = vec![("bob@example.com", "wrong guess"); 30];
    let (first, second) = tokio::join!(
        concurrent_sign_ins(&app, &client, &guesses),
        concurrent_sign_ins(&other, &client, &guesses)
    );
    let (first, second) = (first?, second?);
    let [succeeded, refused, throttled] = [0, 1, 2].map(|i| first[i] + second[i]);
    assert_eq!(succeeded, 0);
    assert!(
        refused <= 10,
        "{refused} passwords were checked against a limit of 10"
    );
    assert!(
        refused >= 1,
        "the address's attempts were counted against the first one's"
    );
    assert_eq!(throttled, 60 - refused);
    Ok(())
}

// ---- 3. Refresh reuse detection does not lose a race ----------------------------------------

async fn two_simultaneous_refreshes_leave_no_token_of_the_family_working(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    app.customer("alice@example.com")?;
    for trial in 0..15 {
        let (access, refresh_token) = session(&app, "alice@example.com", "secret-pw").await?;
        let (a, b) = tokio::join!(refresh(&app, &refresh_token), refresh(&app, &refresh_token));
        let (a, b) = (a?, b?);
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 401], "trial {trial}");
        let winner = if a.status == 200 { &a } else { &b };
        let new_access = winner.body["data"]["access_token"]
            .as_str()
            .ok_or("no access token")?;
        let new_refresh = winner.body["data"]["refresh_token"]
            .as_str()
            .ok_or("no refresh token")?;
        // The reuse revoked the whole family, the winner's new tokens included.
        for token in [&access, &bearer(new_access)] {
            let answer = send(app.get(HISTORY, token)).await?;
            assert_eq!(answer.status, 401, "trial {trial}: {}", answer.body);
        }
        let answer = refresh(&app, new_refresh).await?;
        assert_eq!(answer.status, 401, "trial {trial}: {}", answer.body);
    }
    Ok(())
}

// ---- 4. Host identities never take over staff accounts --------------------------------------

const HS_SECRET: &str = "host-platform-shared-secret-for-tests";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn host_token(claims: &Value) -> TestResult<Person> {
    let mut claims = claims.clone();
    claims["exp"] = json!(now() + 600);
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(HS_SECRET.as_bytes()),
    )?;
    Ok(bearer(&token))
}

async fn host_app(backend: Backend) -> TestResult<TestApp> {
    TestApp::spawn_with(
        backend,
        &[
            ("SUPPORTDESK_JWT_HS256_SECRET", HS_SECRET),
            ("SUPPORTDESK_JWT_ROLE_CLAIM", "desk_role"),
        ],
    )
    .await
}

async fn a_host_token_never_takes_over_a_staff_account_or_lowers_a_role_by_omission(
    backend: Backend,
) -> TestResult {
    let app = host_app(backend).await?;
    let invalid = json!({"authorization": ["Invalid or expired access token."]});

    // The first start's administrator, and a local agent: a host token naming their email
    // (in any case) is not them.
    app.person("agent@example.com", "agent")?;
    for (sub, email) in [
        ("h-admin", "ADMIN@localhost"),
        ("h-agent", "agent@example.com"),
    ] {
        let forged = host_token(&json!({"sub": sub, "email": email}))?;
        send(app.get("/api/v1/admin/users/", &forged))
            .await?
            .assert_errors(401, invalid.clone());
        send(app.get(HISTORY, &forged))
            .await?
            .assert_errors(401, invalid.clone());
    }
    // The administrator is untouched: still an administrator who can sign in.
    let (admin, _) = session(&app, &app.admin_email, &app.admin_password).await?;
    send(app.get("/api/v1/admin/users/", &admin))
        .await?
        .assert_ok();

    // A local customer is linked by email: the host's token sees their tickets.
    let carol = app.customer("carol@example.com")?;
    let category = app.category("Billing")?;
    app.ticket(&carol, category, "from before the host").await?;
    let linked = host_token(&json!({"sub": "h-carol", "email": "carol@example.com"}))?;
    let history = send(app.get(HISTORY, &linked)).await?;
    assert_eq!(history.assert_ok()["count"], 1);

    // A host agent keeps their role when a token comes without the claim...
    let mut claims = json!({"sub": "h-dana", "email": "dana@host.example", "desk_role": "agent"});
    send(app.get("/api/v1/agent/tickets/", &host_token(&claims)?))
        .await?
        .assert_ok();
    claims.as_object_mut().ok_or("claims")?.remove("desk_role");
    send(app.get("/api/v1/agent/tickets/", &host_token(&claims)?))
        .await?
        .assert_ok();
    // ...or with a value the desk does not know...
    claims["desk_role"] = json!("superuser");
    send(app.get("/api/v1/agent/tickets/", &host_token(&claims)?))
        .await?
        .assert_ok();
    // ...and an explicit `customer` is the host saying so: it demotes.
    claims["desk_role"] = json!("customer");
    let demoted = send(app.get("/api/v1/agent/tickets/", &host_token(&claims)?)).await?;
    assert_eq!(demoted.status, 403, "{}", demoted.body);
    Ok(())
}

// ---- 5. An internal note changes nothing a customer can observe -----------------------------

async fn an_internal_note_changes_nothing_the_customer_can_observe(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let agent = app.person("agent@example.com", "agent")?;
    let category = app.category("Billing")?;
    let ticket = app.ticket(&alice, category, "Charged twice").await?;
    let detail = format!("/api/v1/support/ticket/detailed-view/?ticket_id={ticket}");

    let history_before = send(app.get(HISTORY, &alice)).await?;
    let detail_before = send(app.get(&detail, &alice)).await?;
    let history_etag = history_before.headers["etag"].to_str()?.to_owned();
    let detail_etag = detail_before.headers["etag"].to_str()?.to_owned();

    send(
        app.post(&format!("/api/v1/agent/tickets/{ticket}/note/"), &agent)
            .form(&[("comment", "Customer is on the fraud watch list")]),
    )
    .await?
    .assert_ok();

    // The same bytes, the same validators: still 304.
    let history_after = send(app.get(HISTORY, &alice)).await?;
    assert_eq!(history_after.body, history_before.body);
    let detail_after = send(app.get(&detail, &alice)).await?;
    assert_eq!(detail_after.body, detail_before.body);
    for (path, etag) in [(HISTORY, &history_etag), (detail.as_str(), &detail_etag)] {
        let answer = send(app.get(path, &alice).header("if-none-match", etag)).await?;
        assert_eq!(answer.status, 304, "{path} changed after an internal note");
    }

    // Staff still see the note, in the conversation and in the event trail.
    let full = send(app.get(&format!("/api/v1/agent/tickets/{ticket}/"), &agent)).await?;
    let data = full.assert_ok();
    let notes: Vec<&Value> = data["conversations"]
        .as_array()
        .ok_or("no conversations")?
        .iter()
        .filter(|c| c["internal"] == true)
        .collect();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["comment"], "Customer is on the fraud watch list");
    assert!(
        data["events"]
            .as_array()
            .ok_or("no events")?
            .iter()
            .any(|e| e["kind"] == "note")
    );

    // A reply, by contrast, is news to the customer.
    send(
        app.post(&format!("/api/v1/agent/tickets/{ticket}/reply/"), &agent)
            .form(&[("comment", "Refunded")]),
    )
    .await?
    .assert_ok();
    let answer = send(
        app.get(&detail, &alice)
            .header("if-none-match", &detail_etag),
    )
    .await?;
    assert_eq!(answer.status, 200);
    assert_ne!(
        answer.body["data"]["ticket"]["updated_at"],
        detail_before.body["data"]["ticket"]["updated_at"]
    );
    Ok(())
}

// ---- 10. Sessions belong to the API key they were made with; host tokens can sign out --------

fn with_key(app: &TestApp, key: &str, path: &str, who: &Person) -> reqwest::RequestBuilder {
    app.client
        .get(app.url(path))
        .header("apikey", key)
        .bearer_auth(&who.token)
}

async fn a_session_works_only_with_its_api_key_and_ends_with_it(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    app.customer("alice@example.com")?;
    let admin = app.person("boss@example.com", "admin")?;
    let invalid = json!({"authorization": ["Invalid or expired access token."]});
    let other_key = app.cli_ok(&["apikey", "create", "--name", "mobile"])?;
    let refresh_with = |key: &str, token: &str| {
        app.client
            .post(app.url("/api/v1/auth/refresh/"))
            .header("apikey", key)
            .form(&[("refresh_token", token.to_owned())])
    };

    // Signed in under the first key: that key only, for the token and for refreshing it.
    let (access, refresh_token) = session(&app, "alice@example.com", "secret-pw").await?;
    send(with_key(&app, &app.apikey, HISTORY, &access))
        .await?
        .assert_ok();
    send(with_key(&app, &other_key, HISTORY, &access))
        .await?
        .assert_errors(401, invalid.clone());
    send(refresh_with(&other_key, &refresh_token))
        .await?
        .assert_errors(
            401,
            json!({"detail": ["Invalid or expired refresh token."]}),
        );
    send(refresh_with(&app.apikey, &refresh_token))
        .await?
        .assert_ok();

    // Signed in under the second key, which is then revoked: the session ends with it.
    let answer = send(
        app.client
            .post(app.url("/api/v1/auth/token/"))
            .header("apikey", &other_key)
            .form(&[("email", "alice@example.com"), ("password", "secret-pw")]),
    )
    .await?;
    let data = answer.assert_ok();
    let mobile = bearer(data["access_token"].as_str().ok_or("no token")?);
    let mobile_refresh = data["refresh_token"]
        .as_str()
        .ok_or("no refresh")?
        .to_owned();
    send(with_key(&app, &other_key, HISTORY, &mobile))
        .await?
        .assert_ok();
    let key_id = app.apikey_id("mobile")?;
    send(app.post(&format!("/api/v1/admin/apikeys/{key_id}/revoke/"), &admin))
        .await?
        .assert_ok();
    send(with_key(&app, &app.apikey, HISTORY, &mobile))
        .await?
        .assert_errors(401, invalid.clone());
    send(refresh_with(&app.apikey, &mobile_refresh))
        .await?
        .assert_errors(
            401,
            json!({"detail": ["Invalid or expired refresh token."]}),
        );

    // A token made on the command line belongs to no key: it works with any live one.
    let third_key = app.cli_ok(&["apikey", "create", "--name", "third"])?;
    let cli = app.customer("carol@example.com")?;
    for key in [&app.apikey, &third_key] {
        send(with_key(&app, key, HISTORY, &cli)).await?.assert_ok();
    }
    Ok(())
}

async fn signing_out_a_host_token_refuses_it_until_it_expires(backend: Backend) -> TestResult {
    let app = host_app(backend).await?;
    let claims = json!({"sub": "h-erin", "email": "erin@host.example"});
    let token = host_token(&claims)?;
    send(app.get(HISTORY, &token)).await?.assert_ok();
    send(app.post("/api/v1/auth/revoke/", &token))
        .await?
        .assert_ok();
    let invalid = json!({"authorization": ["Invalid or expired access token."]});
    send(app.get(HISTORY, &token))
        .await?
        .assert_errors(401, invalid.clone());
    // Every process sharing the database refuses it.
    let sibling = app.sibling()?;
    send(sibling.get(HISTORY, &token))
        .await?
        .assert_errors(401, invalid);
    // Another token of the same person (a new sign-in on the host) works.
    let mut fresh = claims.clone();
    fresh["iat"] = json!(now());
    fresh["jti"] = json!("second");
    send(app.get(HISTORY, &host_token(&fresh)?))
        .await?
        .assert_ok();
    Ok(())
}

// ---- 6. Invisible format characters and look-alike emails -----------------------------------

const INVISIBLE: &str = "Email addresses may not contain invisible characters.";
const MIXED: &str = "Email addresses may not mix scripts (such as Latin and Cyrillic) in one part.";

/// A create-ticket multipart body with a raw, unescaped file name (reqwest would escape it).
fn ticket_with_file(category: i64, filename: &str) -> Vec<u8> {
    let mut body = String::new();
    for (name, value) in [
        ("subject", "files".to_owned()),
        ("priority", "1".to_owned()),
        ("comment", "c".to_owned()),
        ("category", category.to_string()),
    ] {
        body.push_str(&format!(
            "--XB\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!(
        "--XB\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"{filename}\"\r\n\
         Content-Type: application/pdf\r\n\r\n%PDF-1.4\r\n--XB--\r\n"
    ));
    body.into_bytes()
}

async fn invisible_characters_and_look_alike_emails_are_refused(backend: Backend) -> TestResult {
    let app = TestApp::spawn_with(backend, &[("SUPPORTDESK_REGISTRATION", "true")]).await?;
    let alice = app.customer("alice@example.com")?;
    let admin = app.person("boss@example.com", "admin")?;
    let category = app.category("Billing")?;

    // A right-to-left override would show `invoice\u{202E}txt.exe` as `invoiceexe.txt`.
    let created = send(
        app.post("/api/v1/support/create/ticket/", &alice)
            .header("content-type", "multipart/form-data; boundary=XB")
            .body(ticket_with_file(category, "invoice\u{202E}txt\u{200B}.exe")),
    )
    .await?;
    let ticket = created.assert_ok()["ticket"]["id"]
        .as_i64()
        .ok_or("no id")?;
    let detail = send(app.get(
        &format!("/api/v1/support/ticket/detailed-view/?ticket_id={ticket}"),
        &alice,
    ))
    .await?;
    let attachment = &detail.assert_ok()["attachments"][0];
    assert_eq!(attachment["filename"], "invoicetxt.exe");
    let download = send(app.get(
        &format!("/api/v1/support/ticket/download/{}/", attachment["id"]),
        &alice,
    ))
    .await?;
    let disposition = download.headers["content-disposition"].to_str()?;
    assert!(!disposition.contains("%E2%80%AE"), "{disposition}");

    // Emails: registration, administrators' creation, sign-in and the command line.
    let register = |email: &str| {
        app.request(Method::POST, "/api/v1/auth/register/", None)
            .form(&[("email", email), ("password", "a long passphrase")])
    };
    let admin_create = |email: &str| {
        app.post("/api/v1/admin/users/", &admin)
            .form(&[("email", email), ("password", "a long passphrase")])
    };
    for (email, message) in [
        ("ali\u{200B}ce@example.com", INVISIBLE),
        ("alice\u{202E}@example.com", INVISIBLE),
        ("alice@exa\u{00AD}mple.com", INVISIBLE),
        ("\u{0430}lice@example.com", MIXED),
        ("alice@\u{0435}xample.com", MIXED),
    ] {
        send(register(email))
            .await?
            .assert_errors(400, json!({ "email": [message] }));
        send(admin_create(email))
            .await?
            .assert_errors(400, json!({ "email": [message] }));
        sign_in(&app, email, "secret-pw")
            .await?
            .assert_errors(400, json!({ "email": [message] }));
        let out = app.cli(&["user", "create", "--email", email, "--password", "pw"])?;
        assert!(!out.status.success(), "the command line took {email:?}");
    }
    // Full-width letters are folded (NFKC): the same person, not a new one.
    send(register("\u{FF41}lice@example.com"))
        .await?
        .assert_errors(
            400,
            json!({"email": ["A user with that email already exists."]}),
        );
    let answer = send(register("\u{FF42}ob@\u{FF45}xample.com")).await?;
    assert_eq!(answer.assert_ok()["user"]["email"], "bob@example.com");
    sign_in(&app, "\u{FF41}lice@example.com", "secret-pw")
        .await?
        .assert_ok();
    // One script per part is fine: a Cyrillic address on a Latin domain.
    let answer = send(register("\u{0438}\u{0432}\u{0430}\u{043D}@example.com")).await?;
    answer.assert_ok();
    Ok(())
}

// ---- 7. Uploads cut off by a disconnect leave nothing behind ---------------------------------

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// A create-ticket request with one `size`-byte file, as raw HTTP/1.1 bytes.
fn raw_create(app: &TestApp, who: &Person, category: i64, size: usize) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in [
        ("subject", "cut off".to_owned()),
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
        b"--XB\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"a.bin\"\r\n\
          Content-Type: application/octet-stream\r\n\r\n",
    );
    body.extend(std::iter::repeat_n(b'x', size));
    body.extend_from_slice(b"\r\n--XB--\r\n");
    let address = app.origin.trim_start_matches("http://");
    let mut request = format!(
        "POST /api/v1/support/create/ticket/ HTTP/1.1\r\nHost: {address}\r\napikey: {}\r\n\
         Authorization: Bearer {}\r\nContent-Type: multipart/form-data; boundary=XB\r\n\
         Content-Length: {}\r\n\r\n",
        app.apikey,
        who.token,
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    request
}

/// Waits until `done` holds of the server's data directory, or a few seconds have passed.
async fn settle(done: impl Fn() -> bool) -> bool {
    // Up to 15 s: under a loaded CI machine, a hundred 512 KiB uploads on PostgreSQL take a while
    // to be stored or undone.
    for _ in 0..300 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done()
}

async fn uploads_cut_off_by_a_disconnect_leave_no_files_behind(backend: Backend) -> TestResult {
    let app = TestApp::spawn_with(backend, &[("SUPPORTDESK_OPEN_TICKET_LIMIT", "100000")]).await?;
    let alice = app.customer("alice@example.com")?;
    let agent = app.person("agent@example.com", "agent")?;
    let category = app.category("Billing")?;
    let address = app.origin.trim_start_matches("http://").to_owned();
    let staging = app.data_dir.path().join("tmp");
    let blobs = app.data_dir.path().join("attachments");

    // Uploads whose sender goes away half-way through the file.
    let partial = raw_create(&app, &alice, category, 256 * 1024);
    let mut cut = tokio::task::JoinSet::new();
    for i in 0..200 {
        let request = partial[..partial.len() / 2 + i].to_vec();
        let address = address.clone();
        cut.spawn(async move {
            let mut stream = tokio::net::TcpStream::connect(&address).await?;
            stream.write_all(&request).await?;
            stream.shutdown().await?;
            Ok::<_, std::io::Error>(())
        });
    }
    while let Some(done) = cut.join_next().await {
        // A connection the server closed first is fine.
        let _ = done?;
    }
    // Whole uploads whose sender hangs up after sending, before the answer, at moments spread
    // over the time the server takes to store and record them.
    let whole = raw_create(&app, &alice, category, 512 * 1024);
    for round in 0..10u64 {
        for i in 0..10u64 {
            let request = whole.clone();
            let address = address.clone();
            cut.spawn(async move {
                let mut stream = tokio::net::TcpStream::connect(&address).await?;
                stream.write_all(&request).await?;
                tokio::time::sleep(Duration::from_millis(round * 30 + i * 3)).await;
                drop(stream);
                Ok::<_, std::io::Error>(())
            });
        }
        while let Some(done) = cut.join_next().await {
            let _ = done?;
        }
    }

    // Nothing is left in the staging area, and every stored file is an attachment of a ticket.
    let drained = settle(|| files_under(&staging).is_empty()).await;
    assert!(drained, "left in staging: {:?}", files_under(&staging));
    let tickets = |app: &TestApp| {
        let agent = agent.clone();
        let request = app.get("/api/v1/agent/tickets/?limit=1000", &agent);
        async move {
            let answer = send(request).await?;
            let count = answer.assert_ok()["tickets"]
                .as_array()
                .map(Vec::len)
                .ok_or("no tickets")?;
            TestResult::Ok(count)
        }
    };
    let mut stored = 0;
    let mut recorded = usize::MAX;
    for _ in 0..300 {
        stored = files_under(&blobs).len();
        recorded = tickets(&app).await?;
        if stored == recorded {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stored, recorded, "files in attachments/ without a ticket");

    // What a crash leaves (a staged file, a stored file whose row never committed) is swept
    // at the next start, once old enough to belong to no request in flight; newer files, and
    // files that are attachments, stay.
    let long_ago = SystemTime::now() - Duration::from_secs(24 * 3600);
    let age = |path: &Path| -> TestResult {
        std::fs::File::options()
            .write(true)
            .open(path)?
            .set_modified(long_ago)?;
        Ok(())
    };
    std::fs::create_dir_all(&staging)?;
    let stale_part = staging.join(format!("upload-{}.part", "ab".repeat(16)));
    let fresh_part = staging.join(format!("upload-{}.part", "cd".repeat(16)));
    std::fs::write(&stale_part, b"half")?;
    std::fs::write(&fresh_part, b"in flight")?;
    age(&stale_part)?;
    std::fs::create_dir_all(blobs.join("ee"))?;
    let stale_blob = blobs.join("ee").join("ee".repeat(16));
    let fresh_blob = blobs.join("ee").join(format!("ee{}", "ff".repeat(15)));
    std::fs::write(&stale_blob, b"never recorded")?;
    std::fs::write(&fresh_blob, b"being recorded")?;
    age(&stale_blob)?;
    let kept: Vec<PathBuf> = files_under(&blobs)
        .into_iter()
        .filter(|p| p != &stale_blob && p != &fresh_blob)
        .collect();
    for blob in &kept {
        age(blob)?;
    }
    let restarted = app.sibling()?;
    let swept = settle(|| !stale_part.exists() && !stale_blob.exists()).await;
    assert!(swept, "the start-up sweep left what a crash left");
    assert!(
        fresh_part.exists() && fresh_blob.exists(),
        "a recent file was swept"
    );
    assert!(kept.iter().all(|p| p.exists()), "an attachment was swept");
    assert_eq!(tickets(&restarted).await?, recorded);
    Ok(())
}

// ---- 9. Connection-level hardening -----------------------------------------------------------

/// Reads what the server sends until it closes the connection or `limit` passes.
async fn read_answer(stream: &mut tokio::net::TcpStream, limit: Duration) -> TestResult<String> {
    use tokio::io::AsyncReadExt;
    let mut answer = Vec::new();
    let mut buf = vec![0u8; 8192];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return Err(format!("no end of answer within {limit:?}").into()),
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                answer.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&answer);
                if text.contains("\r\n\r\n") && text.trim_end().ends_with('}') {
                    break;
                }
            }
        }
    }
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

#[tokio::test]
async fn a_body_sent_too_slowly_is_refused_before_the_request_timeout() -> TestResult {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("SUPPORTDESK_BODY_TIMEOUT", "1")]).await?;
    let alice = app.customer("alice@example.com")?;
    let address = app.origin.trim_start_matches("http://").to_owned();
    for (content_type, start) in [
        ("application/x-www-form-urlencoded", "subject=slow"),
        (
            "multipart/form-data; boundary=XB",
            "--XB\r\nContent-Disposition: form-data; name=\"subject\"\r\n\r\nslow",
        ),
    ] {
        let mut stream = tokio::net::TcpStream::connect(&address).await?;
        let head = format!(
            "POST /api/v1/support/create/ticket/ HTTP/1.1\r\nHost: {address}\r\napikey: {}\r\n\
             Authorization: Bearer {}\r\nContent-Type: {content_type}\r\nContent-Length: 100000\r\n\r\n{start}",
            app.apikey, alice.token
        );
        stream.write_all(head.as_bytes()).await?;
        // The rest never comes: well before the 60 s request timeout, the server gives up.
        let answer = read_answer(&mut stream, Duration::from_secs(10)).await?;
        assert!(
            answer.starts_with("HTTP/1.1 408"),
            "{content_type}: {answer}"
        );
        let body: Value = serde_json::from_str(answer.split_once("\r\n\r\n").ok_or("no body")?.1)?;
        assert_eq!(
            body,
            json!({"status_code": 408, "errors": {"detail": ["Request body was not received in time."]}, "data": {}})
        );
    }
    assert!(settle(|| app.staged_files() == 0).await);
    Ok(())
}

#[tokio::test]
async fn connections_per_client_address_are_capped() -> TestResult {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[("SUPPORTDESK_MAX_CONNECTIONS_PER_IP", "3")],
    )
    .await?;
    let address = app.origin.trim_start_matches("http://").to_owned();
    let connect_from = |ip: [u8; 4]| {
        let address = address.clone();
        async move {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(std::net::SocketAddr::from((ip, 0)))?;
            let mut stream = socket.connect(address.parse()?).await?;
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                .await?;
            let answer = read_answer(&mut stream, Duration::from_secs(10)).await;
            TestResult::Ok((stream, answer.unwrap_or_default()))
        }
    };
    let mut held = Vec::new();
    for _ in 0..3 {
        let (stream, answer) = connect_from([127, 0, 0, 1]).await?;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        held.push(stream);
    }
    // A fourth connection from the same address is closed unanswered...
    let (_, answer) = connect_from([127, 0, 0, 1]).await?;
    assert!(
        answer.is_empty(),
        "the fourth connection was served: {answer}"
    );
    // ...while another address is served.
    let (_, answer) = connect_from([127, 0, 0, 3]).await?;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Closing one frees its slot.
    held.pop();
    let mut served = false;
    for _ in 0..50 {
        if connect_from([127, 0, 0, 1])
            .await?
            .1
            .starts_with("HTTP/1.1 200")
        {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served);
    Ok(())
}

#[tokio::test]
async fn a_client_request_id_is_kept_only_when_it_is_a_short_safe_token() -> TestResult {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("RUST_LOG", "info")]).await?;
    let with_id = |id: &str| {
        app.client
            .get(app.url("/healthz"))
            .header("x-request-id", id)
    };
    let answer = send(with_id("req-2026_12.03-abc")).await?;
    assert_eq!(answer.headers["x-request-id"], "req-2026_12.03-abc");
    for forged in [
        "x\" status=200 path=/admin request_id=\"y",
        "a b",
        &"a".repeat(200),
        "",
        "id\u{7f}",
    ] {
        let Ok(value) = reqwest::header::HeaderValue::from_str(forged) else {
            continue;
        };
        let answer = send(
            app.client
                .get(app.url("/healthz"))
                .header("x-request-id", value),
        )
        .await?;
        let sent_back = answer.headers["x-request-id"].to_str()?;
        assert_ne!(sent_back, forged);
        assert_eq!(sent_back.len(), 36, "a fresh UUID: {sent_back}");
    }
    assert!(
        !app.log().contains("path=/admin"),
        "a forged field reached the log"
    );
    Ok(())
}

#[tokio::test]
async fn a_multipart_body_already_bound_to_fail_is_not_written_to_disk() -> TestResult {
    let app = TestApp::spawn(Backend::Sqlite).await?;
    let alice = app.customer("alice@example.com")?;
    let address = app.origin.trim_start_matches("http://").to_owned();
    let file_part = "--XB\r\nContent-Disposition: form-data; name=\"attachment\"; \
                     filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n";
    let upload = |token: String, before: &'static str| {
        let address = address.clone();
        let apikey = app.apikey.clone();
        async move {
            let mut stream = tokio::net::TcpStream::connect(&address).await?;
            let head = format!(
                "POST /api/v1/support/create/ticket/ HTTP/1.1\r\nHost: {address}\r\napikey: {apikey}\r\n\
                 Authorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary=XB\r\n\
                 Content-Length: 2000000\r\n\r\n{before}{file_part}"
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&vec![b'x'; 256 * 1024]).await?;
            TestResult::Ok(stream)
        }
    };
    // The control: a valid request's file is being staged while it arrives.
    let _valid = upload(alice.token.clone(), "").await?;
    assert!(
        settle(|| app.staged_files() == 1).await,
        "the control upload was not staged"
    );
    drop(_valid);
    assert!(settle(|| app.staged_files() == 0).await);

    // Refused credentials: the body is never read.
    let _refused = upload("sdt_not-a-token".to_owned(), "").await?;
    // Already invalid (an `attachment` that is not a file): the files after it are read past.
    let not_a_file = "--XB\r\nContent-Disposition: form-data; name=\"attachment\"\r\n\r\nhello\r\n";
    let _invalid = upload(alice.token.clone(), not_a_file).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.staged_files(),
        0,
        "a request bound to fail wrote its file to disk"
    );
    Ok(())
}

on_both_backends!(
    a_password_reset_deactivation_or_role_change_ends_every_session,
    concurrent_guesses_check_at_most_the_configured_number_of_passwords,
    two_simultaneous_refreshes_leave_no_token_of_the_family_working,
    a_host_token_never_takes_over_a_staff_account_or_lowers_a_role_by_omission,
    an_internal_note_changes_nothing_the_customer_can_observe,
    a_session_works_only_with_its_api_key_and_ends_with_it,
    signing_out_a_host_token_refuses_it_until_it_expires,
    invisible_characters_and_look_alike_emails_are_refused,
    uploads_cut_off_by_a_disconnect_leave_no_files_behind,
);
