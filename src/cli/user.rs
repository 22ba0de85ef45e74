//! `supportdesk user create|list|update`.

use std::io::{BufRead, IsTerminal};

use clap::{ArgGroup, Args, Subcommand};

use super::parse_id;
use crate::domain::people::Role;
use crate::services::accounts::{create_user, update_user};
use crate::store::{Db, accounts};

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a person. Without a password option, the password is asked for at the terminal.
    Create {
        /// The person's email; it is how they sign in.
        #[arg(long)]
        email: String,
        #[command(flatten)]
        password: PasswordSource,
        /// `customer` (the customer API), `agent` (also the queue) or `admin` (everything).
        #[arg(long, default_value = "customer", value_parser = parse_role)]
        role: Role,
    },
    /// List people: id, email, role, state.
    List,
    /// Change a person's role, deactivate or reactivate them, reset their password (which
    /// signs them out everywhere), or opt them out of (or back into) email notifications. At
    /// least one change is required.
    #[command(group(
        ArgGroup::new("change")
            .required(true)
            .multiple(true)
            .args(["role", "active", "password", "password_stdin", "email_notifications"])
    ))]
    Update {
        /// The person's id, as `user list` shows it.
        #[arg(value_parser = parse_id)]
        id: i64,
        /// The new role: `customer`, `agent` or `admin`.
        #[arg(long, value_parser = parse_role)]
        role: Option<Role>,
        /// `false` deactivates the person (their tokens stop at once), `true` reactivates.
        #[arg(long)]
        active: Option<bool>,
        #[command(flatten)]
        password: PasswordSource,
        /// `false`: the desk stops emailing the person; `true`: it emails them again.
        #[arg(long)]
        email_notifications: Option<bool>,
    },
}

/// Where a password comes from. On the command line it is visible to other users of the
/// machine (`ps`) and kept in the shell's history, so a prompt and stdin are offered too.
#[derive(Args)]
pub struct PasswordSource {
    /// The password. Given without a value (`--password` last), it is asked for at the
    /// terminal, not echoed. A value here is visible in `ps` and the shell history.
    #[arg(long, num_args = 0..=1, value_name = "PASSWORD", conflicts_with = "password_stdin")]
    password: Option<Option<String>>,
    /// Read the password from the first line of standard input (`echo "$PW" | …`).
    #[arg(long)]
    password_stdin: bool,
}

impl PasswordSource {
    /// The password asked for, if any; `ask_when_absent` prompts when no option was given.
    fn read(self, ask_when_absent: bool) -> anyhow::Result<Option<String>> {
        match self.password {
            Some(Some(password)) => Ok(Some(password)),
            Some(None) => prompt().map(Some),
            None if self.password_stdin => read_stdin().map(Some),
            None if ask_when_absent => prompt().map(Some),
            None => Ok(None),
        }
    }
}

/// The first line of stdin, without its line ending (the password itself is kept exactly).
fn read_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|err| anyhow::anyhow!("cannot read the password from stdin: {err}"))?;
    let password = line
        .strip_suffix('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .unwrap_or(&line);
    Ok(password.to_owned())
}

/// Asks twice at the terminal, without echo.
fn prompt() -> anyhow::Result<String> {
    anyhow::ensure!(
        std::io::stdin().is_terminal(),
        "no password given and no terminal to ask at: use --password-stdin (or --password VALUE)"
    );
    let ask = |text: &str| {
        rpassword::prompt_password(text)
            .map_err(|err| anyhow::anyhow!("cannot read the password from the terminal: {err}"))
    };
    let first = ask("Password: ")?;
    let again = ask("Password (again): ")?;
    anyhow::ensure!(first == again, "the two passwords differ; nothing changed");
    Ok(first)
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
            let password = password.read(true)?.unwrap_or_default();
            let id = create_user(db, &email, &password, role).await?;
            println!(
                "created {role} {} with id {id}",
                email.trim().to_lowercase()
            );
        }
        UserCommand::List => {
            let users = accounts::list_users(db).await?;
            if users.is_empty() {
                // On stderr, so that a script reading the list reads no line for no person.
                eprintln!("no people yet (`supportdesk serve` creates the first administrator)");
            }
            for user in users {
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
            email_notifications,
        } => {
            let password = password.read(false)?;
            update_user(
                db,
                id,
                role,
                active,
                password.as_deref(),
                email_notifications,
            )
            .await?;
            let mut changes = Vec::new();
            if let Some(role) = role {
                changes.push(format!("role {role}"));
            }
            if let Some(active) = active {
                changes.push(if active { "active" } else { "inactive" }.to_owned());
            }
            if password.is_some() {
                changes.push("new password".to_owned());
            }
            if let Some(on) = email_notifications {
                changes.push(format!(
                    "email notifications {}",
                    if on { "on" } else { "off" }
                ));
            }
            println!("updated person {id}: {}", changes.join(", "));
        }
    }
    Ok(())
}
