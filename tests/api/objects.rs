//! Attachments on S3-compatible object storage (a real `s3s-fs` on loopback), and moving them
//! there with `supportdesk attachments migrate`.

use reqwest::multipart::{Form, Part};
use serde_json::json;

use crate::helpers::{Backend, Person, TestApp, TestResult, send};
use crate::infra::{S3Server, tool_ready};

fn settings(s3: &S3Server, prefix: &str) -> Vec<(String, String)> {
    s3.settings(prefix)
}

async fn spawn_on(backend: Backend, extra: &[(String, String)]) -> TestResult<TestApp> {
    let pairs: Vec<(&str, &str)> = extra
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    TestApp::spawn_process_with(backend, &pairs).await
}

fn form(category: i64, bytes: &[u8]) -> TestResult<Form> {
    Ok(Form::new()
        .text("subject", "receipt")
        .text("priority", "1")
        .text("comment", "attached")
        .text("category", category.to_string())
        .part(
            "attachment",
            Part::bytes(bytes.to_vec())
                .file_name("receipt.bin")
                .mime_str("application/octet-stream")?,
        ))
}

/// Creates a ticket with one file; answers the attachment's id.
async fn upload(app: &TestApp, who: &Person, category: i64, bytes: &[u8]) -> TestResult<i64> {
    let answer = send(
        app.post("/api/v1/support/create/ticket/", who)
            .multipart(form(category, bytes)?),
    )
    .await?;
    let ticket = answer.assert_ok()["ticket"]["id"].as_i64().ok_or("no id")?;
    let detail = send(app.get(
        &format!("/api/v1/support/ticket/detailed-view/?ticket_id={ticket}"),
        who,
    ))
    .await?;
    Ok(detail.assert_ok()["attachments"][0]["id"]
        .as_i64()
        .ok_or("no attachment")?)
}

fn payload(seed: u8) -> Vec<u8> {
    (0..300_000u32)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

async fn attachments_live_in_object_storage_and_any_process_serves_them(
    backend: Backend,
) -> TestResult {
    if !tool_ready("s3s-fs")? {
        return Ok(());
    }
    let mut s3 = S3Server::start()?;
    let mut env = settings(&s3, "tenant-a");
    env.push(("SUPPORTDESK_OPEN_TICKET_LIMIT".to_owned(), "2".to_owned()));
    let app = spawn_on(backend, &env).await?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Files")?;
    let bytes = payload(7);
    let id = upload(&app, &alice, category, &bytes).await?;

    // The bytes are an object in the bucket, not a file in the data directory.
    let objects = s3.objects();
    assert_eq!(objects.len(), 1, "{objects:?}");
    assert!(objects[0].to_string_lossy().contains("/desk/tenant-a/"));
    assert_eq!(std::fs::read(&objects[0])?, bytes);
    assert!(
        !app.data_dir.path().join("attachments").exists()
            || std::fs::read_dir(app.data_dir.path().join("attachments"))?.count() == 0
    );
    assert_eq!(app.staged_files(), 0);

    // What a crash left in the bucket (an object no row names, older than the sweep's margin)
    // goes at the next start; the recorded one, as old, stays.
    let orphan_key = "0123456789abcdef0123456789abcdef";
    let orphan = s3.root.path().join("desk/tenant-a/01").join(orphan_key);
    std::fs::create_dir_all(orphan.parent().ok_or("no parent")?)?;
    std::fs::write(&orphan, b"left by a crash")?;
    for path in [&orphan, &objects[0]] {
        let status = std::process::Command::new("touch")
            .args(["-d", "2 hours ago"])
            .arg(path)
            .status()?;
        assert!(status.success());
    }
    // Another process (no shared directory) serves them.
    let other = app.sibling()?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while orphan.exists() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(!orphan.exists(), "the orphaned object was not swept");
    assert!(objects[0].exists());
    let download =
        send(other.get(&format!("/api/v1/support/ticket/download/{id}/"), &alice)).await?;
    assert_eq!(download.status, 200);
    assert_eq!(download.bytes, bytes);

    // A row whose object is gone answers 404 in the envelope, never 500.
    let second = upload(&app, &alice, category, &payload(8)).await?;
    let objects_now = s3.objects();
    let lost = objects_now
        .iter()
        .find(|p| std::fs::read(p).is_ok_and(|b| b == payload(8)))
        .ok_or("second object not found")?;
    std::fs::remove_file(lost)?;
    send(app.get(
        &format!("/api/v1/support/ticket/download/{second}/"),
        &alice,
    ))
    .await?
    .assert_errors(404, json!({"detail": ["Not found."]}));

    // Storage unreachable: 503 with Retry-After, for downloads and uploads alike, and an
    // upload that could not be stored leaves no ticket behind.
    s3.stop();
    let down = send(app.get(&format!("/api/v1/support/ticket/download/{id}/"), &alice)).await?;
    assert_eq!(down.status, 503, "{}", down.body);
    assert_eq!(down.body["status_code"], 503);
    assert!(down.headers.contains_key("retry-after"));
    let refused = send(
        app.post("/api/v1/support/create/ticket/", &alice)
            .multipart(form(category, &payload(9))?),
    )
    .await?;
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(refused.headers.contains_key("retry-after"));
    let history = send(app.get("/api/v1/support/get/ticket/history/", &alice)).await?;
    assert_eq!(history.assert_ok()["count"], 2);
    let _ = &mut s3;
    assert_eq!(app.staged_files(), 0);
    Ok(())
}

async fn attachments_migrate_copies_verified_files_and_resumes(backend: Backend) -> TestResult {
    if !tool_ready("s3s-fs")? {
        return Ok(());
    }
    let s3 = S3Server::start()?;
    // A desk with its attachments on the local disk.
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Files")?;
    let first = upload(&app, &alice, category, &payload(1)).await?;
    let second = upload(&app, &alice, category, &payload(2)).await?;

    let target = format!("s3://{}/moved", crate::infra::BUCKET);
    let env = settings(&s3, "moved");
    let migrate = |args: &[&str]| -> TestResult<String> {
        let out = std::process::Command::new(crate::helpers::BIN)
            .args(args)
            .env("SUPPORTDESK_DATA_DIR", app.data_dir.path())
            .envs(app.pg.as_ref().map(|pg| ("DATABASE_URL", pg.url.clone())))
            .envs(
                env.iter()
                    .filter(|(k, _)| k.starts_with("AWS_"))
                    .map(|(k, v)| (k, v)),
            )
            .env_remove("SUPPORTDESK_ATTACHMENTS")
            .output()?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return Err(format!("{args:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
        }
        Ok(stdout)
    };
    let out = migrate(&["attachments", "migrate", "--to", &target])?;
    assert!(
        out.contains("2 attachment files: 2 copied, 0 already there, 0 missing"),
        "{out}"
    );
    assert_eq!(s3.objects().len(), 2);

    // Interrupted runs resume: one object lost or truncated is copied again, the other kept.
    let objects = s3.objects();
    std::fs::write(&objects[0], b"truncated")?;
    let out = migrate(&["attachments", "migrate", "--to", &target])?;
    assert!(
        out.contains("2 attachment files: 1 copied, 1 already there, 0 missing"),
        "{out}"
    );

    // A server on the bucket serves both, byte for byte.
    let moved = app.sibling_with(&env)?;
    for (id, seed) in [(first, 1), (second, 2)] {
        let download =
            send(moved.get(&format!("/api/v1/support/ticket/download/{id}/"), &alice)).await?;
        assert_eq!(download.status, 200);
        assert_eq!(download.bytes, payload(seed));
    }
    Ok(())
}

on_both_backends!(
    attachments_live_in_object_storage_and_any_process_serves_them,
    attachments_migrate_copies_verified_files_and_resumes,
);
