//! The command line: `serve` and the administration commands, one file per command group.

mod apikey;
mod bench;
mod catalog;
mod serve;
mod token;
mod user;

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
    /// Create people.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Issue access tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Manage ticket categories.
    #[command(subcommand)]
    Category(catalog::CatalogCommand),
    /// Manage ticket tags.
    #[command(subcommand)]
    Tag(catalog::CatalogCommand),
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
    match runtime.block_on(dispatch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    if let Command::Serve(config) = &cli.command {
        return serve::run(&cli.store, config).await;
    }
    let db = Db::connect(&cli.store).await?;
    db.migrate().await?;
    let result = match cli.command {
        Command::Serve(_) => Ok(()),
        Command::Migrate => {
            println!("migrations applied");
            Ok(())
        }
        Command::Apikey(cmd) => apikey::run(&db, cmd).await,
        Command::User(cmd) => user::run(&db, cmd).await,
        Command::Token(cmd) => token::run(&db, cmd).await,
        Command::Category(cmd) => {
            catalog::run(&db, crate::store::catalog::Catalog::Categories, cmd).await
        }
        Command::Tag(cmd) => catalog::run(&db, crate::store::catalog::Catalog::Tags, cmd).await,
        Command::BenchSeed(args) => bench::run(&db, &cli.store, args).await,
    };
    db.close().await;
    result
}
