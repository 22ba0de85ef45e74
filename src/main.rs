//! `supportdesk`: one binary that serves the support-ticket API and administers the desk.

use std::process::ExitCode;

use clap::Parser;

mod app;
mod cli;
mod config;
mod domain;
mod http;
mod services;
mod store;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    cli::run(cli)
}
