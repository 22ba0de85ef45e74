//! Email notifications against a real SMTP server (aiosmtpd, `tests/smtp_server.py`) on a free
//! loopback port. The server parses each delivered message with Python's `email` package, so
//! headers, parts and threading ids are judged by an implementation that is not the code under
//! test.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use supportdesk::store::mail::{self, MailRow};
use tempfile::TempDir;

use crate::helpers::{Backend, Person, TestApp, TestResult, send};

const HARNESS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_server.py");
pub(crate) const FROM: &str = "Support Desk <desk@example.com>";
const PUBLIC_URL: &str = "https://desk.example.com";

/// The SMTP server process; it stops when dropped.
pub(crate) struct Smtp {
    child: Child,
    /// Closing it ends the server.
    stdin: Option<ChildStdin>,
    port: u16,
    dir: TempDir,
}

impl Smtp {
    pub(crate) fn start(args: &[&str]) -> TestResult<Self> {
        Self::start_on(0, args)
    }

    /// On `port` (0: a free one), with the harness's options (`--reject`, `--tempfail`).
    fn start_on(port: u16, args: &[&str]) -> TestResult<Self> {
        let dir = tempfile::tempdir()?;
        let mut child = Command::new("python3")
            .arg(HARNESS)
            .arg("--dir")
            .arg(dir.path())
            .arg("--port")
            .arg(port.to_string())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        // Readiness: the harness prints its port once it listens.
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let port = line
            .trim()
            .strip_prefix("port ")
            .ok_or_else(|| format!("the SMTP harness did not start: {line:?}"))?
            .parse()?;
        Ok(Self {
            child,
            stdin,
            port,
            dir,
        })
    }

    /// The certificate authority a `--tls` harness made for this run.
    pub(crate) fn ca_file(&self) -> std::path::PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The logins a `--login` harness accepted, one line each (`user mechanism`).
    pub(crate) fn logins(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("logins")).unwrap_or_default()
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, in order.
    pub(crate) fn received(&self) -> TestResult<Vec<Value>> {
        let mut names: Vec<_> = std::fs::read_dir(self.dir.path())?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| Ok(serde_json::from_slice(&std::fs::read(p)?)?))
            .collect()
    }

    /// Waits until `n` messages have arrived (10 s at most); answers them all.
    pub(crate) async fn wait_for(&self, n: usize) -> TestResult<Vec<Value>> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.received()?;
            if got.len() >= n {
                return Ok(got);
            }
            if Instant::now() > deadline {
                return Err(format!("{} of {n} mails arrived: {got:#?}", got.len()).into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        // Closing its stdin ends the harness; the kill is for one that hangs.
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A desk that mails through `smtp_url`, retrying on `schedule`.
async fn desk(backend: Backend, smtp_url: &str, schedule: &str) -> TestResult<TestApp> {
    TestApp::spawn_with(
        backend,
        &[
            ("SUPPORTDESK_SMTP_URL", smtp_url),
            ("SUPPORTDESK_MAIL_FROM", FROM),
            ("SUPPORTDESK_PUBLIC_URL", PUBLIC_URL),
            ("SUPPORTDESK_MAIL_RETRY_SCHEDULE", schedule),
            ("SUPPORTDESK_OUTBOX_POLL_MS", "20"),
            ("SUPPORTDESK_OPEN_TICKET_LIMIT", "50"),
        ],
    )
    .await
}

pub(crate) fn header(mail: &Value, name: &str) -> Vec<String> {
    mail["headers"][name]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn one_header(mail: &Value, name: &str) -> String {
    let values = header(mail, name);
    assert_eq!(values.len(), 1, "{name} in {mail:#}");
    values.into_iter().next().unwrap_or_default()
}

pub(crate) fn recipient(mail: &Value) -> String {
    mail["rcpt_tos"]
        .as_array()
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn recipients(mails: &[Value]) -> BTreeSet<String> {
    mails.iter().map(recipient).collect()
}

fn set(addresses: &[&str]) -> BTreeSet<String> {
    addresses.iter().map(|a| (*a).to_owned()).collect()
}

pub(crate) fn text(mail: &Value) -> &str {
    mail["text"].as_str().unwrap_or_default()
}

fn html(mail: &Value) -> &str {
    mail["html"].as_str().unwrap_or_default()
}

async fn post_ok(app: &TestApp, path: &str, who: &Person, form: &[(&str, &str)]) -> TestResult {
    send(app.post(path, who).form(form)).await?.assert_ok();
    Ok(())
}

/// The ticket's queued mails, as stored.
pub(crate) fn stored(app: &TestApp, ticket: i64) -> TestResult<Vec<MailRow>> {
    app.with_db(move |db| async move { Ok(mail::for_ticket(&db, ticket).await?) })
}

/// Waits until `n` mails of the ticket are queued and each has an outcome (10 s at most).
pub(crate) async fn settled(app: &TestApp, ticket: i64, n: usize) -> TestResult<Vec<MailRow>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = stored(app, ticket)?;
        let done = rows.len() >= n && rows.iter().all(|r| r.state != "pending");
        if done || Instant::now() > deadline {
            return Ok(rows);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A `supportdesk_notify_*` reading for the email channel.
async fn email_metric(app: &TestApp, series: &str) -> TestResult<Option<f64>> {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{series} ")))
        .and_then(|v| v.trim().parse().ok()))
}

async fn who_gets_what_and_one_tickets_mails_thread_together(backend: Backend) -> TestResult {
    let smtp = Smtp::start(&[])?;
    let app = desk(backend, &smtp.url(), "50ms").await?;
    let alice = app.customer("alice@example.com")?;
    let bob = app.person("bob@example.com", "agent")?;
    let carol = app.person("carol@example.com", "agent")?;
    let billing = app.category("Billing")?;
    let ticket = app.ticket(&alice, billing, "Printer on fire").await?;
    let base = format!("/api/v1/agent/tickets/{ticket}");

    // A new, unassigned ticket: every agent and administrator (the first start's included).
    let created = smtp.wait_for(3).await?;
    assert_eq!(
        recipients(&created),
        set(&["bob@example.com", "carol@example.com", &app.admin_email])
    );
    let subject = format!("[#{ticket}] Printer on fire");
    let link = format!("{PUBLIC_URL}/tickets/{ticket}");
    for mail in &created {
        assert_eq!(one_header(mail, "subject"), subject);
        assert_eq!(one_header(mail, "from"), FROM);
        assert_eq!(one_header(mail, "auto-submitted"), "auto-generated");
        assert_eq!(mail["content_type"], "multipart/alternative");
        assert_eq!(mail["mail_from"], "desk@example.com");
        assert!(text(mail).contains("alice@example.com opened a new ticket:"));
        assert!(text(mail).contains("Please help"), "{mail:#}");
        assert!(text(mail).contains(&link));
        assert!(html(mail).contains("Please help"));
        assert!(html(mail).contains(&format!("href=\"{link}\"")));
        assert!(!html(mail).contains("<img"), "no remote images");
        assert_eq!(mail["defects"], serde_json::json!([]));
    }

    // A note reaches nobody by mail; the reply reaches the customer only, and the status change
    // it brings (Open to Processing) sends no second mail.
    post_ok(
        &app,
        &format!("{base}/note/"),
        &bob,
        &[("comment", "SECRET: customer is grumpy")],
    )
    .await?;
    post_ok(
        &app,
        &format!("{base}/reply/"),
        &bob,
        &[("comment", "<b>Unplug</b> it & wait")],
    )
    .await?;
    let replied = smtp.wait_for(4).await?;
    let reply = &replied[3];
    assert_eq!(recipient(reply), "alice@example.com");
    // A customer sees "Support", never the agent's own address.
    assert!(text(reply).contains("Support replied:"), "{reply:#}");
    assert!(!text(reply).contains("bob@example.com"), "{reply:#}");
    assert!(!html(reply).contains("bob@example.com"), "{reply:#}");
    assert!(text(reply).contains("<b>Unplug</b> it & wait"), "{reply:#}");
    assert!(
        html(reply).contains("&#60;b&#62;Unplug&#60;/b&#62; it &#38; wait")
            || html(reply).contains("&lt;b&gt;Unplug&lt;/b&gt; it &amp; wait"),
        "the message is escaped in HTML: {}",
        html(reply)
    );

    // Assigned to Carol: the customer's comment reaches her alone; an assignment mails nobody.
    post_ok(
        &app,
        &format!("{base}/update/"),
        &bob,
        &[("assignee", &carol.id.to_string())],
    )
    .await?;
    post_ok(
        &app,
        "/api/v1/support/ticket/conversation/",
        &alice,
        &[
            ("ticket", &ticket.to_string()),
            ("comment", "Still burning"),
        ],
    )
    .await?;
    let commented = smtp.wait_for(5).await?;
    assert_eq!(recipient(&commented[4]), "carol@example.com");
    assert!(text(&commented[4]).contains("Still burning"));

    // Staff closing the ticket tells the customer.
    post_ok(&app, &format!("{base}/update/"), &bob, &[("status", "3")]).await?;
    let all = smtp.wait_for(6).await?;
    let closed = &all[5];
    assert_eq!(recipient(closed), "alice@example.com");
    assert!(
        text(closed).contains("status changed from Processing to Closed"),
        "{closed:#}"
    );

    // Nothing else arrives, and no mail ever carried the note.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all = smtp.received()?;
    assert_eq!(all.len(), 6, "{all:#?}");
    assert!(all.iter().all(|m| !m.to_string().contains("SECRET")));

    // One thread: every mail answers the ticket's root id, each has an id of its own, and the
    // ids are those the database keeps for the inbound-mail work.
    let root = one_header(&all[0], "in-reply-to");
    assert!(
        root.starts_with('<') && root.ends_with("@example.com>"),
        "{root}"
    );
    let mut ids = BTreeSet::new();
    for mail in &all {
        assert_eq!(one_header(mail, "in-reply-to"), root);
        assert_eq!(one_header(mail, "references"), root);
        assert!(
            ids.insert(one_header(mail, "message-id")),
            "ids are distinct"
        );
    }
    assert!(!ids.contains(&root));
    let rows = stored(&app, ticket)?;
    let stored_ids: BTreeSet<String> = rows.iter().map(|r| r.message_id.clone()).collect();
    assert_eq!(stored_ids, ids);
    assert!(
        rows.iter()
            .all(|r| r.in_reply_to == root && r.state == "delivered")
    );

    assert_eq!(
        email_metric(
            &app,
            "supportdesk_notify_deliveries{channel=\"email\",state=\"delivered\"}"
        )
        .await?,
        Some(6.0)
    );
    Ok(())
}

async fn people_who_opt_out_get_nothing(backend: Backend) -> TestResult {
    let smtp = Smtp::start(&[])?;
    let app = desk(backend, &smtp.url(), "50ms").await?;
    let alice = app.customer("alice@example.com")?;
    let bob = app.person("bob@example.com", "agent")?;
    app.person("carol@example.com", "agent")?;
    let root = app.person("root@example.com", "admin")?;
    let billing = app.category("Billing")?;

    // Bob opts out on the command line, the first administrator and Alice through the API.
    let out = app.cli_ok(&[
        "user",
        "update",
        &bob.id.to_string(),
        "--email-notifications",
        "false",
    ])?;
    assert!(out.contains("email notifications off"), "{out}");
    let users = send(app.get("/api/v1/admin/users/", &root)).await?;
    let users = users.assert_ok()["users"].clone();
    let first_admin = users
        .as_array()
        .and_then(|u| u.iter().find(|u| u["email"] == app.admin_email.as_str()))
        .and_then(|u| u["id"].as_i64())
        .ok_or("no first administrator")?;
    for id in [first_admin, alice.id] {
        let answer = send(
            app.post(&format!("/api/v1/admin/users/{id}/"), &root)
                .form(&[("email_notifications", "false")]),
        )
        .await?;
        assert_eq!(answer.assert_ok()["user"]["email_notifications"], false);
    }
    let refused = send(
        app.post(&format!("/api/v1/admin/users/{}/", alice.id), &root)
            .form(&[("email_notifications", "maybe")]),
    )
    .await?;
    refused.assert_errors(
        400,
        serde_json::json!({"email_notifications": ["Must be a valid boolean."]}),
    );

    let ticket = app.ticket(&alice, billing, "Printer on fire").await?;
    post_ok(
        &app,
        &format!("/api/v1/agent/tickets/{ticket}/reply/"),
        &bob,
        &[("comment", "Unplug it")],
    )
    .await?;
    smtp.wait_for(2).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = smtp.received()?;
    assert_eq!(
        recipients(&got),
        set(&["carol@example.com", "root@example.com"]),
        "{got:#?}"
    );
    assert_eq!(got.len(), 2);

    // Opted back in, Alice hears of the next reply.
    let answer = send(
        app.post(&format!("/api/v1/admin/users/{}/", alice.id), &root)
            .form(&[("email_notifications", "true")]),
    )
    .await?;
    assert_eq!(answer.assert_ok()["user"]["email_notifications"], true);
    post_ok(
        &app,
        &format!("/api/v1/agent/tickets/{ticket}/reply/"),
        &bob,
        &[("comment", "Did it work?")],
    )
    .await?;
    let got = smtp.wait_for(3).await?;
    assert_eq!(recipient(&got[2]), "alice@example.com");
    Ok(())
}

async fn a_refused_recipient_stops_nobody_and_staff_see_why(backend: Backend) -> TestResult {
    // Bob's mailbox is refused for good; Dave's server answers 451 to every attempt.
    let smtp = Smtp::start(&[
        "--reject",
        "bob@example.com",
        "--tempfail",
        "dave@example.com:99",
    ])?;
    let app = desk(backend, &smtp.url(), "20ms,20ms").await?;
    let alice = app.customer("alice@example.com")?;
    let carol = app.person("carol@example.com", "agent")?;
    app.person("bob@example.com", "agent")?;
    app.person("dave@example.com", "agent")?;
    let billing = app.category("Billing")?;
    let ticket = app.ticket(&alice, billing, "Printer on fire").await?;

    let rows = settled(&app, ticket, 4).await?;
    let got = smtp.received()?;
    assert_eq!(
        recipients(&got),
        set(&["carol@example.com", &app.admin_email]),
        "the others arrive"
    );
    let row = |address: &str| rows.iter().find(|r| r.recipient == address).cloned();
    let bob = row("bob@example.com").ok_or("no mail for bob")?;
    assert_eq!(
        (bob.state.as_str(), bob.attempts),
        ("failed", 1),
        "no retry of a 550"
    );
    let dave = row("dave@example.com").ok_or("no mail for dave")?;
    assert_eq!(
        (dave.state.as_str(), dave.attempts),
        ("failed", 3),
        "every attempt of the schedule"
    );

    // Staff see why on the ticket's trail; the customer sees nothing of it.
    let view = send(app.get(&format!("/api/v1/agent/tickets/{ticket}/"), &carol)).await?;
    let events = view.assert_ok()["events"].clone();
    let failures: Vec<String> = events
        .as_array()
        .ok_or("no events")?
        .iter()
        .filter(|e| e["kind"] == "mail_failed")
        .filter_map(|e| e["to"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(failures.len(), 2, "{events:#}");
    assert!(
        failures.iter().any(|f| f
            .starts_with("Email to bob@example.com could not be delivered: permanent error (550)")
            && f.contains("mailbox unavailable")),
        "{failures:?}"
    );
    assert!(
        failures.iter().any(|f| f.starts_with(
            "Email to dave@example.com could not be delivered: transient error (451)"
        )),
        "{failures:?}"
    );
    let detail = send(app.get(
        &format!("/api/v1/support/ticket/detailed-view/?ticket_id={ticket}"),
        &alice,
    ))
    .await?;
    detail.assert_ok();
    let seen = String::from_utf8_lossy(&detail.bytes);
    assert!(!seen.contains("could not be delivered"), "{seen}");
    assert!(!seen.contains("mail_failed"), "{seen}");

    assert_eq!(
        email_metric(
            &app,
            "supportdesk_notify_deliveries{channel=\"email\",state=\"failed\"}"
        )
        .await?,
        Some(2.0)
    );
    assert_eq!(
        email_metric(&app, "supportdesk_notify_retries{channel=\"email\"}").await?,
        Some(2.0)
    );
    Ok(())
}

async fn a_temporary_refusal_is_retried_until_the_mail_arrives(backend: Backend) -> TestResult {
    let smtp = Smtp::start(&["--tempfail", "alice@example.com:2"])?;
    let app = desk(backend, &smtp.url(), "30ms,30ms,30ms").await?;
    let alice = app.customer("alice@example.com")?;
    let bob = app.person("bob@example.com", "agent")?;
    let billing = app.category("Billing")?;
    let ticket = app.ticket(&alice, billing, "Printer on fire").await?;
    post_ok(
        &app,
        &format!("/api/v1/agent/tickets/{ticket}/reply/"),
        &bob,
        &[("comment", "Unplug it")],
    )
    .await?;
    // The new ticket's mails to Bob and the first administrator, the reply's to Alice.
    let rows = settled(&app, ticket, 3).await?;
    let to_alice = rows
        .iter()
        .find(|r| r.recipient == "alice@example.com")
        .ok_or("no mail for alice")?;
    assert_eq!(
        (to_alice.state.as_str(), to_alice.attempts),
        ("delivered", 3)
    );
    let got = smtp.received()?;
    let alices: Vec<&Value> = got
        .iter()
        .filter(|m| recipient(m) == "alice@example.com")
        .collect();
    assert_eq!(alices.len(), 1, "delivered once");
    assert_eq!(one_header(alices[0], "message-id"), to_alice.message_id);
    Ok(())
}

async fn mail_waits_for_a_server_that_is_down_and_arrives_once_it_is_up(
    backend: Backend,
) -> TestResult {
    // A port nobody listens on, yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let app = desk(
        backend,
        &format!("smtp://127.0.0.1:{port}"),
        "50ms,100ms,200ms,400ms,800ms,1s,2s,4s",
    )
    .await?;
    let alice = app.customer("alice@example.com")?;
    let billing = app.category("Billing")?;
    let ticket = app.ticket(&alice, billing, "Printer on fire").await?;

    // The first attempt fails: the connection is refused.
    let deadline = Instant::now() + Duration::from_secs(10);
    let failed_once = loop {
        let rows = stored(&app, ticket)?;
        if rows.iter().any(|r| r.last_error.is_some()) || Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let first = failed_once.first().ok_or("no mail queued")?;
    assert_eq!(first.state, "pending", "{failed_once:?}");
    assert!(first.last_error.is_some(), "{failed_once:?}");

    let smtp = Smtp::start_on(port, &[])?;
    let got = smtp.wait_for(1).await?;
    assert_eq!(recipient(&got[0]), app.admin_email);
    let rows = settled(&app, ticket, 1).await?;
    assert!(rows.iter().all(|r| r.state == "delivered"), "{rows:?}");
    Ok(())
}

async fn line_breaks_in_a_subject_forge_no_header(backend: Backend) -> TestResult {
    let smtp = Smtp::start(&[])?;
    let app = desk(backend, &smtp.url(), "50ms").await?;
    let alice = app.customer("alice@example.com")?;
    let billing = app.category("Billing")?;
    let answer = send(app.post("/api/v1/support/create/ticket/", &alice).form(&[
        ("subject", "Help\r\nBcc: eve@example.com\r\nX-Injected: yes"),
        ("priority", "2"),
        (
            "comment",
            "line one\r\n.\r\nMAIL FROM:<eve@example.com>\r\nlast",
        ),
        ("category", &billing.to_string()),
    ]))
    .await?;
    let ticket = answer.assert_ok()["ticket"]["id"]
        .as_i64()
        .ok_or("no ticket id")?;
    smtp.wait_for(1).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let got = smtp.received()?;
    assert_eq!(got.len(), 1, "{got:#?}");
    for mail in &got {
        assert_eq!(mail["rcpt_tos"], serde_json::json!([app.admin_email]));
        assert!(header(mail, "bcc").is_empty(), "{mail:#}");
        assert!(header(mail, "x-injected").is_empty(), "{mail:#}");
        assert_eq!(
            one_header(mail, "subject"),
            format!("[#{ticket}] Help Bcc: eve@example.com X-Injected: yes")
        );
        // The lone dot is the message's text, not the end of the SMTP data.
        let body = text(mail).replace("\r\n", "\n");
        assert!(
            body.contains("line one\n.\nMAIL FROM:<eve@example.com>\nlast"),
            "{body}"
        );
    }
    Ok(())
}

async fn without_an_smtp_url_nothing_is_queued(backend: Backend) -> TestResult {
    let app = TestApp::spawn_with(backend, &[("SUPPORTDESK_OUTBOX_POLL_MS", "20")]).await?;
    let alice = app.customer("alice@example.com")?;
    app.person("bob@example.com", "agent")?;
    let billing = app.category("Billing")?;
    let ticket = app.ticket(&alice, billing, "Printer on fire").await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(stored(&app, ticket)?.is_empty());
    assert_eq!(
        email_metric(&app, "supportdesk_notify_retries{channel=\"email\"}").await?,
        None
    );
    Ok(())
}

/// At least once: a server killed (SIGKILL) in the middle of an SMTP conversation has recorded
/// nothing; another process sends the mail after the lease, with the same Message-ID.
async fn a_mail_cut_off_by_a_killed_server_is_sent_by_another_after_the_lease(
    backend: Backend,
) -> TestResult {
    let smtp = Smtp::start(&["--stall", "bob@example.com"])?;
    let url = smtp.url();
    let app = TestApp::spawn_process_with(
        backend,
        &[
            ("SUPPORTDESK_SMTP_URL", url.as_str()),
            ("SUPPORTDESK_MAIL_FROM", FROM),
            ("SUPPORTDESK_MAIL_RETRY_SCHEDULE", "50ms"),
            ("SUPPORTDESK_OUTBOX_POLL_MS", "20"),
            // Longer than the second process takes to start on a loaded machine (the full
            // suite at six tests at once took over a second): before it reads the queue, the
            // stalled mail must still be the first process's.
            ("SUPPORTDESK_OUTBOX_LEASE_MS", "3000"),
        ],
    )
    .await?;
    let alice = app.customer("alice@example.com")?;
    let bob = app.person("bob@example.com", "agent")?;
    let billing = app.category("Billing")?;
    let ticket = app.ticket(&alice, billing, "Printer on fire").await?;
    // Bob's mail hangs after its data: the server has sent it, the SMTP server never answers.
    let stalled = smtp.dir.path().join("stalled");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !stalled.exists() {
        if Instant::now() > deadline {
            return Err("no mail reached the SMTP server".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second = app.sibling()?;
    let before = stored(&second, ticket)?;
    let to_bob = before
        .iter()
        .find(|r| r.recipient == bob.email)
        .cloned()
        .ok_or("no mail for bob")?;
    assert_eq!((to_bob.state.as_str(), to_bob.attempts), ("pending", 1));
    let app_admin = app.admin_email.clone();
    drop(app); // SIGKILL

    let deadline = Instant::now() + Duration::from_secs(10);
    let got = loop {
        let got = smtp.received()?;
        if got.iter().any(|m| recipient(m) == bob.email) || Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let bobs: Vec<&Value> = got.iter().filter(|m| recipient(m) == bob.email).collect();
    assert_eq!(bobs.len(), 1, "{got:#?}");
    assert_eq!(one_header(bobs[0], "message-id"), to_bob.message_id);
    // The killed process had sent the administrator's mail of the same batch without recording
    // it yet: it may come twice (at least once), but always with one Message-ID.
    let admin_ids: BTreeSet<String> = got
        .iter()
        .filter(|m| recipient(m) == app_admin)
        .map(|m| one_header(m, "message-id"))
        .collect();
    assert_eq!(admin_ids.len(), 1, "{got:#?}");
    let rows = settled(&second, ticket, 2).await?;
    let after = rows
        .iter()
        .find(|r| r.id == to_bob.id)
        .ok_or("the mail is gone")?;
    assert_eq!((after.state.as_str(), after.attempts), ("delivered", 2));
    Ok(())
}

/// The SMTP password is in no log line and no stored error.
async fn the_smtp_password_is_never_logged(backend: Backend) -> TestResult {
    // The harness offers no login, so each attempt fails after connecting.
    let smtp = Smtp::start(&[])?;
    let url = format!("smtp://desk:hunter2@127.0.0.1:{}", smtp.port);
    let app = TestApp::spawn_process_with(
        backend,
        &[
            ("SUPPORTDESK_SMTP_URL", url.as_str()),
            ("SUPPORTDESK_MAIL_FROM", FROM),
            ("SUPPORTDESK_MAIL_RETRY_SCHEDULE", "20ms,20ms"),
            ("SUPPORTDESK_OUTBOX_POLL_MS", "20"),
            ("RUST_LOG", "info"),
        ],
    )
    .await?;
    let alice = app.customer("alice@example.com")?;
    let billing = app.category("Billing")?;
    let ticket = app.ticket(&alice, billing, "Printer on fire").await?;
    let rows = settled(&app, ticket, 1).await?;
    assert!(rows.iter().all(|r| r.state == "failed"), "{rows:?}");
    let log = app.log();
    assert!(log.contains("smtp://desk:***@127.0.0.1"), "{log}");
    assert!(log.contains("could not be delivered"), "{log}");
    assert!(!log.contains("hunter2"), "{log}");
    for row in &rows {
        assert!(!format!("{row:?}").contains("hunter2"), "{row:?}");
        // The harness offers no STARTTLS: with a login, nothing is sent in clear, and the
        // reason says why.
        assert!(
            row.last_error
                .as_deref()
                .is_some_and(|e| e.contains("does not offer STARTTLS")),
            "{row:?}"
        );
    }
    assert!(smtp.received()?.is_empty());
    Ok(())
}

on_both_backends!(
    the_smtp_password_is_never_logged,
    a_mail_cut_off_by_a_killed_server_is_sent_by_another_after_the_lease,
    who_gets_what_and_one_tickets_mails_thread_together,
    people_who_opt_out_get_nothing,
    a_refused_recipient_stops_nobody_and_staff_see_why,
    a_temporary_refusal_is_retried_until_the_mail_arrives,
    mail_waits_for_a_server_that_is_down_and_arrives_once_it_is_up,
    line_breaks_in_a_subject_forge_no_header,
    without_an_smtp_url_nothing_is_queued,
);

/// Settings that cannot work stop the start, before anything listens.
#[tokio::test]
async fn email_settings_that_cannot_work_refuse_to_start() -> TestResult {
    for (settings, expected) in [
        (
            vec![("SUPPORTDESK_SMTP_URL", "smtp://127.0.0.1:2525")],
            "SUPPORTDESK_MAIL_FROM is required",
        ),
        (
            vec![
                ("SUPPORTDESK_SMTP_URL", "http://user:hunter2@127.0.0.1:2525"),
                ("SUPPORTDESK_MAIL_FROM", "desk@example.com"),
            ],
            "must start with smtp:// or smtps://",
        ),
        (
            vec![
                ("SUPPORTDESK_SMTP_URL", "smtp://127.0.0.1:2525"),
                ("SUPPORTDESK_MAIL_FROM", "not an address"),
            ],
            "SUPPORTDESK_MAIL_FROM",
        ),
        (
            vec![
                ("SUPPORTDESK_SMTP_URL", "smtp://127.0.0.1:2525"),
                ("SUPPORTDESK_MAIL_FROM", "desk@example.com"),
                ("SUPPORTDESK_MAIL_RETRY_SCHEDULE", "5x"),
            ],
            "SUPPORTDESK_MAIL_RETRY_SCHEDULE",
        ),
        (
            vec![
                (
                    "SUPPORTDESK_SMTP_URL",
                    "smtp://desk:hunter2@127.0.0.1:2525?tls=none",
                ),
                ("SUPPORTDESK_MAIL_FROM", "desk@example.com"),
            ],
            "would send the password in clear",
        ),
    ] {
        let err = match TestApp::spawn_with(Backend::Sqlite, &settings).await {
            Ok(_) => return Err(format!("{settings:?} started").into()),
            Err(err) => err.to_string(),
        };
        assert!(err.contains(expected), "{settings:?}: {err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
    Ok(())
}
