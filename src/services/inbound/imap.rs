//! IMAP mailboxes (`SUPPORTDESK_IMAP_URL`): one poller task per mailbox and process. It keeps
//! each new message (by UID, under the mailbox's UIDVALIDITY) before it marks it seen, with
//! `BODY.PEEK[]` so that fetching alone changes nothing on the server. It waits with IDLE where
//! the server offers it and polls otherwise. On PostgreSQL an advisory lock lets one process at
//! a time read a mailbox; anywhere, a message kept twice is the same message (mailbox,
//! Message-ID). The password is never logged: only the mailbox key (`imap://user@host/NAME`).

use std::sync::Arc;
use std::time::Duration;

use async_imap::Session;
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::{Inbound, intake};
use crate::store::{Backend, Db, inbound as kept};

/// One configured mailbox.
#[derive(Clone)]
pub struct MailboxUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub user: String,
    password: String,
    pub mailbox: String,
    pub category_id: Option<i64>,
}

impl std::fmt::Debug for MailboxUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.key())
    }
}

impl MailboxUrl {
    /// Parses the setting: URLs separated by spaces or commas (a comma inside a password is
    /// percent-encoded, `%2C`). Errors never show a password.
    pub fn parse_list(text: &str) -> anyhow::Result<Vec<Self>> {
        text.split([' ', ',', '\n', '\t'])
            .filter(|s| !s.trim().is_empty())
            .map(Self::parse)
            .collect()
    }

    fn parse(text: &str) -> anyhow::Result<Self> {
        let url = url::Url::parse(text.trim())
            .map_err(|e| anyhow::anyhow!("SUPPORTDESK_IMAP_URL: not a URL: {e}"))?;
        let tls = match url.scheme() {
            "imaps" => true,
            "imap" => false,
            other => anyhow::bail!(
                "SUPPORTDESK_IMAP_URL must start with imaps:// or imap://, not {other}://"
            ),
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| anyhow::anyhow!("SUPPORTDESK_IMAP_URL names no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| anyhow::anyhow!("SUPPORTDESK_IMAP_URL: the login is not UTF-8"))
        };
        let user = decode(url.username())?;
        anyhow::ensure!(
            !user.is_empty(),
            "SUPPORTDESK_IMAP_URL names no user ({host})"
        );
        let password = decode(url.password().unwrap_or(""))?;
        let mailbox = decode(url.path().trim_start_matches('/'))?;
        let mailbox = if mailbox.is_empty() {
            "INBOX".to_owned()
        } else {
            mailbox
        };
        anyhow::ensure!(
            !mailbox.contains(['"', '\\', '\r', '\n']),
            "SUPPORTDESK_IMAP_URL: the mailbox name may not hold quotes, backslashes or line breaks"
        );
        let category_id = match url.query_pairs().find(|(k, _)| k == "category") {
            Some((_, v)) => Some(v.parse::<i64>().map_err(|_| {
                anyhow::anyhow!("SUPPORTDESK_IMAP_URL: category={v} is not a category id")
            })?),
            None => None,
        };
        Ok(Self {
            tls,
            port: url.port().unwrap_or(if tls { 993 } else { 143 }),
            host,
            user,
            password,
            mailbox,
            category_id,
        })
    }

    /// The mailbox as messages are kept under it: no password.
    pub fn key(&self) -> String {
        format!(
            "imap://{}@{}:{}/{}",
            self.user, self.host, self.port, self.mailbox
        )
    }
}

/// The stream a session runs over: plain TCP (tests) or TLS.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> Stream for T {}

type ImapSession = Session<Box<dyn Stream>>;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// Starts one poller per configured mailbox in `tasks`.
pub fn spawn_all(
    db: &Db,
    inbound: &Arc<Inbound>,
    hold_after_fetch: Duration,
    tasks: &mut tokio::task::JoinSet<()>,
) {
    for mailbox in &inbound.mailboxes {
        let poller = Poller {
            db: db.clone(),
            inbound: Arc::clone(inbound),
            mailbox: mailbox.clone(),
            hold_after_fetch,
        };
        tracing::info!(mailbox = %mailbox.key(), "reading IMAP mailbox");
        tasks.spawn(poller.run());
    }
}

struct Poller {
    db: Db,
    inbound: Arc<Inbound>,
    mailbox: MailboxUrl,
    /// Test only: a pause between fetching a message and keeping it, so that a test can kill
    /// the process there.
    hold_after_fetch: Duration,
}

impl Poller {
    async fn run(self) {
        let key = self.mailbox.key();
        loop {
            match self.session().await {
                Ok(()) => {}
                Err(err) => tracing::warn!(mailbox = %key, error = %err, "IMAP session ended"),
            }
            tokio::time::sleep(self.inbound.poll.min(Duration::from_secs(30))).await;
        }
    }

    /// One connection: holds the mailbox's lock (PostgreSQL), logs in, and reads new messages
    /// until the connection fails.
    async fn session(&self) -> anyhow::Result<()> {
        let _lock = match self.lock().await? {
            Some(lock) => lock,
            None => {
                // Another process reads this mailbox; look again later.
                tokio::time::sleep(self.inbound.poll).await;
                return Ok(());
            }
        };
        let mut session = self.login().await?;
        let idle = timed(session.capabilities()).await?.has_str("IDLE");
        // Whether new mail shows within a second or only at the next poll depends on the
        // server; the log says which, once per connection.
        if idle {
            tracing::info!(mailbox = %self.mailbox.key(), "mailbox open; waiting with IDLE");
        } else {
            tracing::info!(mailbox = %self.mailbox.key(), poll_secs = self.inbound.poll.as_secs(),
                           "mailbox open; the server offers no IDLE, polling");
        }
        loop {
            self.read_new(&mut session).await?;
            if idle {
                let mut handle = session.idle();
                timed(handle.init()).await?;
                let (wait, _stop) = handle.wait_with_timeout(self.inbound.poll);
                wait.await?;
                session = timed(handle.done()).await?;
            } else {
                tokio::time::sleep(self.inbound.poll).await;
            }
        }
    }

    /// On PostgreSQL, a session-level advisory lock on a connection of its own, held while the
    /// connection lives (the connection is closed, not pooled, when dropped, which releases
    /// it; so does a killed process). `None`: another process holds it. SQLite: no lock.
    async fn lock(&self) -> anyhow::Result<Option<Option<sqlx::AnyConnection>>> {
        if self.db.backend() != Backend::Postgres {
            return Ok(Some(None));
        }
        let digest = Sha256::digest(format!("supportdesk inbound {}", self.mailbox.key()));
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        let id = i64::from_be_bytes(id);
        let mut conn = self.db.pool().acquire().await?.detach();
        let row =
            sqlx::query("SELECT CASE WHEN pg_try_advisory_lock($1) THEN 1 ELSE 0 END AS locked")
                .bind(id)
                .fetch_one(&mut conn)
                .await?;
        let locked: i32 = sqlx::Row::try_get(&row, "locked")?;
        Ok((locked == 1).then_some(Some(conn)))
    }

    async fn login(&self) -> anyhow::Result<ImapSession> {
        let m = &self.mailbox;
        let tcp = tokio::time::timeout(
            CONNECT_TIMEOUT,
            TcpStream::connect((m.host.as_str(), m.port)),
        )
        .await
        .map_err(|_| anyhow::anyhow!("connecting to {}:{} timed out", m.host, m.port))??;
        let stream: Box<dyn Stream> = if m.tls {
            use rustls_platform_verifier::BuilderVerifierExt;
            use tokio_rustls::rustls;
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()?
                .with_platform_verifier()?
                .with_no_client_auth();
            let name = rustls::pki_types::ServerName::try_from(m.host.clone())?;
            let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await?;
            Box::new(tls)
        } else {
            Box::new(tcp)
        };
        let mut client = async_imap::Client::new(stream);
        timed(async { client.read_response().await.map_err(Into::into) })
            .await?
            .ok_or_else(|| anyhow::anyhow!("the IMAP server closed the connection"))?;
        // The error of a refused login names no password.
        let session = tokio::time::timeout(COMMAND_TIMEOUT, client.login(&m.user, &m.password))
            .await
            .map_err(|_| anyhow::anyhow!("IMAP login timed out"))?
            .map_err(|(e, _)| anyhow::anyhow!("IMAP login as {} refused: {e}", m.user))?;
        Ok(session)
    }

    /// Keeps every message not kept yet, in UID order; after each, records how far the mailbox
    /// was read and marks the message seen (in that order: a crash in between fetches it again,
    /// and the copy is recognised).
    async fn read_new(&self, session: &mut ImapSession) -> anyhow::Result<()> {
        let key = self.mailbox.key();
        let selected = timed(session.select(&self.mailbox.mailbox)).await?;
        let validity = i64::from(selected.uid_validity.unwrap_or(0));
        let position = kept::mailbox_position(&self.db, &key).await?;
        // A mailbox read for the first time, or whose UIDVALIDITY changed (its UIDs mean other
        // messages now): the unseen messages, not years of read mail.
        let query = match position {
            Some((v, last)) if v == validity => format!("UID {}:*", last + 1),
            _ => "UNSEEN".to_owned(),
        };
        let after = match position {
            Some((v, last)) if v == validity => last,
            _ => 0,
        };
        let mut uids: Vec<u32> = timed(session.uid_search(&query))
            .await?
            .into_iter()
            .filter(|uid| i64::from(*uid) > after)
            .collect();
        uids.sort_unstable();
        for uid in uids {
            let fetched: Vec<async_imap::types::Fetch> = timed(async {
                session
                    .uid_fetch(uid.to_string(), "(UID BODY.PEEK[])")
                    .await?
                    .try_collect()
                    .await
            })
            .await?;
            let Some(raw) = fetched.iter().find_map(|f| f.body()) else {
                // Skipping it would move the position past it for good. Stop the round: the
                // next one searches again, and a mail deleted meanwhile is simply not found.
                anyhow::bail!("UID {uid} was listed but fetched no body; trying again later");
            };
            if !self.hold_after_fetch.is_zero() {
                tracing::warn!(mailbox = %key, uid, "fetched; holding before keeping it (test)");
                tokio::time::sleep(self.hold_after_fetch).await;
            }
            intake(&self.db, &self.inbound, &key, raw, self.mailbox.category_id).await?;
            kept::set_mailbox_position(&self.db, &key, validity, i64::from(uid)).await?;
            let _: Vec<async_imap::types::Fetch> = timed(async {
                session
                    .uid_store(uid.to_string(), "+FLAGS (\\Seen)")
                    .await?
                    .try_collect()
                    .await
            })
            .await?;
        }
        Ok(())
    }
}

/// One IMAP step, bounded: a server that stops answering ends the session (then reconnects).
async fn timed<T>(step: impl Future<Output = async_imap::error::Result<T>>) -> anyhow::Result<T> {
    tokio::time::timeout(COMMAND_TIMEOUT, step)
        .await
        .map_err(|_| anyhow::anyhow!("IMAP server did not answer in time"))?
        .map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_urls_parse_and_never_show_the_password() -> anyhow::Result<()> {
        let list = MailboxUrl::parse_list(
            "imaps://desk%40x.com:p%2Cw@mail.x.com/INBOX?category=3, imap://u:pw@127.0.0.1:1143/Support",
        )?;
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].user, "desk@x.com");
        assert_eq!(list[0].password, "p,w");
        assert_eq!(list[0].port, 993);
        assert_eq!(list[0].category_id, Some(3));
        assert_eq!(list[1].mailbox, "Support");
        assert!(!format!("{list:?}").contains("pw"));
        assert!(MailboxUrl::parse_list("http://x/INBOX").is_err());
        Ok(())
    }
}
