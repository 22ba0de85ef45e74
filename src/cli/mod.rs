//! The command line: `serve` and the administration commands, one file per command group.

mod apikey;
mod attachments;
mod bench;
mod catalog;
mod errors;
mod inbound;
mod reindex;
mod serve;
mod token;
mod user;
mod webhook;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{ServeConfig, StoreConfig};
use crate::store::Db;

#[derive(Parser)]
#[command(name = "supportdesk", version, about = "A support-ticket service")]
pub struct Cli {
    #[command(flatten)]
    store: StoreConfig,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (creates and migrates the database; on a first start, also an
    /// administrator and an API key, printed once).
    Serve(Box<ServeConfig>),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Issue, list and revoke API keys.
    #[command(subcommand)]
    Apikey(apikey::ApikeyCommand),
    /// Create, list and change people.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Issue access tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Manage ticket categories.
    #[command(subcommand)]
    Category(catalog::CategoryCommand),
    /// Manage ticket tags.
    #[command(subcommand)]
    Tag(catalog::TagCommand),
    /// Register, list and remove webhook endpoints.
    #[command(subcommand)]
    Webhook(webhook::WebhookCommand),
    /// The quarantine of inbound mail: list, retry, delete.
    #[command(subcommand)]
    Inbound(inbound::InboundCommand),
    /// Move attachment files between stores (local disk, S3).
    #[command(subcommand)]
    Attachments(attachments::AttachmentsCommand),
    /// Rebuild the search index from the tickets, with a progress bar (resumable; safe while
    /// servers run).
    Reindex(reindex::ReindexArgs),
    /// Load a large desk for the benchmark (bench/run).
    #[command(hide = true)]
    BenchSeed(bench::SeedArgs),
}

/// Runs the command; errors are one line on stderr and a non-zero exit.
pub fn run(cli: Cli) -> ExitCode {
    let default_level = match cli.command {
        Command::Serve(_) => "info",
        _ => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let secrets = cli
        .store
        .database_url
        .as_deref()
        .map(crate::config::url_secrets)
        .unwrap_or_default();
    match runtime.block_on(dispatch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", errors::one_line(&err, &secrets));
            ExitCode::FAILURE
        }
    }
}

/// An id on the command line: a message a person understands instead of Rust's "invalid digit
/// found in string".
pub fn parse_id(text: &str) -> Result<i64, String> {
    match text.trim().parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err("an id is a whole number such as 3, as the list command shows".to_owned()),
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    if let Command::Serve(config) = &cli.command {
        return serve::run(&cli.store, config).await;
    }
    let db = Db::connect(&cli.store).await?;
    if matches!(cli.command, Command::Reindex(_)) {
        // The command builds the index itself, with its progress bar.
        db.migrate_schema().await?;
    } else {
        db.migrate().await?;
    }
    let result = match cli.command {
        Command::Serve(_) => Ok(()),
        Command::Migrate => {
            println!("migrations applied");
            Ok(())
        }
        Command::Apikey(cmd) => apikey::run(&db, cmd).await,
        Command::User(cmd) => user::run(&db, cmd).await,
        Command::Token(cmd) => token::run(&db, cmd).await,
        Command::Category(cmd) => catalog::run_categories(&db, cmd).await,
        Command::Tag(cmd) => catalog::run_tags(&db, cmd).await,
        Command::Webhook(cmd) => webhook::run(&db, cmd).await,
        Command::Inbound(cmd) => inbound::run(&db, cmd).await,
        Command::Attachments(cmd) => attachments::run(&db, &cli.store, cmd).await,
        Command::Reindex(args) => reindex::run(&db, args).await,
        Command::BenchSeed(args) => bench::run(&db, &cli.store, args).await,
    };
    db.close().await;
    result
}

impl Cli {
    /// The configuration `serve` runs with, when this is the `serve` command (the integration
    /// suite reads its in-process servers' settings exactly as the binary reads its own).
    pub fn into_serve(self) -> Option<(StoreConfig, ServeConfig)> {
        match self.command {
            Command::Serve(config) => Some((self.store, *config)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every argument of every command, with the path of commands leading to it.
    fn arguments(command: &clap::Command, path: &str, out: &mut Vec<(String, clap::Arg)>) {
        for arg in command.get_arguments() {
            out.push((path.to_owned(), arg.clone()));
        }
        for sub in command.get_subcommands() {
            arguments(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    /// A global argument and a subcommand's argument with the same id parse, then make clap
    /// panic when the value is read (`bench-seed --attachments` met the global attachment
    /// store's `--attachments` that way).
    #[test]
    fn no_argument_id_is_used_twice_along_one_command_path() {
        let mut command = Cli::command();
        command.build();
        let global: Vec<String> = command
            .get_arguments()
            .filter(|a| a.is_global_set())
            .map(|a| a.get_id().to_string())
            .collect();
        let mut all = Vec::new();
        arguments(&command, "supportdesk", &mut all);
        let clashes: Vec<String> = all
            .iter()
            .filter(|(path, arg)| {
                path != "supportdesk"
                    && global.contains(&arg.get_id().to_string())
                    && !arg.is_global_set()
            })
            .map(|(path, arg)| format!("{path} {}", arg.get_id()))
            .collect();
        assert!(
            clashes.is_empty(),
            "ids that shadow a global argument: {clashes:?}"
        );
    }

    #[test]
    fn every_argument_of_every_command_has_help_text() {
        let mut command = Cli::command();
        command.build();
        let mut all = Vec::new();
        arguments(&command, "supportdesk", &mut all);
        assert!(all.len() > 40, "the arguments were found: {}", all.len());
        let missing: Vec<String> = all
            .iter()
            .filter(|(_, arg)| {
                arg.get_help()
                    .is_none_or(|h| h.to_string().trim().is_empty())
            })
            .map(|(path, arg)| format!("{path} {}", arg.get_id()))
            .collect();
        assert!(missing.is_empty(), "no help text: {missing:?}");
    }

    #[test]
    fn ids_that_are_not_whole_numbers_are_refused_in_words() {
        assert_eq!(parse_id("12"), Ok(12));
        let message = parse_id("abc");
        assert!(
            message.as_ref().is_err_and(|m| m.contains("whole number")),
            "{message:?}"
        );
        assert!(parse_id("-1").is_err());
    }
}
