//! Email notifications. The dispatcher fans each outbox row out into one queued mail per
//! recipient (`fan_out`, in the transaction that acknowledges the row); the worker
//! (`worker.rs`) sends the queue over SMTP, retrying with backoff. Without
//! `SUPPORTDESK_SMTP_URL` none of this runs and no mail is queued.

pub mod templates;
pub mod transport;
pub mod worker;

use std::sync::Arc;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use rand::RngCore;
use tokio::sync::Notify;

use crate::config::MailConfig;
use crate::domain::events::TicketEvent;
use crate::domain::mail::{Audience, Happened, audience, subject};
use crate::domain::ticket::Status;
use crate::services::notify::schedule::RetrySchedule;
use crate::store::mail::{self as queue, EventFacts, NewMail};
use crate::store::outbox::Claimed;
use crate::store::{Tx, now_micros};

pub use worker::MailWorker;

/// How a mail to a customer names the staff member who acted.
pub const CUSTOMER_FACING_STAFF_NAME: &str = "Support";

/// Email, configured: who sends, where links point, the SMTP transport and its retry schedule.
pub struct Mail {
    from: Mailbox,
    /// The domain of Message-IDs: the sender's.
    domain: String,
    /// `SUPPORTDESK_PUBLIC_URL`, without a trailing slash.
    public_url: Option<String>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    schedule: RetrySchedule,
    /// Rung when the dispatcher queues mail, so the worker sends it at once instead of at its
    /// next poll.
    wake: Notify,
    /// With an inbound address: each mail's `Reply-To`, signed for its ticket.
    reply_to: Option<crate::services::inbound::ReplyAddress>,
}

impl Mail {
    /// Email as configured, or `None` when `SUPPORTDESK_SMTP_URL` is unset. A setting that
    /// cannot work is an error here, at start, never at the first mail.
    pub fn from_config(
        config: &MailConfig,
        reply_to: Option<crate::services::inbound::ReplyAddress>,
    ) -> anyhow::Result<Option<Arc<Self>>> {
        let Some(url) = &config.smtp_url else {
            return Ok(None);
        };
        let from_text = config.mail_from.as_deref().map(str::trim).unwrap_or("");
        anyhow::ensure!(
            !from_text.is_empty(),
            "SUPPORTDESK_MAIL_FROM is required when SUPPORTDESK_SMTP_URL is set"
        );
        let from: Mailbox = from_text
            .parse()
            .map_err(|e| anyhow::anyhow!("SUPPORTDESK_MAIL_FROM {from_text:?}: {e}"))?;
        let public_url = match config.public_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(url) => {
                anyhow::ensure!(
                    url.starts_with("https://") || url.starts_with("http://"),
                    "SUPPORTDESK_PUBLIC_URL must start with https:// or http://"
                );
                Some(url.trim_end_matches('/').to_owned())
            }
        };
        let schedule = RetrySchedule::parse(&config.mail_retry_schedule)
            .map_err(|e| anyhow::anyhow!("SUPPORTDESK_MAIL_RETRY_SCHEDULE: {e}"))?;
        Ok(Some(Arc::new(Self {
            domain: from.email.domain().to_owned(),
            from,
            public_url,
            transport: transport::connect(&url.0, config.smtp_ca_file.as_deref())?,
            schedule,
            wake: Notify::new(),
            reply_to,
        })))
    }

    /// A new Message-ID in the sender's domain, unguessable: the inbound-mail work will take a
    /// reply's `In-Reply-To` as naming its ticket, so nobody may forge one.
    pub(crate) fn new_message_id(&self, prefix: &str) -> String {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        format!("<{prefix}.{}@{}>", hex::encode(bytes), self.domain)
    }

    /// The sender of every mail.
    pub(crate) fn from(&self) -> &Mailbox {
        &self.from
    }

    /// The SMTP transport.
    pub(crate) fn transport(&self) -> &AsyncSmtpTransport<Tokio1Executor> {
        &self.transport
    }

    /// The `Reply-To` of a mail about `ticket_id`: the support address with the ticket's signed
    /// token, when an inbound address is configured.
    pub(crate) fn reply_to(&self, ticket_id: i64) -> Option<Mailbox> {
        self.reply_to
            .as_ref()
            .and_then(|r| r.for_ticket(ticket_id))
            .and_then(|a| a.parse().ok())
    }

    /// Tells the worker that mail was queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Queues one mail per recipient of the event of outbox row `row`, in the dispatcher's
/// transaction (which acknowledges the row with it). Answers how many it queued.
pub async fn fan_out(
    tx: &mut Tx,
    row: &Claimed,
    event: TicketEvent,
    mail: &Mail,
) -> anyhow::Result<usize> {
    let Some(facts) = queue::event_facts(tx, row.event_id).await? else {
        return Ok(0);
    };
    let came_with_reply = event == TicketEvent::StatusChanged
        && facts.actor_role.is_staff()
        && queue::came_with_reply(tx, &facts).await?;
    let happened = Happened {
        event,
        actor: facts.actor_role,
        came_with_reply,
    };
    let audience = audience(happened);
    let mut people = match audience {
        Audience::Customer => queue::mailable(tx, facts.author_id)
            .await?
            .into_iter()
            .collect(),
        Audience::Staff => queue::staff_for(tx, facts.assignee_id).await?,
        Audience::Nobody => return Ok(0),
    };
    // Nobody is mailed about their own change.
    people.retain(|p| p.id != facts.actor_id);
    if people.is_empty() {
        return Ok(0);
    }
    let Some(content) = content(tx, &facts, event, audience, mail).await? else {
        return Ok(0);
    };
    let (body_text, body_html) = templates::render(&content)?;
    let now = now_micros();
    let root = queue::thread_root(
        tx,
        facts.ticket_id,
        &mail.new_message_id(&format!("ticket-{}", facts.ticket_id)),
        now,
    )
    .await?;
    let mut queued = 0;
    for recipient in people {
        let new = NewMail {
            outbox_id: row.id,
            event_id: row.event_id,
            ticket_id: facts.ticket_id,
            recipient,
            message_id: mail.new_message_id(&format!(
                "ticket-{}.event-{}",
                facts.ticket_id, row.event_id
            )),
            in_reply_to: root.clone(),
            references: root.clone(),
            subject: content.subject.clone(),
            body_text: body_text.clone(),
            body_html: body_html.clone(),
            at: now,
        };
        if queue::queue(tx, &new).await? {
            queued += 1;
        }
    }
    Ok(queued)
}

/// What the mail about this event says; `None` when there is nothing a mail may say (a
/// message that turns out to be an internal note is never quoted).
async fn content(
    tx: &mut Tx,
    facts: &EventFacts,
    event: TicketEvent,
    audience: Audience,
    mail: &Mail,
) -> anyhow::Result<Option<templates::Content>> {
    // Staff see who acted by address. A customer never sees a staff member's address (a
    // personal work address is not the desk's to hand out): the desk keeps no display names,
    // so the agent is "Support" to them.
    let actor = match audience {
        Audience::Customer if facts.actor_role.is_staff() => CUSTOMER_FACING_STAFF_NAME,
        _ => facts.actor_email.as_str(),
    };
    let message_id = || facts.to.as_deref().and_then(|v| v.parse::<i64>().ok());
    let (intro, message) = match event {
        TicketEvent::Created => (
            format!("{} opened a new ticket:", facts.actor_email),
            Some(facts.ticket_comment.clone()),
        ),
        TicketEvent::CustomerCommented | TicketEvent::AgentReplied => {
            let Some(id) = message_id() else {
                return Ok(None);
            };
            let Some(text) = queue::public_message(tx, facts.ticket_id, id).await? else {
                return Ok(None);
            };
            let verb = if event == TicketEvent::AgentReplied {
                "replied"
            } else {
                "wrote"
            };
            (format!("{actor} {verb}:"), Some(text))
        }
        TicketEvent::StatusChanged => (
            format!(
                "The ticket's status changed from {} to {}.",
                status_name(facts.from.as_deref()),
                status_name(facts.to.as_deref())
            ),
            None,
        ),
        TicketEvent::NoteAdded | TicketEvent::Assigned | TicketEvent::Updated => return Ok(None),
    };
    Ok(Some(templates::Content {
        subject: subject(facts.ticket_id, &facts.ticket_subject),
        intro,
        message,
        link: mail
            .public_url
            .as_ref()
            .map(|base| format!("{base}/tickets/{}", facts.ticket_id)),
    }))
}

fn status_name(code: Option<&str>) -> &'static str {
    match code
        .and_then(|c| c.parse::<i64>().ok())
        .and_then(|c| Status::try_from(c).ok())
    {
        Some(Status::Open) => "Open",
        Some(Status::Processing) => "Processing",
        Some(Status::Closed) => "Closed",
        None => "unknown",
    }
}
