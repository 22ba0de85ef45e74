//! `supportdesk webhook create|list|delete`: the admin API's webhook operations, through the
//! same checks and store functions.

use clap::Subcommand;

use crate::domain::time::format_micros;
use crate::services::notify::signing;
use crate::services::notify::webhooks::sender;
use crate::store::{Db, webhooks};

#[derive(Subcommand)]
pub enum WebhookCommand {
    /// Register an endpoint; its signing secret is printed once, alone on the last line.
    Create {
        /// Where to POST the events (http:// or https://).
        #[arg(long)]
        url: String,
        /// Event names, comma-separated (`ticket.created,ticket.agent_replied`), or `*` for
        /// every event (the default).
        #[arg(long, default_value = "*")]
        events: String,
        /// What the endpoint is for, shown in lists.
        #[arg(long, default_value = "")]
        description: String,
        /// Allow private, loopback and link-local targets, as the server's setting does.
        #[arg(
            long,
            env = "SUPPORTDESK_WEBHOOK_ALLOW_PRIVATE",
            default_value_t = false
        )]
        allow_private: bool,
    },
    /// List endpoints (never their secrets).
    List,
    /// Remove an endpoint, with its pending deliveries and its log.
    Delete {
        /// The endpoint's id, as `webhook list` shows it.
        #[arg(value_parser = super::parse_id)]
        id: i64,
    },
}

pub async fn run(db: &Db, command: WebhookCommand) -> anyhow::Result<()> {
    match command {
        WebhookCommand::Create {
            url,
            events,
            description,
            allow_private,
        } => {
            let names: Vec<String> = events.split(',').map(str::to_owned).collect();
            let events = webhooks::Subscription::from_names(&names)
                .map_err(|e| anyhow::anyhow!("--events: {e}"))?;
            sender::check_target(&url, allow_private)
                .await
                .map_err(|e| anyhow::anyhow!("--url: {e}"))?;
            let secret = signing::new_secret();
            let endpoint =
                webhooks::create(db, url.trim(), &events, description.trim(), &secret).await?;
            println!(
                "created webhook {} ({}, events {}); its signing secret is shown only now:",
                endpoint.id,
                endpoint.url,
                endpoint.events.names().join(",")
            );
            println!("{secret}");
        }
        WebhookCommand::List => {
            let endpoints = webhooks::list(db).await?;
            if endpoints.is_empty() {
                eprintln!("no webhooks yet (add one with `supportdesk webhook create --url URL`)");
            }
            for e in endpoints {
                let state = if e.enabled {
                    "enabled".to_owned()
                } else {
                    format!(
                        "disabled: {}",
                        e.disabled_reason.as_deref().unwrap_or("no reason recorded")
                    )
                };
                println!(
                    "{}\t{}\t{}\tcreated {}\t{}",
                    e.id,
                    e.url,
                    e.events.names().join(","),
                    format_micros(e.created_at),
                    state
                );
            }
        }
        WebhookCommand::Delete { id } => {
            anyhow::ensure!(webhooks::delete(db, id).await?, "no webhook with id {id}");
            println!("deleted webhook {id}");
        }
    }
    Ok(())
}
