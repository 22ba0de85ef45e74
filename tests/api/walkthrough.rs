//! The README's walk-through, run as written by `scripts/readme-walkthrough` against the binary
//! under test, on each backend: a README command that stops working fails the suite.

use std::process::Command;

use crate::helpers::{BIN, Backend, PgDatabase, TestResult};

async fn readme_walkthrough_runs_as_written(backend: Backend) -> TestResult {
    let pg = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(PgDatabase::create().await?),
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/readme-walkthrough");
    let mut command = Command::new("bash");
    command
        .arg(script)
        .env("SUPPORTDESK_BIN", BIN)
        .env_remove("SUPPORTDESK_WALKTHROUGH_DATABASE_URL");
    if let Some(pg) = &pg {
        command.env("SUPPORTDESK_WALKTHROUGH_DATABASE_URL", &pg.url);
    }
    let out = command.output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("README walk-through passed: 2 blocks"),
        "{stdout}"
    );
    Ok(())
}

on_both_backends!(readme_walkthrough_runs_as_written);
