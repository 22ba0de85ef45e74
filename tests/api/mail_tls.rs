//! Email over TLS (STARTTLS and smtps) against aiosmtpd serving a certificate signed by an
//! authority the harness makes for the run, which the desk trusts through
//! `SUPPORTDESK_SMTP_CA_FILE`; and two processes on PostgreSQL sending each mail once.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::helpers::{Backend, TestApp, TestResult};
use crate::mail::{FROM, Smtp, one_header, recipient, settled};

fn settings<'a>(url: &'a str, ca_file: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut settings = vec![
        ("SUPPORTDESK_SMTP_URL", url),
        ("SUPPORTDESK_MAIL_FROM", FROM),
        ("SUPPORTDESK_MAIL_RETRY_SCHEDULE", "20ms"),
        ("SUPPORTDESK_OUTBOX_POLL_MS", "20"),
        ("SUPPORTDESK_OPEN_TICKET_LIMIT", "100"),
    ];
    if let Some(file) = ca_file {
        settings.push(("SUPPORTDESK_SMTP_CA_FILE", file));
    }
    settings
}

/// STARTTLS with a login: the password goes only inside TLS, to a server whose certificate the
/// CA file vouches for.
async fn mail_goes_over_starttls_with_a_login_to_a_trusted_server(backend: Backend) -> TestResult {
    let smtp = Smtp::start(&["--tls", "starttls", "--login", "desk:hunter2"])?;
    let url = format!("smtp://desk:hunter2@127.0.0.1:{}", smtp.port());
    let ca = smtp.ca_file().display().to_string();
    let app = TestApp::spawn_with(backend, &settings(&url, Some(&ca))).await?;
    let alice = app.customer("alice@example.com")?;
    app.person("bob@example.com", "agent")?;
    let billing = app.category("Billing")?;
    let ticket = app.ticket(&alice, billing, "Printer on fire").await?;
    let mails = smtp.wait_for(2).await?;
    assert_eq!(
        one_header(&mails[0], "subject"),
        format!("[#{ticket}] Printer on fire")
    );
    // The harness requires STARTTLS before anything and AUTH before MAIL: both happened.
    assert!(smtp.logins().contains("desk"), "{}", smtp.logins());
    let rows = settled(&app, ticket, 2).await?;
    assert!(rows.iter().all(|r| r.state == "delivered"), "{rows:?}");
    Ok(())
}

/// smtps:// speaks TLS from the first byte; without the CA file the same server's certificate
/// is refused (so the file is what made it trusted), and the reason says so.
async fn mail_goes_over_smtps_only_to_a_certificate_the_desk_trusts(
    backend: Backend,
) -> TestResult {
    let smtp = Smtp::start(&["--tls", "smtps"])?;
    let url = format!("smtps://127.0.0.1:{}", smtp.port());

    let untrusting = TestApp::spawn_with(backend, &settings(&url, None)).await?;
    let alice = untrusting.customer("alice@example.com")?;
    let billing = untrusting.category("Billing")?;
    let ticket = untrusting
        .ticket(&alice, billing, "Printer on fire")
        .await?;
    let rows = settled(&untrusting, ticket, 1).await?;
    assert!(
        !rows.is_empty() && rows.iter().all(|r| r.state == "failed"),
        "{rows:?}"
    );
    assert!(
        rows.iter().all(|r| r
            .last_error
            .as_deref()
            .is_some_and(|e| e.to_lowercase().contains("certificate"))),
        "{rows:?}"
    );
    assert!(smtp.received()?.is_empty());
    drop(untrusting);

    let ca = smtp.ca_file().display().to_string();
    let app = TestApp::spawn_with(backend, &settings(&url, Some(&ca))).await?;
    let alice = app.customer("alice@example.com")?;
    let billing = app.category("Billing")?;
    let ticket = app.ticket(&alice, billing, "Printer on fire").await?;
    let mails = smtp.wait_for(1).await?;
    assert_eq!(recipient(&mails[0]), app.admin_email);
    let rows = settled(&app, ticket, 1).await?;
    assert!(rows.iter().all(|r| r.state == "delivered"), "{rows:?}");
    Ok(())
}

on_both_backends!(
    mail_goes_over_starttls_with_a_login_to_a_trusted_server,
    mail_goes_over_smtps_only_to_a_certificate_the_desk_trusts,
);

/// A CA file that is missing or holds no certificate stops the start.
#[tokio::test]
async fn an_unusable_ca_file_refuses_to_start() -> TestResult {
    let dir = tempfile::tempdir()?;
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate")?;
    for file in [dir.path().join("missing.pem"), empty] {
        let file = file.display().to_string();
        let err = match TestApp::spawn_with(
            Backend::Sqlite,
            &settings("smtps://127.0.0.1:2465", Some(&file)),
        )
        .await
        {
            Ok(_) => return Err(format!("{file}: started").into()),
            Err(err) => err.to_string(),
        };
        assert!(err.contains("SUPPORTDESK_SMTP_CA_FILE"), "{err}");
    }
    Ok(())
}

/// Two processes on one PostgreSQL database share the mail queue: each mail reaches the SMTP
/// server once.
async fn two_processes_send_each_mail_once(backend: Backend) -> TestResult {
    let smtp = Smtp::start(&[])?;
    let url = smtp.url();
    let first = TestApp::spawn_process_with(backend, &settings(&url, None)).await?;
    let second = first.sibling()?;
    let alice = first.customer("alice@example.com")?;
    first.person("bob@example.com", "agent")?;
    let billing = first.category("Billing")?;
    let n = 20;
    for i in 0..n {
        let app = if i % 2 == 0 { &first } else { &second };
        app.ticket(&alice, billing, &format!("ticket {i}")).await?;
    }
    // Each new ticket mails bob and the administrator.
    let got = smtp.wait_for(2 * n).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got_after = smtp.received()?;
    assert_eq!(got.len(), 2 * n, "every mail arrived");
    let mut by_id: BTreeMap<String, usize> = BTreeMap::new();
    for mail in &got_after {
        *by_id.entry(one_header(mail, "message-id")).or_default() += 1;
    }
    assert_eq!(by_id.len(), 2 * n, "distinct Message-IDs");
    assert_eq!(got_after.len(), 2 * n, "none twice: {by_id:?}");
    Ok(())
}

/// Several processes share one database on PostgreSQL only (SQLite: one process).
mod postgres_only {
    #[tokio::test]
    async fn two_processes_send_each_mail_once() -> crate::helpers::TestResult {
        if !crate::helpers::postgres_ready().await? {
            return Ok(());
        }
        super::two_processes_send_each_mail_once(crate::helpers::Backend::Postgres).await
    }
}
