//! `supportdesk inbound list|retry|delete`: the quarantine of inbound mail, as the admin API
//! shows it, through the same store functions.

use clap::Subcommand;

use crate::domain::time::format_micros;
use crate::store::{Db, inbound};

#[derive(Subcommand)]
pub enum InboundCommand {
    /// List the quarantined mails (oldest first); `--all` lists the latest kept mails of any
    /// state instead.
    List {
        /// The latest 500 kept mails of any state (processed, ignored, …), newest first.
        #[arg(long)]
        all: bool,
    },
    /// Process a quarantined mail again (a running server picks it up within its poll).
    Retry {
        /// The mail's id, as `inbound list` shows it.
        #[arg(value_parser = super::parse_id)]
        id: i64,
    },
    /// Delete a quarantined mail for good.
    Delete {
        /// The mail's id, as `inbound list` shows it.
        #[arg(value_parser = super::parse_id)]
        id: i64,
    },
}

pub async fn run(db: &Db, command: InboundCommand) -> anyhow::Result<()> {
    match command {
        InboundCommand::List { all } => {
            let list = if all {
                inbound::recent(db, 500).await?
            } else {
                inbound::quarantined(db, 500).await?
            };
            if list.is_empty() {
                eprintln!("no mail {}", if all { "kept yet" } else { "in quarantine" });
            }
            for m in list {
                // Tabs and line breaks in what a sender wrote would break the columns.
                let clean = |s: Option<String>| {
                    crate::domain::mail::one_line(&s.unwrap_or_default()).replace('\t', " ")
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    m.id,
                    m.state,
                    format_micros(m.received_at),
                    m.mailbox,
                    clean(m.sender),
                    clean(m.subject),
                    clean(m.reason),
                );
            }
        }
        InboundCommand::Retry { id } => match inbound::retry(db, id).await? {
            inbound::Retry::Done => println!("mail {id} will be processed again"),
            inbound::Retry::NotFound => anyhow::bail!("no quarantined mail with id {id}"),
            inbound::Retry::Truncated => anyhow::bail!(
                "mail {id} was too large: only its beginning was kept, it cannot be processed"
            ),
        },
        InboundCommand::Delete { id } => {
            anyhow::ensure!(
                inbound::delete(db, id).await?,
                "no quarantined mail with id {id}"
            );
            println!("mail {id} deleted");
        }
    }
    Ok(())
}
