//! Email in over IMAP against a real dovecot (Debian's `dovecot-imapd`), started by each test on
//! a free loopback port with a throwaway Maildir; mail is delivered by writing Maildir files.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use supportdesk::store::inbound;

use crate::helpers::{Backend, TestApp, TestResult};
use crate::inbound::{TicketFacts, mail, settled, tickets};

/// A dovecot serving one user (`desk` / `secret`) over plain IMAP; stopped when dropped.
struct Dovecot {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Dovecot {
    fn start() -> TestResult<Self> {
        let dir = tempfile::tempdir()?;
        let root = dir.path();
        // The mail user is `nobody`; dovecot refuses to serve mail as root, and its login
        // processes run as Debian's `dovenull`.
        let maildir = root.join("mail");
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(maildir.join("desk").join(sub))?;
        }
        open_up(root)?;
        let port = free_port()?;
        std::fs::write(
            root.join("passwd"),
            format!(
                "desk:{{PLAIN}}secret:65534:65534::{}\n",
                maildir.join("desk").display()
            ),
        )?;
        let conf = format!(
            "protocols = imap\n\
             listen = 127.0.0.1\n\
             base_dir = {root}/run\n\
             state_dir = {root}/run\n\
             log_path = {root}/dovecot.log\n\
             ssl = no\n\
             disable_plaintext_auth = no\n\
             auth_mechanisms = plain login\n\
             default_internal_user = dovecot\n\
             default_internal_group = dovecot\n\
             default_login_user = dovenull\n\
             mail_location = maildir:{root}/mail/%u\n\
             passdb {{\n  driver = passwd-file\n  args = {root}/passwd\n}}\n\
             userdb {{\n  driver = passwd-file\n  args = {root}/passwd\n}}\n\
             service imap-login {{\n  chroot =\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
             service anvil {{\n  chroot =\n}}\n\
             service stats {{\n  chroot =\n}}\n",
            root = root.display()
        );
        let conf_path = root.join("dovecot.conf");
        std::fs::write(&conf_path, conf)?;
        let check = Command::new("dovecot")
            .arg("-n")
            .arg("-c")
            .arg(&conf_path)
            .output()?;
        if !check.status.success() {
            return Err(format!("dovecot -n: {}", String::from_utf8_lossy(&check.stderr)).into());
        }
        let child = Command::new("dovecot")
            .arg("-F")
            .arg("-c")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let dovecot = Self { child, dir, port };
        dovecot.wait_ready()?;
        Ok(dovecot)
    }

    /// Ready once it greets on its port.
    fn wait_ready(&self) -> TestResult {
        use std::io::Read;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                stream.set_read_timeout(Some(Duration::from_secs(2)))?;
                let mut greeting = [0u8; 4];
                if stream.read_exact(&mut greeting).is_ok() && &greeting == b"* OK" {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(self.dir.path().join("dovecot.log"))
                    .unwrap_or_default();
                return Err(format!("dovecot did not start: {log}").into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn url(&self, category: i64) -> String {
        format!(
            "imap://desk:secret@127.0.0.1:{}/INBOX?category={category}",
            self.port
        )
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("mail").join("desk")
    }

    /// Delivers a mail as a local delivery agent does: written in tmp/, renamed into new/.
    fn deliver(&self, raw: &str) -> TestResult {
        let name = format!(
            "{}.{}.test",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        );
        let tmp = self.maildir().join("tmp").join(&name);
        std::fs::write(&tmp, raw)?;
        std::fs::rename(&tmp, self.maildir().join("new").join(&name))?;
        Ok(())
    }

    /// How many messages dovecot has flagged seen (`:2,…S` in cur/).
    fn seen(&self) -> TestResult<usize> {
        Ok(std::fs::read_dir(self.maildir().join("cur"))?
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .rsplit_once(":2,")
                    .is_some_and(|(_, flags)| flags.contains('S'))
            })
            .count())
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The master's children (imap, auth) follow it; stop any left.
        let _ = Command::new("pkill")
            .arg("-F")
            .arg(self.dir.path().join("run").join("master.pid"))
            .status();
    }
}

/// Lets dovecot's unprivileged processes reach the temporary directory.
fn open_up(root: &Path) -> TestResult {
    use std::os::unix::fs::PermissionsExt;
    for entry in [
        root.to_path_buf(),
        root.join("mail"),
        root.join("mail/desk"),
    ]
    .into_iter()
    .chain(
        ["new", "cur", "tmp"]
            .iter()
            .map(|s| root.join("mail/desk").join(s)),
    ) {
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o777))?;
    }
    Ok(())
}

fn free_port() -> TestResult<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The settings of a desk reading `dovecot`'s INBOX into category 1 (the first one a test
/// creates on a fresh database).
fn imap_settings(dovecot: &Dovecot, poll_secs: &str) -> Vec<(String, String)> {
    vec![
        ("SUPPORTDESK_IMAP_URL".to_owned(), dovecot.url(1)),
        (
            "SUPPORTDESK_IMAP_POLL_SECS".to_owned(),
            poll_secs.to_owned(),
        ),
    ]
}

fn as_refs(settings: &[(String, String)]) -> Vec<(&str, &str)> {
    settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Waits until `n` tickets exist (or 20 s); answers them.
async fn wait_for_tickets(app: &TestApp, n: usize) -> TestResult<Vec<TicketFacts>> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let all = tickets(app)?;
        if all.len() >= n || Instant::now() > deadline {
            return Ok(all);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `done` holds (or `limit`); answers whether it did.
async fn until(limit: Duration, done: impl Fn() -> TestResult<bool>) -> TestResult<bool> {
    let deadline = Instant::now() + limit;
    loop {
        if done()? {
            return Ok(true);
        }
        if Instant::now() > deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn imap_mail_becomes_tickets_once_and_is_marked_seen(backend: Backend) -> TestResult {
    let dovecot = Dovecot::start()?;
    // A poll of a minute: what arrives after the first look is seen through IDLE.
    let settings = imap_settings(&dovecot, "60");
    let app = TestApp::spawn_with(backend, &as_refs(&settings)).await?;
    let category = app.category("Email")?;
    assert_eq!(category, 1);
    app.category("Other")?;
    dovecot.deliver(&mail(
        "ann@example.com",
        "a@ann",
        "Cannot log in",
        "Help",
        "",
    ))?;
    dovecot.deliver(&mail(
        "ann@example.com",
        "oof@ann",
        "Away",
        "Gone",
        "Auto-Submitted: auto-replied\r\n",
    ))?;
    dovecot.deliver("Subject: no sender at all\r\nMessage-ID: <bad@x>\r\n\r\nbody\r\n")?;
    // The same message again (a second delivery of the same Message-ID).
    dovecot.deliver(&mail(
        "ann@example.com",
        "a@ann",
        "Cannot log in",
        "Help",
        "",
    ))?;
    dovecot.deliver(&mail(
        "ben@example.com",
        "b@ben",
        "Invoice",
        "Wrong amount",
        "",
    ))?;
    let all = wait_for_tickets(&app, 2).await?;
    let kept = settled(&app, 4).await?;
    let mut states: Vec<&str> = kept.iter().map(|m| m.state.as_str()).collect();
    states.sort_unstable();
    assert_eq!(
        states,
        vec!["ignored", "processed", "processed", "quarantined"],
        "{kept:#?}"
    );
    assert!(
        kept.iter()
            .all(|m| m.mailbox.starts_with("imap://desk@127.0.0.1:")),
        "{kept:#?}"
    );
    assert!(kept.iter().all(|m| !m.mailbox.contains("secret")));
    let subjects: Vec<(&str, &str, i64)> = all
        .iter()
        .map(|t| (t.1.as_str(), t.2.as_str(), t.4))
        .collect();
    assert_eq!(
        subjects,
        vec![
            ("ann@example.com", "Cannot log in", 1),
            ("ben@example.com", "Invoice", 1)
        ]
    );
    assert!(
        until(Duration::from_secs(10), || Ok(dovecot.seen()? == 5)).await?,
        "seen: {}",
        dovecot.seen()?
    );
    // Nothing more comes of the mailbox later.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(tickets(&app)?.len(), 2);
    let position = app.with_db(|db| async move {
        Ok(inbound::mailbox_position(&db, &kept_key(&db).await?).await?)
    })?;
    assert_eq!(position.map(|p| p.1), Some(5));
    Ok(())
}

/// The mailbox key the reader used, as kept with the mail.
async fn kept_key(db: &supportdesk::store::Db) -> TestResult<String> {
    let list = inbound::recent(db, 1).await?;
    Ok(list
        .first()
        .map(|m| m.mailbox.clone())
        .ok_or("nothing kept")?)
}

async fn a_reader_killed_between_fetching_and_keeping_leaves_exactly_one_ticket(
    backend: Backend,
) -> TestResult {
    let dovecot = Dovecot::start()?;
    let mut settings = imap_settings(&dovecot, "1");
    settings.push((
        "SUPPORTDESK_TEST_IMAP_HOLD_MS".to_owned(),
        "60000".to_owned(),
    ));
    let mut app = TestApp::spawn_process_with(backend, &as_refs(&settings)).await?;
    app.category("Email")?;
    dovecot.deliver(&mail("cid@example.com", "k@cid", "Crash", "Once only", ""))?;
    let held = until(Duration::from_secs(20), || {
        Ok(app.log().contains("holding before keeping it"))
    })
    .await?;
    assert!(held, "{}", app.log());
    app.kill()?;
    let kept = app.with_db(|db| async move { Ok(inbound::recent(&db, 10).await?) })?;
    assert!(kept.is_empty(), "{kept:#?}");
    assert_eq!(dovecot.seen()?, 0);

    let restarted =
        app.sibling_with(&[("SUPPORTDESK_TEST_IMAP_HOLD_MS".to_owned(), "0".to_owned())])?;
    let all = wait_for_tickets(&app, 1).await?;
    assert_eq!(all.len(), 1, "{}", restarted.log());
    assert!(until(Duration::from_secs(10), || Ok(dovecot.seen()? == 1)).await?);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(tickets(&app)?.len(), 1);
    assert_eq!(settled(&app, 1).await?.len(), 1);
    Ok(())
}

on_both_backends!(
    imap_mail_becomes_tickets_once_and_is_marked_seen,
    a_reader_killed_between_fetching_and_keeping_leaves_exactly_one_ticket,
);

/// Two processes on PostgreSQL read the same mailbox: the advisory lock lets one read it, and
/// each mail becomes one ticket.
#[tokio::test]
async fn two_processes_on_postgres_read_a_mailbox_without_duplicates() -> TestResult {
    if !crate::helpers::postgres_ready().await? {
        return Ok(());
    }
    let dovecot = Dovecot::start()?;
    let settings = imap_settings(&dovecot, "1");
    let app = TestApp::spawn_process_with(Backend::Postgres, &as_refs(&settings)).await?;
    let sibling = app.sibling()?;
    app.category("Email")?;
    for n in 0..6 {
        dovecot.deliver(&mail(
            &format!("p{n}@example.com"),
            &format!("m{n}@pg"),
            &format!("Mail {n}"),
            "Body",
            "",
        ))?;
    }
    let all = wait_for_tickets(&app, 6).await?;
    assert_eq!(all.len(), 6);
    assert!(until(Duration::from_secs(10), || Ok(dovecot.seen()? == 6)).await?);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let all = tickets(&app)?;
    let mut subjects: Vec<&str> = all.iter().map(|t| t.2.as_str()).collect();
    subjects.sort_unstable();
    subjects.dedup();
    assert_eq!(
        subjects.len(),
        6,
        "{all:?}\n{}\n{}",
        app.log(),
        sibling.log()
    );
    assert_eq!(all.len(), 6);
    Ok(())
}

/// A refused IMAP login is logged with the mailbox and the server's answer, never the password.
#[tokio::test]
async fn the_imap_password_is_never_logged() -> TestResult {
    let dovecot = Dovecot::start()?;
    let url = format!(
        "imap://desk:wrong-pass-4711@127.0.0.1:{}/INBOX",
        dovecot.port
    );
    let app = TestApp::spawn_process_with(
        Backend::Sqlite,
        &[
            ("SUPPORTDESK_IMAP_URL", url.as_str()),
            ("SUPPORTDESK_IMAP_POLL_SECS", "1"),
        ],
    )
    .await?;
    let refused = until(Duration::from_secs(15), || {
        Ok(app.log().contains("IMAP login as desk refused"))
    })
    .await?;
    let log = app.log();
    assert!(refused, "{log}");
    assert!(log.contains("imap://desk@127.0.0.1:"), "{log}");
    assert!(!log.contains("wrong-pass-4711"), "{log}");
    let help = app.cli(&["serve", "--help"])?;
    assert!(!String::from_utf8_lossy(&help.stdout).contains("wrong-pass-4711"));
    Ok(())
}
