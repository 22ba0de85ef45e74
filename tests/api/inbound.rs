//! Email in through the raw endpoint (`POST /api/v1/inbound/email/`), on both backends: what a
//! mail becomes (a ticket, a comment, nothing), what is refused with an answer (through a real
//! SMTP server, `tests/smtp_server.py`), and the quarantine (admin API and CLI).

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;
use sqlx::Row;
use supportdesk::store::Db;
use supportdesk::store::inbound::{self, Listed};

use crate::helpers::{Answer, Backend, Person, TestApp, TestResult, send};
use crate::mail::{Smtp, one_header, text};

pub(crate) const TOKEN: &str = "inbound-token-0123456789";
const SECRET: &str = "reply-secret-0123456789";

/// A desk that takes mail on the raw endpoint, with `extra` settings.
async fn desk(backend: Backend, extra: &[(&str, &str)]) -> TestResult<TestApp> {
    let mut settings = vec![
        ("SUPPORTDESK_INBOUND_TOKEN", TOKEN),
        ("SUPPORTDESK_INBOUND_ADDRESS", "support@example.com"),
        ("SUPPORTDESK_INBOUND_SECRET", SECRET),
        ("SUPPORTDESK_OUTBOX_POLL_MS", "20"),
    ];
    settings.extend_from_slice(extra);
    TestApp::spawn_with(backend, &settings).await
}

/// A desk that also mails (notifications and answers) through `smtp`.
async fn mailing_desk(
    backend: Backend,
    smtp: &Smtp,
    extra: &[(&str, &str)],
) -> TestResult<TestApp> {
    let url = smtp.url();
    let mut settings = vec![
        ("SUPPORTDESK_SMTP_URL", url.as_str()),
        ("SUPPORTDESK_MAIL_FROM", "Support Desk <desk@example.com>"),
        ("SUPPORTDESK_MAIL_RETRY_SCHEDULE", "1s"),
    ];
    settings.extend_from_slice(extra);
    desk(backend, &settings).await
}

async fn post_mail(app: &TestApp, raw: &str) -> TestResult<Answer> {
    send(
        app.client
            .post(app.url("/api/v1/inbound/email/"))
            .bearer_auth(TOKEN)
            .header("content-type", "message/rfc822")
            .body(raw.to_owned()),
    )
    .await
}

/// A plain mail.
pub(crate) fn mail(from: &str, message_id: &str, subject: &str, body: &str, extra: &str) -> String {
    format!(
        "From: {from}\r\nTo: support@example.com\r\nSubject: {subject}\r\n\
         Message-ID: <{message_id}>\r\nDate: Thu, 03 Dec 2026 10:00:00 +0000\r\n{extra}\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
}

/// Waits until no kept mail is pending; answers every kept mail, newest first.
pub(crate) async fn settled(app: &TestApp, n: usize) -> TestResult<Vec<Listed>> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let list = app.with_db(|db| async move { Ok(inbound::recent(&db, 100).await?) })?;
        if list.len() >= n && list.iter().all(|m| m.state != "pending") {
            return Ok(list);
        }
        if Instant::now() > deadline {
            return Err(format!("mail still pending: {list:#?}").into());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A ticket as the tests read it: (id, author email, subject, comment, category id).
pub(crate) type TicketFacts = (i64, String, String, String, i64);

/// Every ticket, oldest first.
pub(crate) fn tickets(app: &TestApp) -> TestResult<Vec<TicketFacts>> {
    app.with_db(|db: Db| async move {
        let rows = sqlx::query(
            "SELECT t.id, u.email, t.subject, t.comment, t.category_id
             FROM tickets t JOIN users u ON u.id = t.author_id ORDER BY t.id",
        )
        .fetch_all(db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    r.try_get("email")?,
                    r.try_get("subject")?,
                    r.try_get("comment")?,
                    r.try_get("category_id")?,
                ))
            })
            .collect()
    })
}

/// The messages after the opening one: (author email, comment, internal).
fn conversation(app: &TestApp, ticket: i64) -> TestResult<Vec<(String, String, i64)>> {
    app.with_db(move |db: Db| async move {
        let rows = sqlx::query(
            "SELECT u.email, c.comment, c.internal FROM conversations c
             JOIN users u ON u.id = c.author_id WHERE c.ticket_id = $1 ORDER BY c.id",
        )
        .bind(ticket)
        .fetch_all(db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("email")?,
                    r.try_get("comment")?,
                    r.try_get("internal")?,
                ))
            })
            .collect()
    })
}

async fn a_mail_from_a_stranger_opens_a_ticket_for_a_new_customer(backend: Backend) -> TestResult {
    let app = desk(backend, &[]).await?;
    let category = app.category("Hardware")?;
    let html = "From: New Person <New.Person@Example.com>\r\nTo: support@example.com\r\n\
                Subject: Printer =?utf-8?q?br=C3=BBle?=\r\nMessage-ID: <first@mail.example>\r\n\
                MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
                <html><body><p>It <b>smokes</b>.</p><script>x()</script></body></html>\r\n";
    let answer = post_mail(&app, html).await?;
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(answer.body["status_code"], 202);
    assert_eq!(answer.body["data"]["duplicate"], false);
    let kept = settled(&app, 1).await?;
    assert_eq!(kept[0].state, "processed", "{kept:#?}");
    let all = tickets(&app)?;
    assert_eq!(all.len(), 1, "{all:?}");
    let (_, author, subject, comment, category_id) = &all[0];
    assert_eq!(author, "new.person@example.com");
    assert_eq!(subject, "Printer brûle");
    assert!(comment.contains("It smokes."), "{comment:?}");
    assert!(!comment.contains("<b>"), "{comment:?}");
    assert_eq!(*category_id, category);
    Ok(())
}

async fn the_same_message_id_twice_makes_one_ticket(backend: Backend) -> TestResult {
    let app = desk(backend, &[]).await?;
    app.category("General")?;
    let raw = mail(
        "carol@example.com",
        "dup@mail.example",
        "Twice",
        "Hello",
        "",
    );
    let first = post_mail(&app, &raw).await?;
    let second = post_mail(&app, &raw).await?;
    assert_eq!(first.status, 202);
    assert_eq!(second.status, 202);
    assert_eq!(second.body["data"]["duplicate"], true, "{}", second.body);
    settled(&app, 1).await?;
    assert_eq!(tickets(&app)?.len(), 1);
    Ok(())
}

async fn auto_replies_and_bounces_make_nothing(backend: Backend) -> TestResult {
    let app = desk(backend, &[]).await?;
    app.category("General")?;
    let automatic = [
        mail(
            "dave@example.com",
            "a1@x",
            "Out of office",
            "Away",
            "Auto-Submitted: auto-replied\r\n",
        ),
        mail(
            "dave@example.com",
            "a2@x",
            "News",
            "Buy",
            "Precedence: bulk\r\n",
        ),
        mail(
            "dave@example.com",
            "a3@x",
            "OOF",
            "Away",
            "X-Auto-Response-Suppress: All\r\n",
        ),
        mail(
            "MAILER-DAEMON@example.com",
            "a4@x",
            "Undeliverable",
            "Bounce",
            "",
        ),
        mail(
            "dave@example.com",
            "a5@x",
            "Bounce",
            "Bounce",
            "Return-Path: <>\r\n",
        ),
    ];
    for raw in &automatic {
        let answer = post_mail(&app, raw).await?;
        assert_eq!(answer.status, 202, "{}", answer.body);
    }
    let kept = settled(&app, automatic.len()).await?;
    assert!(kept.iter().all(|m| m.state == "ignored"), "{kept:#?}");
    assert!(tickets(&app)?.is_empty());
    // A person's mail with Auto-Submitted: no is a person's.
    post_mail(
        &app,
        &mail(
            "dave@example.com",
            "a6@x",
            "Real",
            "Hi",
            "Auto-Submitted: no\r\n",
        ),
    )
    .await?;
    settled(&app, automatic.len() + 1).await?;
    assert_eq!(tickets(&app)?.len(), 1);
    Ok(())
}

async fn the_endpoint_wants_its_token_and_takes_none_without_the_setting(
    backend: Backend,
) -> TestResult {
    let app = desk(backend, &[]).await?;
    let raw = mail("eve@example.com", "t1@x", "Hi", "Hi", "");
    let url = app.url("/api/v1/inbound/email/");
    for auth in [None, Some("wrong-token-wrong-token"), Some("")] {
        let mut request = app
            .client
            .post(&url)
            .header("content-type", "message/rfc822")
            .body(raw.clone());
        if let Some(auth) = auth {
            request = request.bearer_auth(auth);
        }
        let answer = send(request).await?;
        assert_eq!(answer.status, 401, "{auth:?}: {}", answer.body);
        assert_eq!(answer.body["status_code"], 401);
    }
    // The API key is not the token.
    let answer = send(
        app.client
            .post(&url)
            .header("apikey", &app.apikey)
            .bearer_auth(&app.apikey)
            .header("content-type", "message/rfc822")
            .body(raw.clone()),
    )
    .await?;
    assert_eq!(answer.status, 401);
    let answer = send(
        app.client
            .post(&url)
            .bearer_auth(TOKEN)
            .header("content-type", "text/plain")
            .body(raw.clone()),
    )
    .await?;
    assert_eq!(answer.status, 415, "{}", answer.body);
    let kept = app.with_db(|db| async move { Ok(inbound::recent(&db, 10).await?) })?;
    assert!(kept.is_empty(), "{kept:#?}");

    let off = TestApp::spawn(backend).await?;
    let answer = send(
        off.client
            .post(off.url("/api/v1/inbound/email/"))
            .bearer_auth(TOKEN)
            .header("content-type", "message/rfc822")
            .body(raw),
    )
    .await?;
    // Off: no token is right.
    assert_eq!(answer.status, 401, "{}", answer.body);
    Ok(())
}

async fn a_reply_to_a_notification_joins_its_ticket(backend: Backend) -> TestResult {
    let smtp = Smtp::start(&[])?;
    let app = mailing_desk(backend, &smtp, &[]).await?;
    let category = app.category("General")?;
    let alice = app.customer("alice@example.com")?;
    let bob = app.person("bob@example.com", "agent")?;
    let ticket = app.ticket(&alice, category, "Printer").await?;
    let reply = send(
        app.post(&format!("/api/v1/agent/tickets/{ticket}/reply/"), &bob)
            .form(&[("comment", "Unplug it")]),
    )
    .await?;
    reply.assert_ok();
    // The mail to Bob (created) and to Alice (the reply).
    let to_alice = &wait_for_answers(&smtp, "alice@example.com", 1).await?[0];
    assert!(text(to_alice).contains("Unplug it"), "{to_alice:#}");
    let notification_id = one_header(to_alice, "message-id");
    let reply_to = one_header(to_alice, "reply-to");
    assert!(
        reply_to.starts_with(&format!("support+t{ticket}-")),
        "{reply_to}"
    );
    assert!(reply_to.ends_with("@example.com"), "{reply_to}");

    // 1. By In-Reply-To, the quoted notification cut off.
    let body =
        "It works now, thanks!\r\n\r\nOn Thu, Dec 3, 2026 Support Desk wrote:\r\n> Unplug it\r\n";
    let extra = format!("In-Reply-To: {notification_id}\r\nReferences: {notification_id}\r\n");
    post_mail(
        &app,
        &mail("alice@example.com", "r1@alice", "Re: Printer", body, &extra),
    )
    .await?;
    settled(&app, 1).await?;
    let messages = conversation(&app, ticket)?;
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(messages[1].0, "alice@example.com");
    assert_eq!(messages[1].1, "It works now, thanks!");

    // 2. By the signed reply address alone (a client that drops In-Reply-To).
    let raw = format!(
        "From: alice@example.com\r\nTo: {reply_to}\r\nSubject: more\r\nMessage-ID: <r2@alice>\r\n\r\nSecond answer\r\n"
    );
    post_mail(&app, &raw).await?;
    settled(&app, 2).await?;
    assert_eq!(conversation(&app, ticket)?.len(), 3);

    // A forged token (another ticket's id, the same signature) matches nothing: a new ticket.
    let forged = reply_to.replacen(&format!("+t{ticket}-"), &format!("+t{}-", ticket + 1), 1);
    let raw = format!(
        "From: alice@example.com\r\nTo: {forged}\r\nSubject: forged\r\nMessage-ID: <r3@alice>\r\n\r\nForged\r\n"
    );
    post_mail(&app, &raw).await?;
    settled(&app, 3).await?;
    assert_eq!(conversation(&app, ticket)?.len(), 3);
    assert_eq!(tickets(&app)?.len(), 2);

    // 3. By [#id] in the subject, from the ticket's customer only.
    post_mail(
        &app,
        &mail(
            "alice@example.com",
            "r4@alice",
            &format!("Re: [#{ticket}] Printer"),
            "By subject",
            "",
        ),
    )
    .await?;
    post_mail(
        &app,
        &mail(
            "mallory@example.com",
            "r5@m",
            &format!("Re: [#{ticket}] Printer"),
            "Let me in",
            "",
        ),
    )
    .await?;
    settled(&app, 5).await?;
    let messages = conversation(&app, ticket)?;
    assert_eq!(messages.len(), 4, "{messages:?}");
    assert!(messages.iter().all(|m| m.0 != "mallory@example.com"));
    let all = tickets(&app)?;
    assert!(
        all.iter()
            .any(|t| t.1 == "mallory@example.com" && t.3 == "Let me in"),
        "{all:?}"
    );

    // A mail in a staff member's name (its From: may be forged, and as a reply it would reach
    // the customer in the desk's name) changes nothing: it waits in the quarantine.
    let to_bob = &wait_for_answers(&smtp, "bob@example.com", 1).await?[0];
    let created_id = one_header(to_bob, "message-id");
    let extra = format!("In-Reply-To: {created_id}\r\n");
    post_mail(
        &app,
        &mail(
            "bob@example.com",
            "b1@bob",
            "Re: Printer",
            "Try the other port",
            &extra,
        ),
    )
    .await?;
    let kept = settled(&app, 6).await?;
    let staff_mail = kept
        .iter()
        .find(|m| m.sender.as_deref() == Some("bob@example.com"))
        .ok_or("the staff member's mail was not kept")?;
    assert_eq!(
        (staff_mail.state.as_str(), staff_mail.reason.as_deref()),
        (
            "quarantined",
            Some(supportdesk::services::inbound::process::STAFF_SENDER)
        )
    );
    assert_eq!(conversation(&app, ticket)?.len(), 4);
    Ok(())
}

async fn refused_files_and_refused_tickets_get_one_answer_each(backend: Backend) -> TestResult {
    let smtp = Smtp::start(&[])?;
    let app = mailing_desk(
        backend,
        &smtp,
        &[
            ("SUPPORTDESK_OPEN_TICKET_LIMIT", "1"),
            ("SUPPORTDESK_INBOUND_REPLIES_PER_HOUR", "2"),
        ],
    )
    .await?;
    app.category("General")?;
    let big = "A".repeat(2 * 1024 * 1024 + 10);
    let encode = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    let raw = format!(
        "From: frank@example.com\r\nTo: support@example.com\r\nSubject: Logs\r\n\
         Message-ID: <files@frank>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nSee the logs\r\n\
         --b\r\nContent-Type: text/plain; name=\"small.txt\"\r\nContent-Disposition: attachment; filename=\"small.txt\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n\
         --b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"big.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        encode("small file"),
        encode(&big)
    );
    assert_eq!(post_mail(&app, &raw).await?.status, 202);
    settled(&app, 1).await?;
    let all = tickets(&app)?;
    assert_eq!(all.len(), 1);
    let files = app.with_db(|db: Db| async move {
        let rows = sqlx::query("SELECT filename, size FROM attachments ORDER BY id")
            .fetch_all(db.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get::<String, _>("filename")?,
                    r.try_get::<i64, _>("size")?,
                ))
            })
            .collect::<TestResult<Vec<_>>>()
    })?;
    assert_eq!(files, vec![("small.txt".to_owned(), 10)]);
    // The answer about big.bin reaches Frank (besides the agents' notification, none here).
    let answers = wait_for_answers(&smtp, "frank@example.com", 1).await?;
    assert!(text(&answers[0]).contains("big.bin"), "{:#}", answers[0]);
    assert_eq!(one_header(&answers[0], "auto-submitted"), "auto-replied");
    assert_eq!(one_header(&answers[0], "in-reply-to"), "<files@frank>");

    // A second ticket is over Frank's limit of one: nothing written, one answer; the third
    // answer in the hour is not sent (the loop protection).
    for n in 0..3 {
        let raw = mail(
            "frank@example.com",
            &format!("more{n}@frank"),
            "Another",
            "Again",
            "",
        );
        assert_eq!(post_mail(&app, &raw).await?.status, 202);
    }
    let kept = settled(&app, 4).await?;
    assert!(kept.iter().all(|m| m.state == "processed"), "{kept:#?}");
    assert_eq!(tickets(&app)?.len(), 1);
    let answers = wait_for_answers(&smtp, "frank@example.com", 2).await?;
    assert!(
        text(&answers[1]).contains("open tickets"),
        "{:#}",
        answers[1]
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(answers_to(&smtp, "frank@example.com")?.len(), 2);
    // An answer to the desk's answer (auto-replied) starts no loop.
    Ok(())
}

fn answers_to(smtp: &Smtp, who: &str) -> TestResult<Vec<Value>> {
    Ok(smtp
        .received()?
        .into_iter()
        .filter(|m| m["rcpt_tos"][0] == who)
        .collect())
}

async fn wait_for_answers(smtp: &Smtp, who: &str, n: usize) -> TestResult<Vec<Value>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = answers_to(smtp, who)?;
        if got.len() >= n {
            return Ok(got);
        }
        if Instant::now() > deadline {
            return Err(format!("{} of {n} answers to {who}", got.len()).into());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn unreadable_mail_is_quarantined_and_the_next_one_still_processed(
    backend: Backend,
) -> TestResult {
    let app = desk(backend, &[("SUPPORTDESK_INBOUND_MAX_BYTES", "100000")]).await?;
    app.category("General")?;
    let admin = admin(&app).await?;
    let no_sender = "Subject: who am I\r\nMessage-ID: <nosender@x>\r\n\r\nbody\r\n";
    // Forty times the limit: the desk stops keeping at the limit but must read the rest, or
    // it closes the connection under the upload and the sender never sees its 202.
    let oversize = mail(
        "gina@example.com",
        "huge@x",
        "Huge",
        &"x".repeat(4_000_000),
        "",
    );
    let fine = mail("gina@example.com", "fine@x", "Fine", "All good", "");
    for raw in [no_sender, oversize.as_str(), fine.as_str()] {
        assert_eq!(post_mail(&app, raw).await?.status, 202);
    }
    let kept = settled(&app, 3).await?;
    let states: Vec<&str> = kept.iter().map(|m| m.state.as_str()).collect();
    assert_eq!(
        states,
        vec!["processed", "quarantined", "quarantined"],
        "{kept:#?}"
    );
    assert_eq!(tickets(&app)?.len(), 1);

    // The admin API lists both; a customer may not.
    let list = send(app.get("/api/v1/admin/inbound/quarantine/", &admin)).await?;
    let messages = list.assert_ok()["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(messages.len(), 2, "{}", list.body);
    assert!(
        messages[0]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("no sender")
    );
    assert!(
        messages[1]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("size limit")
    );
    let gina = app.customer("someone@example.com")?;
    let refused = send(app.get("/api/v1/admin/inbound/quarantine/", &gina)).await?;
    assert_eq!(refused.status, 403, "{}", refused.body);

    // Retry: still unreadable, back in quarantine; delete: gone; unknown ids 404.
    let id = messages[0]["id"].as_i64().ok_or("no id")?;
    let retried = send(app.post(
        &format!("/api/v1/admin/inbound/quarantine/{id}/retry/"),
        &admin,
    ))
    .await?;
    retried.assert_ok();
    let kept = settled(&app, 3).await?;
    assert_eq!(kept.iter().filter(|m| m.state == "quarantined").count(), 2);
    let gone = send(app.request(
        Method::DELETE,
        &format!("/api/v1/admin/inbound/quarantine/{id}/"),
        Some(&admin),
    ))
    .await?;
    gone.assert_ok();
    let again = send(app.request(
        Method::DELETE,
        &format!("/api/v1/admin/inbound/quarantine/{id}/"),
        Some(&admin),
    ))
    .await?;
    assert_eq!(again.status, 404);

    // The oversize one cannot be retried: only its beginning was kept.
    let other = messages[1]["id"].as_i64().ok_or("no id")?;
    assert!(
        messages[1]["size"].as_i64().unwrap_or(0) > 100_000,
        "{}",
        list.body
    );
    let truncated = send(app.post(
        &format!("/api/v1/admin/inbound/quarantine/{other}/retry/"),
        &admin,
    ))
    .await?;
    assert_eq!(truncated.status, 409, "{}", truncated.body);
    // The CLI sees it, and deletes it.
    let out = app.cli(&["inbound", "list"])?;
    let listed = String::from_utf8(out.stdout)?;
    assert!(
        listed.starts_with(&format!("{other}\tquarantined")),
        "{listed}"
    );
    app.cli_ok(&["inbound", "delete", &other.to_string()])?;
    let out = app.cli(&["inbound", "delete", &other.to_string()])?;
    assert!(!out.status.success());
    Ok(())
}

/// The signed reply address of a ticket, as the desk writes it in `Reply-To`.
fn reply_address(ticket: i64) -> TestResult<String> {
    use supportdesk::domain::inbound as rules;
    let token = rules::reply_token(SECRET.as_bytes(), ticket);
    Ok(rules::reply_address("support@example.com", &token).ok_or("no reply address")?)
}

/// The texts written on a ticket after its opening one, oldest first.
fn texts(app: &TestApp, ticket: i64) -> TestResult<Vec<String>> {
    Ok(conversation(app, ticket)?
        .into_iter()
        .map(|(_, text, _)| text)
        .collect())
}

/// The id of the one ticket with this subject.
fn ticket_by_subject(all: &[TicketFacts], subject: &str) -> TestResult<i64> {
    let found: Vec<i64> = all.iter().filter(|t| t.2 == subject).map(|t| t.0).collect();
    match found.as_slice() {
        [id] => Ok(*id),
        _ => Err(format!("{} tickets named {subject:?}: {all:?}", found.len()).into()),
    }
}

/// One mail naming three of the sender's tickets in three ways goes to the one its
/// `In-Reply-To` names; without that header to the one its reply address names; the subject's
/// `[#id]` counts last, and for the ticket's customer only. A way that names a ticket the
/// sender may not write on is passed over, not refused.
async fn reply_matching_takes_in_reply_to_then_the_token_then_the_subject(
    backend: Backend,
) -> TestResult {
    let app = desk(backend, &[]).await?;
    app.category("General")?;
    for (from, id, subject) in [
        ("alice@example.com", "a@alice", "Ticket A"),
        ("alice@example.com", "b@alice", "Ticket B"),
        ("alice@example.com", "c@alice", "Ticket C"),
        ("bob@example.com", "d@bob", "Ticket D"),
    ] {
        assert_eq!(
            post_mail(&app, &mail(from, id, subject, "Opening", ""))
                .await?
                .status,
            202
        );
    }
    settled(&app, 4).await?;
    let all = tickets(&app)?;
    let [a, b, c, d] = [
        ticket_by_subject(&all, "Ticket A")?,
        ticket_by_subject(&all, "Ticket B")?,
        ticket_by_subject(&all, "Ticket C")?,
        ticket_by_subject(&all, "Ticket D")?,
    ];
    let to_b = reply_address(b)?;
    let to_a = reply_address(a)?;
    let with = |from: &str, id: &str, to: &str, subject: &str, body: &str, extra: &str| {
        format!(
            "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n{extra}\
             Content-Type: text/plain\r\n\r\n{body}\r\n"
        )
    };
    let subject_c = format!("Re: [#{c}] about my tickets");
    let mails = [
        // All three: In-Reply-To wins.
        with(
            "alice@example.com",
            "r1@alice",
            &to_b,
            &subject_c,
            "one: all three ways",
            "In-Reply-To: <a@alice>\r\nReferences: <a@alice>\r\n",
        ),
        // No In-Reply-To: the reply address wins over the subject.
        with(
            "alice@example.com",
            "r2@alice",
            &to_b,
            &subject_c,
            "two: token and subject",
            "",
        ),
        // The subject alone, from C's customer.
        with(
            "alice@example.com",
            "r3@alice",
            "support@example.com",
            &subject_c,
            "three: subject only",
            "",
        ),
        // In-Reply-To names Bob's ticket, which Alice may not write on: her token counts.
        with(
            "alice@example.com",
            "r4@alice",
            &to_a,
            &subject_c,
            "four: past a foreign In-Reply-To",
            "In-Reply-To: <d@bob>\r\n",
        ),
        // Bob holds all of Alice's references: none is his, so his own [#D] counts.
        with(
            "bob@example.com",
            "r5@bob",
            &to_b,
            &format!("Re: [#{d}]"),
            "five: bob on his own ticket",
            "In-Reply-To: <a@alice>\r\n",
        ),
        // [#C] from someone who is not C's customer: a new ticket, C untouched.
        with(
            "bob@example.com",
            "r6@bob",
            "support@example.com",
            &subject_c,
            "six: bob guessing",
            "",
        ),
    ];
    for raw in &mails {
        assert_eq!(post_mail(&app, raw).await?.status, 202);
        // One at a time: each match is judged against the tickets as they are.
        settled(&app, 1).await?;
    }
    let kept = settled(&app, 10).await?;
    assert!(kept.iter().all(|m| m.state == "processed"), "{kept:#?}");
    assert_eq!(
        texts(&app, a)?,
        vec!["one: all three ways", "four: past a foreign In-Reply-To"]
    );
    assert_eq!(texts(&app, b)?, vec!["two: token and subject"]);
    assert_eq!(texts(&app, c)?, vec!["three: subject only"]);
    assert_eq!(texts(&app, d)?, vec!["five: bob on his own ticket"]);
    let all = tickets(&app)?;
    assert_eq!(all.len(), 5, "{all:?}");
    let guessed = all.last().ok_or("no tickets")?;
    assert_eq!(
        (guessed.1.as_str(), guessed.2.as_str(), guessed.3.as_str()),
        ("bob@example.com", subject_c.as_str(), "six: bob guessing")
    );
    Ok(())
}

/// How many people the desk knows.
fn people(app: &TestApp) -> TestResult<i64> {
    app.with_db(|db: Db| async move {
        let row = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM users")
            .fetch_one(db.pool())
            .await?;
        Ok(row.try_get("n")?)
    })
}

/// A mail from an existing customer's address (in any case) is theirs: no second account.
/// From an agent's or administrator's address it is quarantined, not posted (what the README
/// decides: a `From` can be forged), also when it opens no conversation, and a retry does not
/// let it through.
async fn the_sender_is_the_person_with_that_email_and_staff_mail_waits_in_quarantine(
    backend: Backend,
) -> TestResult {
    let app = desk(backend, &[]).await?;
    app.category("General")?;
    let kim = app.customer("kim@example.com")?;
    app.person("agent@example.com", "agent")?;
    let root = admin(&app).await?;
    let known = people(&app)?;

    let raw = "From: Kim Lee <KIM@Example.COM>\r\nTo: support@example.com\r\nSubject: Mine\r\n\
               Message-ID: <k1@kim>\r\n\r\nFrom my other client\r\n";
    post_mail(&app, raw).await?;
    settled(&app, 1).await?;
    let all = tickets(&app)?;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].1, "kim@example.com");
    let author = app.with_db(|db: Db| async move {
        let row = sqlx::query("SELECT author_id FROM tickets")
            .fetch_one(db.pool())
            .await?;
        Ok(row.try_get::<i64, _>("author_id")?)
    })?;
    assert_eq!(author, kim.id);
    assert_eq!(people(&app)?, known, "a second account was made for Kim");

    // Staff: a new subject, and a reply on Kim's ticket by its subject; neither posts.
    let kims = all[0].0;
    post_mail(
        &app,
        &mail("Agent@Example.com", "s1@agent", "New from staff", "Hi", ""),
    )
    .await?;
    post_mail(
        &app,
        &mail(
            &root.email,
            "s2@root",
            &format!("Re: [#{kims}] Mine"),
            "Answer by mail",
            "",
        ),
    )
    .await?;
    let kept = settled(&app, 3).await?;
    let staff: Vec<_> = kept
        .iter()
        .filter(|m| m.sender.as_deref() != Some("kim@example.com"))
        .collect();
    assert_eq!(staff.len(), 2, "{kept:#?}");
    for m in &staff {
        assert_eq!(m.state, "quarantined", "{m:#?}");
        assert_eq!(
            m.reason.as_deref(),
            Some(supportdesk::services::inbound::process::STAFF_SENDER)
        );
    }
    assert_eq!(tickets(&app)?.len(), 1);
    assert_eq!(all[0].3, "From my other client");
    assert!(texts(&app, kims)?.is_empty());
    assert_eq!(people(&app)?, known);

    // A retry goes through the same rule: still quarantined.
    let id = staff
        .iter()
        .find(|m| m.sender.as_deref() == Some("agent@example.com"))
        .ok_or("the agent's mail is not listed")?
        .id;
    send(app.post(
        &format!("/api/v1/admin/inbound/quarantine/{id}/retry/"),
        &root,
    ))
    .await?
    .assert_ok();
    let kept = settled(&app, 3).await?;
    let again = kept.iter().find(|m| m.id == id).ok_or("gone")?;
    assert_eq!(again.state, "quarantined", "{again:#?}");
    assert_eq!(tickets(&app)?.len(), 1);
    Ok(())
}

/// `supportdesk inbound list|retry|delete` against a running desk: a mail quarantined for a
/// reason that can be mended (no category yet) is retried from the command line and becomes its
/// ticket; the list follows each step; the commands refuse what is not in quarantine.
async fn the_quarantine_round_trip_through_the_cli(backend: Backend) -> TestResult {
    let app = desk(backend, &[]).await?;
    post_mail(
        &app,
        &mail(
            "lena@example.com",
            "q1@lena",
            "Before any category",
            "Hello",
            "",
        ),
    )
    .await?;
    post_mail(
        &app,
        "Subject: nobody\r\nMessage-ID: <q2@x>\r\n\r\nbody\r\n",
    )
    .await?;
    let kept = settled(&app, 2).await?;
    assert!(kept.iter().all(|m| m.state == "quarantined"), "{kept:#?}");
    assert!(tickets(&app)?.is_empty());

    let list = |args: &[&str]| -> TestResult<Vec<Vec<String>>> {
        let out = app.cli(args)?;
        assert!(out.status.success(), "{args:?}: {out:?}");
        Ok(String::from_utf8(out.stdout)?
            .lines()
            .map(|l| l.split('\t').map(str::to_owned).collect())
            .collect())
    };
    let rows = list(&["inbound", "list"])?;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let lena = rows
        .iter()
        .find(|r| r.get(4).is_some_and(|s| s == "lena@example.com"))
        .ok_or("Lena's mail is not listed")?;
    assert_eq!(lena[1], "quarantined");
    assert_eq!(lena[5], "Before any category");
    assert!(lena[6].contains("no active category"), "{lena:?}");
    let lena_id = lena[0].clone();
    let other_id = rows
        .iter()
        .find(|r| r[0] != lena_id)
        .ok_or("the other mail is not listed")?[0]
        .clone();

    app.category("General")?;
    let said = app.cli_ok(&["inbound", "retry", &lena_id])?;
    assert_eq!(said, format!("mail {lena_id} will be processed again"));
    // The running desk (another process than the command) picks it up.
    let kept = settled(&app, 2).await?;
    let retried = kept
        .iter()
        .find(|m| m.id.to_string() == lena_id)
        .ok_or("gone")?;
    assert_eq!(retried.state, "processed", "{kept:#?}");
    let all = tickets(&app)?;
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].1.as_str(), all[0].2.as_str()),
        ("lena@example.com", "Before any category")
    );

    let rows = list(&["inbound", "list"])?;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][0], other_id);
    // A processed mail is no longer the quarantine's: neither retried nor deleted.
    for verb in ["retry", "delete"] {
        let out = app.cli(&["inbound", verb, &lena_id])?;
        assert!(!out.status.success(), "{verb}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("no quarantined mail"),
            "{verb}: {out:?}"
        );
    }
    let said = app.cli_ok(&["inbound", "delete", &other_id])?;
    assert_eq!(said, format!("mail {other_id} deleted"));
    let out = app.cli(&["inbound", "list"])?;
    assert!(out.status.success());
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no mail in quarantine"));
    let rows = list(&["inbound", "list", "--all"])?;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (rows[0][0].as_str(), rows[0][1].as_str()),
        (lena_id.as_str(), "processed")
    );
    assert_eq!(tickets(&app)?.len(), 1);
    Ok(())
}

async fn admin(app: &TestApp) -> TestResult<Person> {
    app.person("root@example.com", "admin")
}

on_both_backends!(
    a_mail_from_a_stranger_opens_a_ticket_for_a_new_customer,
    the_same_message_id_twice_makes_one_ticket,
    auto_replies_and_bounces_make_nothing,
    the_endpoint_wants_its_token_and_takes_none_without_the_setting,
    a_reply_to_a_notification_joins_its_ticket,
    refused_files_and_refused_tickets_get_one_answer_each,
    unreadable_mail_is_quarantined_and_the_next_one_still_processed,
    reply_matching_takes_in_reply_to_then_the_token_then_the_subject,
    the_sender_is_the_person_with_that_email_and_staff_mail_waits_in_quarantine,
    the_quarantine_round_trip_through_the_cli,
);

/// Two copies of one mail (two mailboxes, say support@ and billing@ on one message) processed
/// in the same instant by two processes on PostgreSQL: the second copy's check waits for the
/// first copy's transaction and then sees its ticket, so the mail becomes one ticket. (The
/// first transaction is held open here, where a worker would be writing the ticket.)
#[tokio::test]
async fn on_postgres_a_copys_check_waits_for_the_other_copys_commit() -> TestResult {
    if !crate::helpers::postgres_ready().await? {
        return Ok(());
    }
    let app = TestApp::spawn(Backend::Postgres).await?;
    let category = app.category("General")?;
    let alice = app.customer("alice@example.com")?;
    let ticket = app
        .ticket(&alice, category, "Made by the first copy")
        .await?;
    let waited = app.with_db(move |db: Db| async move {
        use supportdesk::store::Backend as Store;
        let mut ids = Vec::new();
        for mailbox in ["imap://desk@x:143/Support", "imap://desk@x:143/Billing"] {
            // Kept quarantined, so that the running desk's worker leaves them to this test.
            let stored = inbound::store(
                &db,
                &inbound::NewInbound {
                    mailbox,
                    message_id: "race@alice",
                    raw: b"From: alice@example.com\r\n\r\nx\r\n",
                    size: 29,
                    category_id: None,
                    quarantine: Some("test fixture"),
                },
            )
            .await?;
            match stored {
                inbound::Stored::New(id) => ids.push(id),
                inbound::Stored::Duplicate => return Err("kept as a duplicate".into()),
            }
        }
        let (first, second) = (ids[0], ids[1]);
        let mut tx1 = db.begin_write().await?;
        if inbound::already_processed(&mut tx1, Store::Postgres, "race@alice", first).await? {
            return Err("the first copy was taken as already processed".into());
        }
        sqlx::query(
            "UPDATE inbound_messages SET state = 'processed', ticket_id = $1 WHERE id = $2",
        )
        .bind(ticket)
        .bind(first)
        .execute(&mut *tx1)
        .await?;
        let other = db.clone();
        let check = tokio::spawn(async move {
            let mut tx2 = other.begin_write().await?;
            let seen =
                inbound::already_processed(&mut tx2, Store::Postgres, "race@alice", second).await?;
            tx2.rollback().await?;
            Ok::<bool, supportdesk::store::StoreError>(seen)
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        let waited = !check.is_finished();
        tx1.commit().await?;
        let seen = check.await??;
        Ok((waited, seen))
    })?;
    assert_eq!(
        waited,
        (true, true),
        "(the second check waited for the first transaction, then saw its ticket)"
    );
    Ok(())
}
