//! `supportdesk apikey create|list|revoke`.

use clap::Subcommand;

use crate::domain::people::KeyScope;
use crate::domain::time::format_micros;

fn parse_scope(text: &str) -> Result<KeyScope, String> {
    text.parse()
}
use crate::services::tokens::create_api_key;
use crate::store::{Db, accounts};

#[derive(Subcommand)]
pub enum ApikeyCommand {
    /// Issue a key; it is printed once, alone on the last line.
    Create {
        /// A name to tell keys apart (`web`, `mobile`).
        #[arg(long)]
        name: String,
        /// `customer`: the customer endpoints only; `all`: the staff routes too.
        #[arg(long, default_value = "customer", value_parser = parse_scope)]
        scope: KeyScope,
    },
    /// List keys (never the secret, only its first characters).
    List,
    /// Revoke a key by id; clients using it are refused at once.
    Revoke {
        /// The key's id, as `apikey list` shows it.
        #[arg(value_parser = super::parse_id)]
        id: i64,
    },
}

pub async fn run(db: &Db, command: ApikeyCommand) -> anyhow::Result<()> {
    match command {
        ApikeyCommand::Create { name, scope } => {
            let name = name.trim();
            anyhow::ensure!(!name.is_empty(), "the key name must not be empty");
            let (id, key) = create_api_key(db, name, scope).await?;
            println!(
                "created API key {id} ({name}, scope {}); it is shown only now:",
                scope.as_str()
            );
            println!("{key}");
        }
        ApikeyCommand::List => {
            let keys = accounts::list_api_keys(db).await?;
            if keys.is_empty() {
                // On stderr, so that a script reading the list reads no line for no key.
                eprintln!("no API keys yet (add one with `supportdesk apikey create --name NAME`)");
            }
            for key in keys {
                let state = match key.revoked_at {
                    Some(at) => format!("revoked {}", format_micros(at)),
                    None => "active".to_owned(),
                };
                println!(
                    "{}\t{}\t{}…\t{}\tcreated {}\t{}",
                    key.id,
                    key.name,
                    key.prefix,
                    key.scope.as_str(),
                    format_micros(key.created_at),
                    state
                );
            }
        }
        ApikeyCommand::Revoke { id } => {
            anyhow::ensure!(
                accounts::revoke_api_key(db, id).await?,
                "no active API key with id {id}"
            );
            println!("revoked API key {id}");
        }
    }
    Ok(())
}
