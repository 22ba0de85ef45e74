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

// The request path allocates many small, short-lived values (rows, JSON, log lines); glibc's
// allocator showed up with a fifth of the CPU in the profile (bench/README.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    cli::run(cli)
}
