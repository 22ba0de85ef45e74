//! Email in: mail arrives through the raw endpoint (`http::routes::inbound`) or an IMAP
//! mailbox (`imap`), is kept raw before anything else (`intake`), and is then turned into a
//! ticket or a comment by the worker (`process`, `worker`), exactly once per Message-ID.

pub mod imap;
pub mod process;
pub mod worker;

use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use crate::config::InboundConfig;
use crate::store::Db;
use crate::store::inbound::{self, NewInbound, Stored};

/// The mailbox name of mail posted to the raw endpoint.
pub const RAW_MAILBOX: &str = "raw";
/// How much of an oversize mail is kept (for the quarantine's reader).
const OVERSIZE_KEPT: usize = 64 * 1024;

/// Email in, configured.
pub struct Inbound {
    /// The raw endpoint's bearer token; `None`: the endpoint is off.
    pub token: Option<String>,
    /// The support address and the key reply tokens are signed with.
    pub reply: Option<ReplyAddress>,
    pub default_category: Option<i64>,
    pub max_bytes: usize,
    pub replies_per_hour: i64,
    pub mailboxes: Vec<imap::MailboxUrl>,
    pub poll: std::time::Duration,
    /// Rung when a mail was kept, so the worker processes it at once.
    pub wake: Notify,
}

/// `support@example.com` and the HMAC key of its `+token` details.
#[derive(Clone)]
pub struct ReplyAddress {
    pub address: String,
    pub secret: Vec<u8>,
}

impl ReplyAddress {
    /// The address a reply about `ticket_id` should go to.
    pub fn for_ticket(&self, ticket_id: i64) -> Option<String> {
        let token = crate::domain::inbound::reply_token(&self.secret, ticket_id);
        crate::domain::inbound::reply_address(&self.address, &token)
    }
}

impl Inbound {
    /// The settings, checked: a setting that cannot work stops the start.
    pub fn from_config(config: &InboundConfig) -> anyhow::Result<Arc<Self>> {
        let token = config
            .inbound_token
            .as_ref()
            .map(|t| t.0.trim().to_owned())
            .filter(|t| !t.is_empty());
        if let Some(token) = &token {
            anyhow::ensure!(
                token.len() >= 16,
                "SUPPORTDESK_INBOUND_TOKEN must be at least 16 characters"
            );
        }
        let reply = match config.inbound_address.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(address) => {
                anyhow::ensure!(
                    crate::domain::people::is_plausible_email(address) && !address.contains('+'),
                    "SUPPORTDESK_INBOUND_ADDRESS {address:?} is not an address without +detail"
                );
                let secret = config
                    .inbound_secret
                    .as_ref()
                    .map(|s| s.0.clone())
                    .unwrap_or_default();
                anyhow::ensure!(
                    secret.len() >= 16,
                    "SUPPORTDESK_INBOUND_SECRET (at least 16 characters) is required with SUPPORTDESK_INBOUND_ADDRESS"
                );
                Some(ReplyAddress {
                    address: address.to_owned(),
                    secret: secret.into_bytes(),
                })
            }
        };
        let mailboxes = match &config.imap_url {
            Some(urls) => imap::MailboxUrl::parse_list(&urls.0)?,
            None => Vec::new(),
        };
        Ok(Arc::new(Self {
            token,
            reply,
            default_category: config.inbound_category,
            max_bytes: usize::try_from(config.inbound_max_bytes).unwrap_or(usize::MAX),
            replies_per_hour: i64::from(config.inbound_replies_per_hour),
            mailboxes,
            poll: std::time::Duration::from_secs(config.imap_poll_secs.max(1)),
            wake: Notify::new(),
        }))
    }
}

/// The Message-ID a mail is kept under: its own (without angle brackets), or for a mail without
/// one (or one that cannot be read) a digest of its bytes, so the same bytes are the same mail.
pub fn message_key(raw: &[u8]) -> String {
    let headers_end = find_headers_end(raw);
    let parsed = mail_parser::MessageParser::new().parse_headers(&raw[..headers_end]);
    if let Some(id) = parsed.as_ref().and_then(|m| m.message_id()) {
        let id = id.trim().trim_start_matches('<').trim_end_matches('>');
        if !id.is_empty() && id.len() <= 998 && !id.chars().any(char::is_control) {
            return id.to_owned();
        }
    }
    format!("sha256:{}", hex::encode(Sha256::digest(raw)))
}

/// Where the header block ends (the blank line), or the whole length.
fn find_headers_end(raw: &[u8]) -> usize {
    let crlf = raw.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
    let lf = raw.windows(2).position(|w| w == b"\n\n").map(|p| p + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) => a,
        (None, Some(b)) => b,
        (None, None) => raw.len(),
    }
}

/// Keeps a mail (before anything acknowledges it) and wakes the worker. A mail over the size
/// limit is kept quarantined, its first 64 KiB only.
pub async fn intake(
    db: &Db,
    inbound: &Inbound,
    mailbox: &str,
    raw: &[u8],
    category_id: Option<i64>,
) -> crate::store::StoreResult<Stored> {
    let oversize = raw.len() > inbound.max_bytes;
    let key = message_key(raw);
    // The endpoint stops reading past the limit: the size is "more than", not exact.
    let reason = format!(
        "over the size limit: more than {} bytes (SUPPORTDESK_INBOUND_MAX_BYTES)",
        inbound.max_bytes
    );
    let kept = if oversize {
        &raw[..raw.len().min(OVERSIZE_KEPT)]
    } else {
        raw
    };
    let stored = inbound::store(
        db,
        &NewInbound {
            mailbox,
            message_id: &key,
            raw: kept,
            size: raw.len(),
            category_id,
            quarantine: oversize.then_some(reason.as_str()),
        },
    )
    .await?;
    match stored {
        Stored::New(id) => {
            tracing::info!(inbound = id, mailbox, oversize, "mail kept");
            inbound.wake.notify_one();
        }
        Stored::Duplicate => tracing::info!(mailbox, "mail already kept; nothing new"),
    }
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mail_is_kept_under_its_message_id_or_its_digest() {
        let raw = b"From: a@b.c\r\nMessage-ID: <x1@y>\r\nSubject: s\r\n\r\nbody";
        assert_eq!(message_key(raw), "x1@y");
        let raw = b"From: a@b.c\r\nSubject: s\r\n\r\nbody";
        assert!(message_key(raw).starts_with("sha256:"));
        assert_eq!(message_key(raw), message_key(raw));
        assert!(message_key(b"\xff\xfe garbage").starts_with("sha256:"));
    }
}
