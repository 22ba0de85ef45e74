//! `supportdesk user create`.

use clap::Subcommand;

use crate::domain::people::Role;
use crate::services::accounts::{create_user, update_user};
use crate::store::{Db, accounts};

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
    /// List people.
    List,
    /// Change a person's role, deactivate or reactivate them, or reset their password.
    Update {
        id: i64,
        #[arg(long, value_parser = parse_role)]
        role: Option<Role>,
        #[arg(long)]
        active: Option<bool>,
        #[arg(long)]
        password: Option<String>,
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
        UserCommand::List => {
            for user in accounts::list_users(db).await? {
                let state = if user.active { "active" } else { "inactive" };
                println!(
                    "{}\t{}\t{}\t{state}",
                    user.person.id, user.person.email, user.person.role
                );
            }
        }
        UserCommand::Update {
            id,
            role,
            active,
            password,
        } => {
            update_user(db, id, role, active, password.as_deref()).await?;
            println!("updated person {id}");
        }
    }
    Ok(())
}
