//! `supportdesk token create`.

use clap::Subcommand;

use crate::domain::people::normalize_email;
use crate::services::tokens::issue_access_token;
use crate::store::{Db, accounts};

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Issue an access token for a person; printed alone on the last line.
    Create {
        /// The person's email.
        #[arg(long)]
        email: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 86_400)]
        ttl: u64,
    },
}

pub async fn run(db: &Db, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { email, ttl } => {
            let email = normalize_email(&email);
            let user = accounts::find_user_by_email(db, &email)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no person with email {email}"))?;
            anyhow::ensure!(user.active, "{email} is deactivated");
            anyhow::ensure!(ttl > 0, "--ttl must be at least 1 second");
            let token = issue_access_token(db, user.person.id, ttl).await?;
            println!("access token for {email}, valid {ttl} s:");
            println!("{token}");
        }
    }
    Ok(())
}
