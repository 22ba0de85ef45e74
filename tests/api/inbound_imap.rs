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

/// How a test's dovecot differs from the plain one.
#[derive(Default)]
struct Setup<'a> {
    /// Leave IDLE out of the capabilities, so that the desk must poll.
    no_idle: bool,
    /// Folders besides INBOX (Maildir++: `.NAME` under the user's Maildir).
    folders: &'a [&'a str],
}

impl Dovecot {
    fn start() -> TestResult<Self> {
        Self::start_with(&Setup::default())
    }

    fn start_with(setup: &Setup<'_>) -> TestResult<Self> {
        let dir = tempfile::tempdir()?;
        let root = dir.path();
        // The mail user is `nobody`; dovecot refuses to serve mail as root, and its login
        // processes run as Debian's `dovenull`.
        let maildir = root.join("mail");
        let mut boxes = vec![maildir.join("desk")];
        boxes.extend(
            setup
                .folders
                .iter()
                .map(|f| maildir.join("desk").join(format!(".{f}"))),
        );
        for mailbox in &boxes {
            for sub in ["new", "cur", "tmp"] {
                std::fs::create_dir_all(mailbox.join(sub))?;
            }
        }
        open_up(root, &boxes)?;
        let port = free_port()?;
        std::fs::write(
            root.join("passwd"),
            format!(
                "desk:{{PLAIN}}secret:65534:65534::{}\n",
                maildir.join("desk").display()
            ),
        )?;
        // Dovecot 2.3's own list without IDLE: it still understands the command, but a client
        // that reads the capabilities (as the desk does) never sends it.
        let capability = if setup.no_idle {
            "imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE LITERAL+ UIDPLUS \
             NAMESPACE UNSELECT CHILDREN\n"
        } else {
            ""
        };
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
             {capability}\
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
        self.folder_url("INBOX", category)
    }

    fn folder_url(&self, folder: &str, category: i64) -> String {
        format!(
            "imap://desk:secret@127.0.0.1:{}/{folder}?category={category}",
            self.port
        )
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("mail").join("desk")
    }

    /// A folder's Maildir (INBOX is the user's Maildir itself).
    fn folder_dir(&self, folder: &str) -> PathBuf {
        if folder == "INBOX" {
            self.maildir()
        } else {
            self.maildir().join(format!(".{folder}"))
        }
    }

    /// Delivers a mail as a local delivery agent does: written in tmp/, renamed into new/.
    fn deliver(&self, raw: &str) -> TestResult {
        self.deliver_to("INBOX", raw)
    }

    fn deliver_to(&self, folder: &str, raw: &str) -> TestResult {
        let name = format!(
            "{}.{}.test",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        );
        let dir = self.folder_dir(folder);
        let tmp = dir.join("tmp").join(&name);
        std::fs::write(&tmp, raw)?;
        std::fs::rename(&tmp, dir.join("new").join(&name))?;
        Ok(())
    }

    /// How many messages dovecot has flagged seen (`:2,…S` in cur/).
    fn seen(&self) -> TestResult<usize> {
        self.seen_in("INBOX")
    }

    fn seen_in(&self, folder: &str) -> TestResult<usize> {
        Ok(std::fs::read_dir(self.folder_dir(folder).join("cur"))?
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .rsplit_once(":2,")
                    .is_some_and(|(_, flags)| flags.contains('S'))
            })
            .count())
    }

    /// An IMAP conversation of the test's own, as a mail client or a migration tool has.
    fn client(&self) -> TestResult<ImapClient> {
        ImapClient::login(self.port)
    }
}

/// A minimal synchronous IMAP client: tagged commands, each read up to its tagged answer.
struct ImapClient {
    reader: std::io::BufReader<std::net::TcpStream>,
    tag: u32,
}

impl ImapClient {
    fn login(port: u16) -> TestResult<Self> {
        use std::io::BufRead;
        let stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut client = Self {
            reader: std::io::BufReader::new(stream),
            tag: 0,
        };
        let mut greeting = String::new();
        client.reader.read_line(&mut greeting)?;
        client.command("LOGIN desk secret")?;
        Ok(client)
    }

    fn write(&mut self, bytes: &[u8]) -> TestResult {
        use std::io::Write;
        self.reader.get_mut().write_all(bytes)?;
        Ok(())
    }

    /// Reads up to the answer tagged `tag`; answers every line, or the failure.
    fn answer(&mut self, tag: &str) -> TestResult<String> {
        use std::io::BufRead;
        let mut all = String::new();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(format!("the IMAP server closed the connection: {all}").into());
            }
            all.push_str(&line);
            if let Some(status) = line.strip_prefix(&format!("{tag} ")) {
                return if status.starts_with("OK") {
                    Ok(all)
                } else {
                    Err(format!("IMAP: {all}").into())
                };
            }
        }
    }

    fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("t{}", self.tag)
    }

    fn command(&mut self, command: &str) -> TestResult<String> {
        let tag = self.next_tag();
        self.write(format!("{tag} {command}\r\n").as_bytes())?;
        self.answer(&tag)
    }

    /// Appends a mail to `folder` (no flags: unseen), with a synchronising literal.
    fn append(&mut self, folder: &str, raw: &str) -> TestResult {
        use std::io::BufRead;
        let tag = self.next_tag();
        self.write(format!("{tag} APPEND {folder} {{{}}}\r\n", raw.len()).as_bytes())?;
        let mut go_ahead = String::new();
        self.reader.read_line(&mut go_ahead)?;
        if !go_ahead.starts_with('+') {
            return Err(format!("APPEND refused: {go_ahead}").into());
        }
        self.write(raw.as_bytes())?;
        self.write(b"\r\n")?;
        self.answer(&tag)?;
        Ok(())
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

/// Lets dovecot's unprivileged processes reach the temporary directory and the Maildirs.
fn open_up(root: &Path, boxes: &[PathBuf]) -> TestResult {
    use std::os::unix::fs::PermissionsExt;
    let mut dirs = vec![root.to_path_buf(), root.join("mail")];
    for mailbox in boxes {
        dirs.push(mailbox.clone());
        dirs.extend(["new", "cur", "tmp"].iter().map(|s| mailbox.join(s)));
    }
    for entry in dirs {
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

/// Logging that shows the reader's steps (a server process logs warnings only otherwise).
const READER_LOG: (&str, &str) = ("RUST_LOG", "warn,supportdesk::services::inbound=info");

/// Every mailbox of the setting is read, and each files new tickets under its own category; the
/// same message in two mailboxes becomes one ticket.
async fn several_mailboxes_each_file_into_their_own_category(backend: Backend) -> TestResult {
    let dovecot = Dovecot::start_with(&Setup {
        folders: &["Billing"],
        ..Setup::default()
    })?;
    // Separated by a comma and spaces, as the README allows.
    let urls = format!("{} , {}", dovecot.url(1), dovecot.folder_url("Billing", 2));
    let app = TestApp::spawn_with(
        backend,
        &[
            ("SUPPORTDESK_IMAP_URL", urls.as_str()),
            ("SUPPORTDESK_IMAP_POLL_SECS", "1"),
        ],
    )
    .await?;
    assert_eq!(app.category("General")?, 1);
    assert_eq!(app.category("Billing")?, 2);
    dovecot.deliver_to(
        "INBOX",
        &mail("ann@example.com", "a@ann", "Login", "Help", ""),
    )?;
    dovecot.deliver_to(
        "Billing",
        &mail("ben@example.com", "b@ben", "Invoice", "Wrong amount", ""),
    )?;
    let both = mail("cid@example.com", "c@cid", "Copied", "To both", "");
    dovecot.deliver_to("INBOX", &both)?;
    dovecot.deliver_to("Billing", &both)?;

    wait_for_tickets(&app, 3).await?;
    let kept = settled(&app, 4).await?;
    assert!(
        until(Duration::from_secs(10), || Ok(dovecot.seen_in("INBOX")?
            == 2
            && dovecot.seen_in("Billing")? == 2))
        .await?
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let all = tickets(&app)?;
    let filed: Vec<(&str, i64)> = all.iter().map(|t| (t.2.as_str(), t.4)).collect();
    assert!(filed.contains(&("Login", 1)), "{all:?}");
    assert!(filed.contains(&("Invoice", 2)), "{all:?}");
    assert_eq!(all.iter().filter(|t| t.2 == "Copied").count(), 1, "{all:?}");
    assert_eq!(all.len(), 3, "{all:?}");

    // Each copy was kept under its own mailbox; the later one was recognised as done.
    assert_eq!(kept.len(), 4, "{kept:#?}");
    let in_box = |suffix: &str| kept.iter().filter(|m| m.mailbox.ends_with(suffix)).count();
    assert_eq!((in_box("/INBOX"), in_box("/Billing")), (2, 2), "{kept:#?}");
    let copies: Vec<(&str, Option<&str>)> = kept
        .iter()
        .filter(|m| m.message_id == "c@cid")
        .map(|m| (m.state.as_str(), m.reason.as_deref()))
        .collect();
    assert_eq!(copies.len(), 2, "{kept:#?}");
    assert!(copies.contains(&("processed", None)), "{copies:?}");
    assert!(
        copies.contains(&("ignored", Some("duplicate: already processed"))),
        "{copies:?}"
    );
    // And each mailbox has its own position.
    let keys: Vec<String> = kept.iter().map(|m| m.mailbox.clone()).collect();
    let positions = app.with_db(|db| async move {
        let mut out = Vec::new();
        let mut keys = keys;
        keys.sort();
        keys.dedup();
        for key in keys {
            out.push(inbound::mailbox_position(&db, &key).await?.map(|p| p.1));
        }
        Ok(out)
    })?;
    assert_eq!(positions, vec![Some(2), Some(2)]);
    Ok(())
}

/// A desk as a process on `dovecot`'s INBOX with the reader's log, polling every `poll` s.
async fn logging_reader(backend: Backend, dovecot: &Dovecot, poll: &str) -> TestResult<TestApp> {
    let settings = imap_settings(dovecot, poll);
    let mut settings = as_refs(&settings);
    settings.push(READER_LOG);
    TestApp::spawn_process_with(backend, &settings).await
}

/// Waits up to `limit` for `n` tickets; an error says how many came.
async fn tickets_within(app: &TestApp, n: usize, limit: Duration) -> TestResult {
    let ok = until(limit, || Ok(tickets(app)?.len() >= n)).await?;
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{} of {n} tickets within {limit:?}\n{}",
            tickets(app)?.len(),
            app.log()
        )
        .into())
    }
}

/// With IDLE, mail that arrives while the reader waits shows within seconds although the poll
/// is a minute (and a dropped session is retried only after 30 s): only IDLE can bring it.
async fn mail_arriving_later_is_read_through_idle(backend: Backend) -> TestResult {
    let dovecot = Dovecot::start()?;
    let app = logging_reader(backend, &dovecot, "60").await?;
    app.category("Email")?;
    let waiting = until(Duration::from_secs(20), || {
        Ok(app.log().contains("mailbox open; waiting with IDLE"))
    })
    .await?;
    assert!(waiting, "{}", app.log());
    for n in 1..=2 {
        dovecot.deliver(&mail(
            &format!("i{n}@example.com"),
            &format!("i{n}@idle"),
            &format!("Idle {n}"),
            "Body",
            "",
        ))?;
        tickets_within(&app, n, Duration::from_secs(15)).await?;
    }
    assert!(!app.log().contains("polling"), "{}", app.log());
    Ok(())
}

/// A server without IDLE is polled: mail arriving later still comes, round after round.
async fn mail_arriving_later_is_read_by_polling_without_idle(backend: Backend) -> TestResult {
    let dovecot = Dovecot::start_with(&Setup {
        no_idle: true,
        ..Setup::default()
    })?;
    let app = logging_reader(backend, &dovecot, "1").await?;
    app.category("Email")?;
    let polling = until(Duration::from_secs(20), || {
        Ok(app.log().contains("the server offers no IDLE, polling"))
    })
    .await?;
    assert!(polling, "{}", app.log());
    for n in 1..=3 {
        dovecot.deliver(&mail(
            &format!("p{n}@example.com"),
            &format!("p{n}@poll"),
            &format!("Poll {n}"),
            "Body",
            "",
        ))?;
        tickets_within(&app, n, Duration::from_secs(15)).await?;
    }
    assert!(
        until(Duration::from_secs(10), || Ok(dovecot.seen()? == 3)).await?,
        "seen: {}",
        dovecot.seen()?
    );
    assert!(!app.log().contains("waiting with IDLE"), "{}", app.log());
    assert_eq!(tickets(&app)?.len(), 3);
    Ok(())
}

/// The mailbox is replaced by one of the same name (a new UIDVALIDITY, its UIDs from 1 again):
/// copies of mail already read are recognised, and new mail whose UIDs are below the old
/// position is still read. All the new mailbox's messages appear at once (filled under another
/// name, then renamed), so the outcome does not hang on when the reader looks.
async fn a_recreated_mailbox_loses_nothing_and_duplicates_nothing(backend: Backend) -> TestResult {
    let dovecot = Dovecot::start_with(&Setup {
        folders: &["Support"],
        ..Setup::default()
    })?;
    let url = dovecot.folder_url("Support", 1);
    let app = TestApp::spawn_with(
        backend,
        &[
            ("SUPPORTDESK_IMAP_URL", url.as_str()),
            ("SUPPORTDESK_IMAP_POLL_SECS", "1"),
        ],
    )
    .await?;
    app.category("Email")?;
    let one = mail("ann@example.com", "1@ann", "One", "First", "");
    let two = mail("ben@example.com", "2@ben", "Two", "Second", "");
    let three = mail("cid@example.com", "3@cid", "Three", "Third", "");
    let four = mail("dan@example.com", "4@dan", "Four", "Fourth", "");
    dovecot.deliver_to("Support", &one)?;
    dovecot.deliver_to("Support", &two)?;
    wait_for_tickets(&app, 2).await?;
    assert!(
        until(Duration::from_secs(10), || Ok(dovecot
            .seen_in("Support")?
            == 2))
        .await?
    );
    let key = kept_key_of(&app)?;
    let position = |app: &TestApp| -> TestResult<Option<(i64, i64)>> {
        let key = key.clone();
        app.with_db(|db| async move { Ok(inbound::mailbox_position(&db, &key).await?) })
    };
    let (old_validity, old_last) = position(&app)?.ok_or("no position")?;
    assert_eq!(old_last, 2);

    let mut imap = dovecot.client()?;
    imap.command("CREATE Staging")?;
    // UIDs 1 to 4: copies of the two read ones (unseen, as a restored backup has them) and
    // two new ones; "three" has UID 2, below the old position.
    for raw in [&one, &three, &two, &four] {
        imap.append("Staging", raw)?;
    }
    imap.command("DELETE Support")?;
    imap.command("RENAME Staging Support")?;

    wait_for_tickets(&app, 4).await?;
    assert!(
        until(Duration::from_secs(15), || Ok(dovecot
            .seen_in("Support")?
            == 4))
        .await?,
        "seen: {}",
        dovecot.seen_in("Support")?
    );
    let (validity, last) = position(&app)?.ok_or("no position")?;
    assert_ne!(validity, old_validity, "dovecot kept the UIDVALIDITY");
    assert_eq!(last, 4);
    // Later mail in the new mailbox follows its new numbering.
    dovecot.deliver_to(
        "Support",
        &mail("eve@example.com", "5@eve", "Five", "Fifth", ""),
    )?;
    wait_for_tickets(&app, 5).await?;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let all = tickets(&app)?;
    let mut subjects: Vec<&str> = all.iter().map(|t| t.2.as_str()).collect();
    subjects.sort_unstable();
    assert_eq!(
        subjects,
        vec!["Five", "Four", "One", "Three", "Two"],
        "{all:?}"
    );
    // Each message kept once: the copies were recognised when kept.
    let kept = settled(&app, 5).await?;
    assert_eq!(kept.len(), 5, "{kept:#?}");
    assert!(kept.iter().all(|m| m.state == "processed"), "{kept:#?}");
    assert_eq!(position(&app)?.map(|p| p.1), Some(5));
    Ok(())
}

/// The mailbox key the reader used, as kept with the mail.
fn kept_key_of(app: &TestApp) -> TestResult<String> {
    app.with_db(|db| async move { kept_key(&db).await })
}

on_both_backends!(
    imap_mail_becomes_tickets_once_and_is_marked_seen,
    a_reader_killed_between_fetching_and_keeping_leaves_exactly_one_ticket,
    several_mailboxes_each_file_into_their_own_category,
    mail_arriving_later_is_read_through_idle,
    mail_arriving_later_is_read_by_polling_without_idle,
    a_recreated_mailbox_loses_nothing_and_duplicates_nothing,
);

/// How many hold the reader's advisory lock on `dovecot`'s INBOX (its key as the desk derives it;
/// a bigint key shows in `pg_locks` as its high half in `classid`, its low half in `objid`).
fn reader_locks(app: &TestApp, dovecot: &Dovecot) -> TestResult<i64> {
    use sha2::Digest;
    let mailbox = format!("imap://desk@127.0.0.1:{}/INBOX", dovecot.port);
    let digest = sha2::Sha256::digest(format!("supportdesk inbound {mailbox}"));
    let mut key = [0u8; 8];
    key.copy_from_slice(&digest[..8]);
    let key = u64::from_be_bytes(key);
    let (high, low) = (i64::try_from(key >> 32)?, i64::try_from(key & 0xffff_ffff)?);
    app.with_db(move |db| async move {
        let row = sqlx::query(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM pg_locks l
             JOIN pg_database d ON d.oid = l.database
             WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()
               AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.objsubid = 1",
        )
        .bind(high)
        .bind(low)
        .fetch_one(db.pool())
        .await?;
        Ok(sqlx::Row::try_get(&row, "n")?)
    })
}

/// Whether a process's log shows it read the mailbox (it opens the mailbox only once it holds
/// the lock, and keeps mail only while it does).
fn has_read(app: &TestApp) -> bool {
    let log = app.log();
    log.contains("mailbox open;") || log.contains("mail kept")
}

/// Two processes on PostgreSQL read the same mailbox: the advisory lock lets one read it, each
/// mail becomes exactly one ticket, and when the reader dies the other takes over.
#[tokio::test]
async fn two_processes_on_postgres_read_a_mailbox_without_duplicates() -> TestResult {
    if !crate::helpers::postgres_ready().await? {
        return Ok(());
    }
    let dovecot = Dovecot::start()?;
    let settings = imap_settings(&dovecot, "1");
    let mut settings = as_refs(&settings);
    settings.push(READER_LOG);
    let mut first = TestApp::spawn_process_with(Backend::Postgres, &settings).await?;
    let mut second = first.sibling()?;
    first.category("Email")?;
    let mut most_locks = 0;
    for n in 0..6 {
        dovecot.deliver(&mail(
            &format!("p{n}@example.com"),
            &format!("m{n}@pg"),
            &format!("Mail {n}"),
            "Body",
            "",
        ))?;
        most_locks = most_locks.max(reader_locks(&first, &dovecot)?);
    }
    let all = wait_for_tickets(&first, 6).await?;
    assert_eq!(all.len(), 6);
    assert!(until(Duration::from_secs(10), || Ok(dovecot.seen()? == 6)).await?);
    // Both processes have tried the lock several times by now (every 2 s).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    most_locks = most_locks.max(reader_locks(&first, &dovecot)?);
    assert_eq!(
        most_locks, 1,
        "the mailbox lock was held {most_locks} times at once"
    );
    assert_eq!(reader_locks(&first, &dovecot)?, 1);
    let all = tickets(&first)?;
    for n in 0..6 {
        let subject = format!("Mail {n}");
        let count = all.iter().filter(|t| t.2 == subject).count();
        assert_eq!(count, 1, "{subject}: {all:?}");
    }
    assert_eq!(all.len(), 6);
    let kept = settled(&first, 6).await?;
    assert_eq!(kept.len(), 6, "{kept:#?}");
    // Exactly one of the two read the mailbox.
    let readers = (has_read(&first), has_read(&second));
    assert!(
        readers == (true, false) || readers == (false, true),
        "{readers:?}\n--- first ---\n{}\n--- second ---\n{}",
        first.log(),
        second.log()
    );

    // The reader dies (its lock goes with its connection): the other takes over.
    let survivor = if readers.0 {
        first.kill()?;
        &second
    } else {
        second.kill()?;
        &first
    };
    dovecot.deliver(&mail("late@example.com", "late@pg", "Late", "Body", ""))?;
    let all = wait_for_tickets(survivor, 7).await?;
    assert_eq!(all.len(), 7, "{}", survivor.log());
    assert!(survivor.log().contains("mail kept"), "{}", survivor.log());
    assert_eq!(reader_locks(survivor, &dovecot)?, 1);
    assert_eq!(all.iter().filter(|t| t.2 == "Late").count(), 1);
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
