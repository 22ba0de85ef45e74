//! The command line: clear one-line errors, never a panic; and migrations that leave both
//! backends at the same schema.

use std::collections::BTreeSet;
use std::process::Command;

use sqlx::{Connection, Row};

use crate::helpers::{BIN, PgDatabase, TestResult, postgres_ready};

fn run(data_dir: &std::path::Path, args: &[&str]) -> TestResult<(bool, String, String)> {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("DATABASE_URL")
        .env("SUPPORTDESK_DATA_DIR", data_dir)
        .output()?;
    Ok((
        out.status.success(),
        String::from_utf8(out.stdout)?,
        String::from_utf8(out.stderr)?,
    ))
}

#[test]
fn bad_commands_fail_with_one_clear_line_and_never_panic() -> TestResult {
    let dir = tempfile::tempdir()?;
    let cases: &[&[&str]] = &[
        &["user", "create", "--email", "x@example.com"],
        &[
            "user",
            "create",
            "--email",
            "not an email",
            "--password",
            "pw",
        ],
        &[
            "user",
            "create",
            "--email",
            "a@example.com",
            "--password",
            "pw",
            "--role",
            "king",
        ],
        &["apikey", "revoke", "abc"],
        &["apikey", "revoke", "999"],
        &["category", "deactivate", "999"],
        &["tag", "create", "--name", "  "],
        &["token", "create", "--email", "nobody@example.com"],
        &["--database-url", "mysql://localhost/x", "migrate"],
        &["serve", "--bind", "not-an-address"],
        &["no-such-command"],
    ];
    for args in cases {
        let (ok, _, stderr) = run(dir.path(), args)?;
        assert!(!ok, "{args:?} should fail");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.trim().is_empty(), "{args:?} said nothing");
        // The first line says what is wrong; clap may add a usage hint after it.
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        if !stderr.contains("--help") {
            assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        }
    }
    // The same person twice is an error too.
    run(
        dir.path(),
        &[
            "user",
            "create",
            "--email",
            "a@example.com",
            "--password",
            "pw",
        ],
    )?;
    let (ok, _, stderr) = run(
        dir.path(),
        &[
            "user",
            "create",
            "--email",
            "A@example.com",
            "--password",
            "pw",
        ],
    )?;
    assert!(!ok);
    assert!(stderr.contains("exists already"), "{stderr}");
    Ok(())
}

#[test]
fn migrate_is_idempotent_and_the_admin_commands_round_trip() -> TestResult {
    let dir = tempfile::tempdir()?;
    for _ in 0..2 {
        let (ok, stdout, stderr) = run(dir.path(), &["migrate"])?;
        assert!(ok, "{stderr}");
        assert!(stdout.contains("migrations applied"));
    }
    let (ok, stdout, _) = run(
        dir.path(),
        &[
            "category",
            "create",
            "--name",
            "Billing",
            "--description",
            "Money",
        ],
    )?;
    assert!(ok && stdout.contains("created category 1"));
    let (_, stdout, _) = run(dir.path(), &["category", "list"])?;
    assert_eq!(stdout.trim(), "1\tBilling\tMoney\tactive");
    run(dir.path(), &["category", "deactivate", "1"])?;
    let (_, stdout, _) = run(dir.path(), &["category", "list"])?;
    assert_eq!(stdout.trim(), "1\tBilling\tMoney\tinactive");
    let (ok, stdout, _) = run(
        dir.path(),
        &[
            "user",
            "create",
            "--email",
            "ag@example.com",
            "--password",
            "pw",
            "--role",
            "agent",
        ],
    )?;
    assert!(ok && stdout.contains("created agent ag@example.com"));
    let (ok, _, _) = run(
        dir.path(),
        &[
            "user", "update", "1", "--role", "admin", "--active", "false",
        ],
    )?;
    assert!(ok);
    let (_, stdout, _) = run(dir.path(), &["user", "list"])?;
    assert_eq!(stdout.trim(), "1\tag@example.com\tadmin\tinactive");
    let (ok, stdout, _) = run(dir.path(), &["apikey", "create", "--name", "web"])?;
    let key = stdout.lines().last().unwrap_or_default();
    assert!(ok && key.starts_with("sdk_") && key.len() == 68);
    Ok(())
}

/// (table, column) pairs of a migrated database. The search index is the one part stored
/// differently by design (an FTS5 table and its shadow tables; a `tsvector` table), so it is
/// left out of the comparison; the search tests cover both.
async fn sqlite_columns(path: &std::path::Path) -> TestResult<BTreeSet<(String, String)>> {
    let url = format!("sqlite://{}", path.display());
    let mut conn = sqlx::sqlite::SqliteConnection::connect(&url).await?;
    let rows = sqlx::query(
        "SELECT m.name AS t, p.name AS c FROM sqlite_master m JOIN pragma_table_info(m.name) p
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%'
           AND m.name NOT LIKE 'ticket_fts%'",
    )
    .fetch_all(&mut conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("t")?, r.try_get("c")?)))
        .collect()
}

async fn postgres_columns(url: &str) -> TestResult<BTreeSet<(String, String)>> {
    let mut conn = sqlx::postgres::PgConnection::connect(url).await?;
    let rows = sqlx::query(
        "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%'
           AND table_name <> 'ticket_search'",
    )
    .fetch_all(&mut conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("t")?, r.try_get("c")?)))
        .collect()
}

#[tokio::test]
async fn both_backends_end_at_the_same_schema() -> TestResult {
    if !postgres_ready().await? {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let (ok, _, stderr) = run(dir.path(), &["migrate"])?;
    assert!(ok, "{stderr}");
    let sqlite = sqlite_columns(&dir.path().join("supportdesk.db")).await?;

    let pg = PgDatabase::create().await?;
    let out = Command::new(BIN)
        .args(["migrate"])
        .env("DATABASE_URL", &pg.url)
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let postgres = postgres_columns(&pg.url).await?;

    assert!(sqlite.len() > 30, "the schema was read: {sqlite:?}");
    assert_eq!(sqlite, postgres);
    Ok(())
}

#[test]
fn category_and_tag_take_only_their_own_fields() -> TestResult {
    let dir = tempfile::tempdir()?;
    for (args, refused) in [
        (
            &["category", "create", "--name", "B", "--keyword", "k"][..],
            "--keyword",
        ),
        (
            &["tag", "create", "--name", "U", "--description", "d"],
            "--description",
        ),
    ] {
        let (ok, _, stderr) = run(dir.path(), args)?;
        assert!(!ok, "{args:?} was accepted");
        assert!(stderr.contains(refused), "{stderr}");
    }
    let (_, stdout, _) = run(dir.path(), &["category", "list"])?;
    assert_eq!(stdout, "", "nothing was created");
    Ok(())
}

#[test]
fn ids_that_are_not_numbers_and_updates_without_a_change_are_explained() -> TestResult {
    let dir = tempfile::tempdir()?;
    for args in [
        &["category", "deactivate", "abc"][..],
        &["tag", "activate", "x1"],
        &["apikey", "revoke", "first"],
        &["user", "update", "one", "--role", "agent"],
    ] {
        let (ok, _, stderr) = run(dir.path(), args)?;
        assert!(!ok, "{args:?}");
        assert!(stderr.contains("an id is a whole number"), "{stderr}");
        assert!(!stderr.contains("invalid digit"), "{stderr}");
    }
    let (ok, stdout, stderr) = run(dir.path(), &["user", "update", "1"])?;
    assert!(!ok, "an update without a change succeeded: {stdout}");
    assert!(!stdout.contains("updated"), "{stdout}");
    assert!(
        stderr.contains("--role") && stderr.contains("--password"),
        "{stderr}"
    );
    Ok(())
}

#[test]
fn empty_lists_say_so_and_print_no_rows() -> TestResult {
    let dir = tempfile::tempdir()?;
    for (args, said) in [
        (&["category", "list"][..], "no categories"),
        (&["tag", "list"], "no tags"),
        (&["user", "list"], "no people"),
        (&["apikey", "list"], "no API keys"),
    ] {
        let (ok, stdout, stderr) = run(dir.path(), args)?;
        assert!(ok, "{stderr}");
        assert_eq!(stdout, "", "{args:?}");
        assert!(stderr.contains(said), "{args:?}: {stderr}");
    }
    Ok(())
}
