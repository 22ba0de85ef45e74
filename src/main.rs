//! `supportdesk`: one binary that serves the support-ticket API and administers the desk.

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = supportdesk::cli::Cli::parse();
    supportdesk::cli::run(cli)
}
