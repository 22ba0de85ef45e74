//! One kept mail turned into what it means: ignored (automatic, a duplicate), a comment on the
//! ticket it answers, or a new ticket for its sender; quarantined when it cannot be read. The
//! write that makes the ticket or comment also marks the mail processed (one transaction), so
//! a crash leaves it either untouched (done again) or done, never done twice.

use std::sync::Arc;

use mail_parser::{Message, MessageParser, MimeHeaders};
use tokio::io::AsyncWriteExt;

use super::Inbound;
use crate::domain::catalog::Catalog;
use crate::domain::fields::{
    ATTACHMENT_MAX_BYTES, ATTACHMENT_MAX_FILES, COMMENT_MAX_CHARS, SUBJECT_MAX_CHARS,
};
use crate::domain::inbound::{
    address_detail, automatic_reason, cut_quote, message_ids, subject_ticket, verify_token,
};
use crate::domain::people::{Person, is_plausible_email, normalize_email};
use crate::domain::ticket::Priority;
use crate::services::notify::mail::Mail;
use crate::store::files::{BlobStore, StagedFile, new_key};
use crate::store::inbound::{self as kept, Claimed, Finished, NewReply, Outcome};
use crate::store::tickets::{self, NewAttachment, NewTicket, Outcome as WriteOutcome, TicketRow};
use crate::store::{Db, StoreResult, Tx, catalog, staff};

/// What processing needs.
#[derive(Clone)]
pub struct Context {
    pub db: Db,
    pub blobs: Arc<dyn BlobStore>,
    pub staging_dir: std::path::PathBuf,
    pub open_ticket_limit: i64,
    pub inbound: Arc<Inbound>,
    /// The outbound mail settings: with them, refusals are answered by mail.
    pub mail: Option<Arc<Mail>>,
}

/// What became of a mail (for logs and tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Done {
    Ticket(i64),
    Comment(i64),
    Ignored(String),
    Quarantined(String),
    Refused(String),
    /// Another process holds it now.
    LeaseLost,
}

/// A mail read: who sent it, about what, and what it says.
struct Read {
    sender: String,
    subject: String,
    text: String,
    message_id: Option<String>,
    thread_ids: Vec<String>,
    recipients: Vec<String>,
    files: Vec<File>,
    refused_files: Vec<String>,
}

struct File {
    name: String,
    content_type: String,
    bytes: Vec<u8>,
}

/// Why a mail in a staff member's name is quarantined.
pub const STAFF_SENDER: &str = "sent in a staff member's name: staff answer in the console or the API (a mail's sender can be forged)";

/// Processes one claimed mail. An error leaves it pending (to be tried again after the lease).
pub async fn process(ctx: &Context, owner: &str, mail: &Claimed) -> anyhow::Result<Done> {
    let parser = MessageParser::new();
    let Some(message) = parser.parse(&mail.raw) else {
        return quarantine(ctx, owner, mail, "cannot be read as a mail").await;
    };
    let read = match read(&message) {
        Ok(read) => read,
        Err(reason) => return quarantine(ctx, owner, mail, reason).await,
    };
    let header = |name: &str| message.header_raw(name).map(str::to_owned);
    if let Some(reason) = automatic_reason(header, &read.sender, message.header_raw("Return-Path"))
    {
        return ignore(
            ctx,
            owner,
            mail,
            &read,
            &format!("automatic mail: {reason}"),
        )
        .await;
    }
    let person = crate::store::accounts::find_user_by_email(&ctx.db, &read.sender).await?;
    if person.as_ref().is_some_and(|p| !p.active) {
        return ignore(
            ctx,
            owner,
            mail,
            &read,
            "the sender's account is deactivated",
        )
        .await;
    }
    if person.as_ref().is_some_and(|p| p.person.role.is_staff()) {
        // A mail's From: is whatever its sender wrote, and the desk sees no SPF/DKIM verdict:
        // a mail in a staff member's name could be anyone's, and as a reply it would reach the
        // customer in the desk's own name. Staff answer in the console or the API; the mail
        // waits in the quarantine, where an administrator sees it.
        return quarantine_read(ctx, owner, mail, Some(&read), STAFF_SENDER).await;
    }
    let person = person.map(|p| p.person);
    let matched = match &person {
        Some(person) => match_ticket(ctx, &read, person).await?,
        None => None,
    };
    let attachments = store_files(ctx, &read.files).await?;
    let result = write(ctx, owner, mail, &read, person, matched, &attachments.list).await;
    match &result {
        Ok(Done::Ticket(_) | Done::Comment(_)) => attachments.keep(),
        _ => attachments.discard().await,
    }
    result
}

/// Parses what processing needs; `Err` with the reason to quarantine.
fn read(message: &Message<'_>) -> Result<Read, &'static str> {
    let sender = message
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(normalize_email)
        .filter(|a| is_plausible_email(a))
        .ok_or("no sender address")?;
    let subject =
        crate::domain::mail::one_line(message.subject().unwrap_or("").trim()).replace('\0', "");
    let subject: String = subject.chars().take(SUBJECT_MAX_CHARS).collect();
    // Without a plain-text part, the parser turns the HTML part into text.
    let text = message
        .body_text(0)
        .map(|t| t.replace('\0', "").replace("\r\n", "\n"))
        .unwrap_or_default();
    let mut thread_ids = Vec::new();
    for value in [message.references(), message.in_reply_to()] {
        if let Some(list) = value.as_text_list() {
            thread_ids.extend(list.iter().flat_map(|id| message_ids(id)));
        } else if let Some(one) = value.as_text() {
            thread_ids.extend(message_ids(one));
        }
    }
    let mut recipients: Vec<String> = message
        .to()
        .into_iter()
        .chain(message.cc())
        .flat_map(|a| a.iter())
        .filter_map(|a| a.address())
        .map(str::to_owned)
        .collect();
    for name in ["Delivered-To", "X-Original-To"] {
        if let Some(raw) = message.header_raw(name) {
            recipients.push(raw.trim().trim_matches(['<', '>']).to_owned());
        }
    }
    let mut files = Vec::new();
    let mut refused_files = Vec::new();
    for part in message.attachments() {
        let name = crate::domain::attachment::clean_filename(
            part.attachment_name().unwrap_or("attachment"),
        );
        let bytes = part.contents();
        if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > ATTACHMENT_MAX_BYTES {
            refused_files.push(format!("{name}: larger than 2 MiB"));
            continue;
        }
        if files.len() >= ATTACHMENT_MAX_FILES {
            refused_files.push(format!("{name}: more than {ATTACHMENT_MAX_FILES} files"));
            continue;
        }
        let declared = part.content_type().map(|ct| match ct.subtype() {
            Some(sub) => format!("{}/{sub}", ct.ctype()),
            None => ct.ctype().to_owned(),
        });
        files.push(File {
            name,
            content_type: crate::domain::attachment::clean_content_type(declared.as_deref()),
            bytes: bytes.to_vec(),
        });
    }
    Ok(Read {
        sender,
        subject,
        text,
        message_id: message.message_id().map(str::to_owned),
        thread_ids,
        recipients,
        files,
        refused_files,
    })
}

/// The ticket a reply answers, and whether its sender may write on it: by the Message-IDs it
/// answers, then by the signed token of the reply address, then by `[#id]` in the subject (the
/// ticket's customer only). A match its sender may not write on is no match.
async fn match_ticket(
    ctx: &Context,
    read: &Read,
    person: &Person,
) -> StoreResult<Option<TicketRow>> {
    let may_write = |t: &TicketRow| t.author_id == person.id || person.role.is_staff();
    if let Some(id) = kept::ticket_by_message_ids(&ctx.db, &read.thread_ids).await?
        && let Some(ticket) = tickets::find_ticket(&ctx.db, id).await?
        && may_write(&ticket)
    {
        return Ok(Some(ticket));
    }
    if let Some(reply) = &ctx.inbound.reply {
        for address in &read.recipients {
            if let Some(id) = address_detail(address).and_then(|d| verify_token(&reply.secret, d))
                && let Some(ticket) = tickets::find_ticket(&ctx.db, id).await?
                && may_write(&ticket)
            {
                return Ok(Some(ticket));
            }
        }
    }
    if let Some(id) = subject_ticket(&read.subject)
        && let Some(ticket) = tickets::find_ticket(&ctx.db, id).await?
        && ticket.author_id == person.id
    {
        return Ok(Some(ticket));
    }
    Ok(None)
}

/// The ticket or comment, and the mail marked processed, in one transaction.
async fn write(
    ctx: &Context,
    owner: &str,
    mail: &Claimed,
    read: &Read,
    person: Option<Person>,
    matched: Option<TicketRow>,
    files: &[NewAttachment],
) -> anyhow::Result<Done> {
    let backend = ctx.db.backend();
    let mut tx = ctx.db.begin_write().await?;
    // Another copy of this mail (another mailbox, the endpoint) may have been written already.
    if let Some(id) = &read.message_id
        && kept::already_processed(&mut tx, backend, id, mail.id).await?
    {
        drop(tx);
        return ignore(ctx, owner, mail, read, "duplicate: already processed").await;
    }
    let refusal = |what: &str| format!("refused: {what}");
    let (done, ticket_id) = match (&person, &matched) {
        (Some(person), Some(ticket)) => {
            let text = comment_text(&cut_quote(&read.text), files);
            if person.role.is_staff() && person.id != ticket.author_id {
                let c =
                    staff::add_message_in(&mut tx, backend, ticket, person, &text, files, false)
                        .await?;
                (Done::Comment(c.id), ticket.id)
            } else {
                let outcome = tickets::add_customer_conversation_in(
                    &mut tx,
                    backend,
                    ticket,
                    person,
                    &text,
                    files,
                    ctx.open_ticket_limit,
                )
                .await?;
                match outcome {
                    WriteOutcome::Done(c) => (Done::Comment(c.id), ticket.id),
                    _ => {
                        drop(tx);
                        return refuse(ctx, owner, mail, read, &refusal("open-ticket limit")).await;
                    }
                }
            }
        }
        _ => {
            let author = match &person {
                Some(p) => p.clone(),
                None => Person {
                    id: kept::create_customer_in(&mut tx, &read.sender).await?,
                    email: read.sender.clone(),
                    role: crate::domain::people::Role::Customer,
                },
            };
            let Some(category_id) = category(ctx, mail.category_id).await? else {
                drop(tx);
                return quarantine_read(
                    ctx,
                    owner,
                    mail,
                    Some(read),
                    "no active category for new tickets",
                )
                .await;
            };
            let subject = if read.subject.trim().is_empty() {
                "(no subject)".to_owned()
            } else {
                read.subject.clone()
            };
            let text = comment_text(&read.text, files);
            let new = NewTicket {
                author_id: author.id,
                subject: &subject,
                priority: Priority::Medium,
                category_id,
                comment: &text,
            };
            match tickets::create_ticket_in(&mut tx, backend, new, files, ctx.open_ticket_limit)
                .await?
            {
                WriteOutcome::Done(t) => (Done::Ticket(t.id), t.id),
                _ => {
                    drop(tx);
                    return refuse(ctx, owner, mail, read, &refusal("open-ticket limit")).await;
                }
            }
        }
    };
    let reason = (!read.refused_files.is_empty())
        .then(|| format!("files refused: {}", read.refused_files.join("; ")));
    let outcome = Outcome {
        reason: reason.as_deref(),
        sender: Some(&read.sender),
        subject: Some(&read.subject),
        ticket_id: Some(ticket_id),
    };
    if !kept::finish(&mut tx, mail.id, owner, Finished::Processed, &outcome).await? {
        return Ok(Done::LeaseLost);
    }
    if let Some(reason) = &reason {
        answer(
            ctx,
            &mut tx,
            mail,
            read,
            &files_refused_text(read, ticket_id, reason),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(done)
}

/// The comment text: the mail's, cut to the contract's length; never empty.
fn comment_text(text: &str, files: &[NewAttachment]) -> String {
    let text: String = text.trim().chars().take(COMMENT_MAX_CHARS).collect();
    if !text.is_empty() {
        text
    } else if files.is_empty() {
        "(empty message)".to_owned()
    } else {
        "(attachments only)".to_owned()
    }
}

/// The category of a new ticket: the mailbox's, else the configured one, else the first active.
async fn category(ctx: &Context, mailbox: Option<i64>) -> StoreResult<Option<i64>> {
    for id in [mailbox, ctx.inbound.default_category]
        .into_iter()
        .flatten()
    {
        if tickets::category_is_active(&ctx.db, id).await? {
            return Ok(Some(id));
        }
    }
    let active = catalog::list_active(&ctx.db, Catalog::Categories).await?;
    Ok(active.first().map(|c| c.id))
}

async fn quarantine(
    ctx: &Context,
    owner: &str,
    mail: &Claimed,
    reason: &str,
) -> anyhow::Result<Done> {
    quarantine_read(ctx, owner, mail, None, reason).await
}

/// Quarantines a mail, with its sender and subject when it could be read that far.
async fn quarantine_read(
    ctx: &Context,
    owner: &str,
    mail: &Claimed,
    read: Option<&Read>,
    reason: &str,
) -> anyhow::Result<Done> {
    if !finish_alone(ctx, owner, mail, read, Finished::Quarantined, reason).await? {
        return Ok(Done::LeaseLost);
    }
    tracing::warn!(inbound = mail.id, reason, "mail quarantined");
    Ok(Done::Quarantined(reason.to_owned()))
}

async fn ignore(
    ctx: &Context,
    owner: &str,
    mail: &Claimed,
    read: &Read,
    reason: &str,
) -> anyhow::Result<Done> {
    if !finish_alone(ctx, owner, mail, Some(read), Finished::Ignored, reason).await? {
        return Ok(Done::LeaseLost);
    }
    tracing::info!(inbound = mail.id, reason, "mail ignored");
    Ok(Done::Ignored(reason.to_owned()))
}

/// Records an outcome that writes nothing else, in a transaction of its own: false when the
/// lease was lost (another process has the mail now).
async fn finish_alone(
    ctx: &Context,
    owner: &str,
    mail: &Claimed,
    read: Option<&Read>,
    state: Finished,
    reason: &str,
) -> anyhow::Result<bool> {
    let mut tx = ctx.db.begin_write().await?;
    let outcome = Outcome {
        reason: Some(reason),
        sender: read.map(|r| r.sender.as_str()),
        subject: read.map(|r| r.subject.as_str()),
        ticket_id: None,
    };
    if !kept::finish(&mut tx, mail.id, owner, state, &outcome).await? {
        return Ok(false);
    }
    tx.commit().await?;
    Ok(true)
}

/// A mail the open-ticket limit refused: processed, nothing written, one explanatory answer.
async fn refuse(
    ctx: &Context,
    owner: &str,
    mail: &Claimed,
    read: &Read,
    reason: &str,
) -> anyhow::Result<Done> {
    let mut tx = ctx.db.begin_write().await?;
    let outcome = Outcome {
        reason: Some(reason),
        sender: Some(&read.sender),
        subject: Some(&read.subject),
        ticket_id: None,
    };
    if !kept::finish(&mut tx, mail.id, owner, Finished::Processed, &outcome).await? {
        return Ok(Done::LeaseLost);
    }
    let text = format!(
        "Your message \"{}\" could not be added to the support desk: you already have the \
         most open tickets allowed ({}). Please reply on one of your open tickets, or close \
         one and write again.\n\nThis is an automatic answer.",
        read.subject, ctx.open_ticket_limit
    );
    answer(ctx, &mut tx, mail, read, &text).await?;
    tx.commit().await?;
    tracing::info!(inbound = mail.id, reason, "mail refused");
    Ok(Done::Refused(reason.to_owned()))
}

fn files_refused_text(read: &Read, ticket_id: i64, reason: &str) -> String {
    format!(
        "Your message \"{}\" was added to ticket #{ticket_id}, but not every file: {}.\n\
         Files up to 2 MiB each, at most {ATTACHMENT_MAX_FILES} per message, are taken.\n\n\
         This is an automatic answer.",
        read.subject,
        reason.trim_start_matches("files refused: ")
    )
}

/// Queues one explanatory answer to the sender, in the caller's transaction, unless email is
/// off or the sender already got the hour's share of automatic answers (loop protection).
async fn answer(
    ctx: &Context,
    tx: &mut Tx,
    mail: &Claimed,
    read: &Read,
    text: &str,
) -> anyhow::Result<()> {
    let Some(outbound) = &ctx.mail else {
        return Ok(());
    };
    let hour_ago = crate::store::now_micros() - 3_600_000_000;
    if kept::replies_since(tx, &read.sender, hour_ago).await? >= ctx.inbound.replies_per_hour {
        tracing::warn!(
            inbound = mail.id,
            "no answer: the sender's hourly share is used up"
        );
        return Ok(());
    }
    let subject = if read.subject.to_ascii_lowercase().starts_with("re:") {
        read.subject.clone()
    } else {
        format!("Re: {}", read.subject)
    };
    let in_reply_to = read
        .message_id
        .as_deref()
        .map(|id| format!("<{id}>"))
        .unwrap_or_default();
    kept::queue_reply(
        tx,
        &NewReply {
            inbound_id: mail.id,
            recipient: &read.sender,
            message_id: &outbound.new_message_id("inbound"),
            in_reply_to: &in_reply_to,
            subject: &subject,
            body_text: text,
        },
    )
    .await?;
    Ok(())
}

/// The files moved into the attachment store: removed again unless the write kept them.
struct StoredFiles {
    blobs: Arc<dyn BlobStore>,
    list: Vec<NewAttachment>,
}

impl StoredFiles {
    fn keep(self) {}

    async fn discard(self) {
        for a in &self.list {
            if let Err(err) = self.blobs.delete(&a.storage_key).await {
                tracing::warn!(error = %err, "could not remove a file of an unprocessed mail");
            }
        }
    }
}

async fn store_files(ctx: &Context, files: &[File]) -> anyhow::Result<StoredFiles> {
    let mut stored = StoredFiles {
        blobs: Arc::clone(&ctx.blobs),
        list: Vec::with_capacity(files.len()),
    };
    for file in files {
        let (mut staged, mut handle) = StagedFile::create(&ctx.staging_dir).await?;
        handle.write_all(&file.bytes).await?;
        handle.sync_all().await?;
        drop(handle);
        let key = new_key();
        if let Err(err) = ctx.blobs.put(&key, &mut staged).await {
            stored.discard().await;
            return Err(err.into());
        }
        stored.list.push(NewAttachment {
            filename: file.name.clone(),
            content_type: file.content_type.clone(),
            size: i64::try_from(file.bytes.len()).unwrap_or(i64::MAX),
            storage_key: key,
        });
    }
    Ok(stored)
}
