//! SMTP: the transport from `SUPPORTDESK_SMTP_URL`, and one queued mail as a message.
//!
//! `smtp://host[:port]` (587 by default) upgrades to TLS with STARTTLS when the server offers
//! it (`?tls=required` refuses a server that does not); `smtps://host[:port]` (465) speaks TLS
//! from the start. Certificates are checked by the platform's verifier, which also trusts the
//! authorities of `SUPPORTDESK_SMTP_CA_FILE` when it is set. `user:password@`
//! (percent-encoded) logs in; the password is never logged nor shown (`config::SmtpUrl`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, Message, Tokio1Executor};

use crate::store::mail::Claimed;

/// Connections kept open to the relay, one per mail in flight (`worker::CONCURRENCY`): a
/// relay such as Postfix serves up to 100 at once by default, so 16 asks little of it.
pub const CONNECTIONS: u32 = 16;

/// How long one step of an SMTP conversation may take before the attempt counts as a failure
/// (and is retried); well inside the worker's lease even for a batch sent in waves.
const TIMEOUT: Duration = Duration::from_secs(20);

pub fn connect(
    url: &str,
    ca_file: Option<&std::path::Path>,
) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    // Read once, at start: a missing or empty file stops the start, not the first mail.
    let extra_roots = match ca_file {
        None => None,
        Some(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| anyhow::anyhow!("SUPPORTDESK_SMTP_CA_FILE {}: {e}", path.display()))?;
            let found = pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----");
            let certificate = Certificate::from_pem(&pem)
                .ok()
                .filter(|_| found)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "SUPPORTDESK_SMTP_CA_FILE {}: no PEM certificate in it",
                        path.display()
                    )
                })?;
            Some(certificate)
        }
    };
    // The URL's text is never put in an error: it may carry the password.
    let parsed = url::Url::parse(url)
        .map_err(|e| anyhow::anyhow!("SUPPORTDESK_SMTP_URL is not a URL: {e}"))?;
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| anyhow::anyhow!("SUPPORTDESK_SMTP_URL names no host"))?;
    // `[::1]` is a host name to TLS and to the connection without its brackets.
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let tls_param = parsed
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    let tls = |host: &str| {
        let mut builder = TlsParameters::builder(host.to_owned());
        if let Some(certificate) = &extra_roots {
            builder = builder.add_root_certificate(certificate.clone());
        }
        builder
            .build()
            .map_err(|e| anyhow::anyhow!("SUPPORTDESK_SMTP_URL: cannot set up TLS: {e}"))
    };
    let login = !parsed.username().is_empty() || parsed.password().is_some();
    let (port, tls) = match (parsed.scheme(), tls_param.as_deref()) {
        // A login is never sent in clear: with one, STARTTLS is required, and a server that
        // does not offer it fails the attempt (with a reason saying so) instead.
        ("smtp", None | Some("opportunistic")) if login => (587, Tls::Required(tls(&host)?)),
        ("smtp", None | Some("opportunistic")) => (587, Tls::Opportunistic(tls(&host)?)),
        ("smtp", Some("required")) => (587, Tls::Required(tls(&host)?)),
        ("smtp", Some("none")) if login => anyhow::bail!(
            "SUPPORTDESK_SMTP_URL: tls=none with a login would send the password in clear; \
             use STARTTLS (leave tls= out) or smtps://"
        ),
        // A relay on the same machine or network that speaks no TLS at all.
        ("smtp", Some("none")) => (587, Tls::None),
        ("smtps", None) => (465, Tls::Wrapper(tls(&host)?)),
        ("smtp" | "smtps", Some(other)) => anyhow::bail!(
            "SUPPORTDESK_SMTP_URL: tls={other} is not known (opportunistic, required or none; \
             smtps:// takes none of them)"
        ),
        (scheme, _) => {
            anyhow::bail!(
                "SUPPORTDESK_SMTP_URL must start with smtp:// or smtps://, not {scheme}://"
            )
        }
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(parsed.port().unwrap_or(port))
        .tls(tls)
        .timeout(Some(TIMEOUT))
        .pool_config(PoolConfig::new().max_size(CONNECTIONS));
    if login {
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| anyhow::anyhow!("SUPPORTDESK_SMTP_URL: the login is not UTF-8"))
        };
        builder = builder.credentials(Credentials::new(
            decode(parsed.username())?,
            decode(parsed.password().unwrap_or(""))?,
        ));
    }
    Ok(builder.build())
}

/// Why a mail could not be built; it never will be (the address is not one SMTP takes).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unsendable(pub String);

/// The queued mail as a message: its stored Message-ID and thread headers, both parts, the
/// headers that keep auto-responders from answering it, and with an inbound address the
/// `Reply-To` whose signed token names the ticket (`services::inbound`).
pub fn message(
    from: &Mailbox,
    reply_to: Option<Mailbox>,
    mail: &Claimed,
) -> Result<Message, Unsendable> {
    let to: Mailbox = mail
        .recipient
        .parse()
        .map_err(|e| Unsendable(format!("invalid address: {e}")))?;
    let sent =
        UNIX_EPOCH + Duration::from_micros(u64::try_from(mail.created_at).unwrap_or_default());
    let auto_submitted = HeaderValue::new(
        HeaderName::new_from_ascii_str("Auto-Submitted"),
        "auto-generated".to_owned(),
    );
    let mut builder = Message::builder().from(from.clone()).to(to);
    if let Some(reply_to) = reply_to {
        builder = builder.reply_to(reply_to);
    }
    builder
        // Stored one-line already (`domain::mail::subject`); lettre encodes it again.
        .subject(crate::domain::mail::one_line(&mail.subject))
        .message_id(Some(mail.message_id.clone()))
        .in_reply_to(mail.in_reply_to.clone())
        .references(mail.references.clone())
        .date(if sent > UNIX_EPOCH {
            sent
        } else {
            SystemTime::now()
        })
        .raw_header(auto_submitted)
        .multipart(MultiPart::alternative_plain_html(
            mail.body_text.clone(),
            mail.body_html.clone(),
        ))
        .map_err(|e| Unsendable(format!("cannot build the message: {e}")))
}
