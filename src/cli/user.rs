//! `supportdesk user create`.

use clap::Subcommand;

use crate::domain::people::Role;
use crate::services::accounts::create_user;
use crate::store::Db;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a person.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        #[arg(long, default_value = "customer", value_parser = parse_role)]
        role: Role,
    },
}

fn parse_role(text: &str) -> Result<Role, String> {
    text.parse()
}

pub async fn run(db: &Db, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Create {
            email,
            password,
            role,
        } => {
            let id = create_user(db, &email, &password, role).await?;
            println!(
                "created {role} {} with id {id}",
                email.trim().to_lowercase()
            );
        }
    }
    Ok(())
}
