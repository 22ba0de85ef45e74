//! The command line: clear one-line errors, never a panic; and migrations that leave both
//! backends at the same schema.

use std::collections::BTreeSet;
use std::process::Command;

use sqlx::{Connection, Row};

use crate::helpers::{BIN, Backend, PgDatabase, TestApp, TestResult, postgres_ready, send};

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

/// (table, column) pairs of a migrated database.
async fn sqlite_columns(path: &std::path::Path) -> TestResult<BTreeSet<(String, String)>> {
    let url = format!("sqlite://{}", path.display());
    let mut conn = sqlx::sqlite::SqliteConnection::connect(&url).await?;
    let rows = sqlx::query(
        "SELECT m.name AS t, p.name AS c FROM sqlite_master m JOIN pragma_table_info(m.name) p
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%'",
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
         WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%'",
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

/// Runs a command of `app` with `input` on stdin.
fn cli_with_stdin(app: &TestApp, args: &[&str], input: &str) -> TestResult<std::process::Output> {
    use std::io::Write;
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .env("SUPPORTDESK_DATA_DIR", app.data_dir.path());
    if let Some(pg) = &app.pg {
        command.env("DATABASE_URL", &pg.url);
    }
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(input.as_bytes())?;
    Ok(child.wait_with_output()?)
}

async fn signs_in(app: &TestApp, email: &str, password: &str) -> TestResult<bool> {
    let answer = send(
        app.client
            .post(app.url("/api/v1/auth/token/"))
            .header("apikey", &app.apikey)
            .form(&[("email", email), ("password", password)]),
    )
    .await?;
    Ok(answer.status.as_u16() == 200)
}

async fn passwords_come_from_stdin_or_a_terminal_prompt_not_only_the_command_line(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let made = cli_with_stdin(
        &app,
        &[
            "user",
            "create",
            "--email",
            "pia@example.com",
            "--password-stdin",
        ],
        "  two words \n",
    )?;
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    // The line ending goes, everything else is the password.
    assert!(signs_in(&app, "pia@example.com", "  two words ").await?);

    let id = String::from_utf8(made.stdout)?
        .rsplit(' ')
        .next()
        .map(|w| w.trim().to_owned())
        .ok_or("no id")?;
    let reset = cli_with_stdin(
        &app,
        &["user", "update", &id, "--password-stdin"],
        "fresh pw\r\n",
    )?;
    assert!(
        reset.status.success(),
        "{}",
        String::from_utf8_lossy(&reset.stderr)
    );
    assert!(signs_in(&app, "pia@example.com", "fresh pw").await?);
    assert!(!signs_in(&app, "pia@example.com", "  two words ").await?);

    // `--password` without a value asks at a terminal; without one it says what to do.
    for args in [
        &["user", "update", &id, "--password"][..],
        &["user", "create", "--email", "quinn@example.com"],
    ] {
        let asked = cli_with_stdin(&app, args, "ignored\n")?;
        assert!(!asked.status.success(), "{args:?}");
        let stderr = String::from_utf8(asked.stderr)?;
        assert!(stderr.contains("--password-stdin"), "{stderr}");
    }
    assert!(signs_in(&app, "pia@example.com", "fresh pw").await?);

    // At a terminal (util-linux `script` gives the command one), it asks twice.
    let at_terminal = |command: &str, typed: &str| -> TestResult<std::process::Output> {
        use std::io::Write;
        let mut script = Command::new("script");
        script
            .args(["-qec", &format!("{BIN} {command}"), "/dev/null"])
            .env_remove("DATABASE_URL")
            .env("SUPPORTDESK_DATA_DIR", app.data_dir.path());
        if let Some(pg) = &app.pg {
            script.env("DATABASE_URL", &pg.url);
        }
        let mut child = script
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()?;
        child
            .stdin
            .take()
            .ok_or("no stdin")?
            .write_all(typed.as_bytes())?;
        Ok(child.wait_with_output()?)
    };
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("SKIPPED: no `script` (util-linux) here; the terminal prompt was not tried");
        return Ok(());
    }
    let asked = at_terminal(
        "user create --email rui@example.com",
        "at the tty\nat the tty\n",
    )?;
    let shown = String::from_utf8_lossy(&asked.stdout);
    assert!(asked.status.success(), "{shown}");
    assert!(shown.contains("Password (again): "), "{shown}");
    assert!(signs_in(&app, "rui@example.com", "at the tty").await?);
    let differ = at_terminal(&format!("user update {id} --password"), "one\nother\n")?;
    assert!(!differ.status.success());
    assert!(String::from_utf8_lossy(&differ.stdout).contains("the two passwords differ"));
    assert!(signs_in(&app, "pia@example.com", "fresh pw").await?);
    Ok(())
}

async fn duplicate_names_are_refused_by_the_cli_and_the_admin_api(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let admin = app.person("boss@example.com", "admin")?;
    app.category("Billing")?;
    app.tag("Urgent")?;
    for (list, field, name) in [
        ("category", "category", "Billing"),
        ("tag", "tag", "Urgent"),
    ] {
        let again = app.cli(&[list, "create", "--name", &format!(" {name} ")])?;
        assert!(
            !again.status.success(),
            "a second {list} {name} was created"
        );
        let stderr = String::from_utf8(again.stderr)?;
        assert_eq!(
            stderr.trim(),
            format!("error: a {list} named \"{name}\" exists already")
        );

        let plural = if list == "category" {
            "categories"
        } else {
            "tags"
        };
        let path = format!("/api/v1/admin/{plural}/");
        let message = format!("A {list} with this name already exists.");
        send(app.post(&path, &admin).form(&[(field, name)]))
            .await?
            .assert_errors(400, serde_json::json!({ field: [message] }));
        // Renaming another entry to the taken name is refused the same way.
        let other = send(app.post(&path, &admin).form(&[(field, "Other")])).await?;
        let other_id = other.assert_ok()[field]["id"].as_i64().ok_or("no id")?;
        send(
            app.post(&format!("{path}{other_id}/"), &admin)
                .form(&[(field, name)]),
        )
        .await?
        .assert_errors(400, serde_json::json!({ field: [message] }));
    }
    let listed = String::from_utf8(app.cli(&["category", "list"])?.stdout)?;
    assert_eq!(listed.matches("Billing").count(), 1, "{listed}");
    Ok(())
}

/// A desk that had duplicate names before the unique index keeps every entry: the later
/// duplicates are renamed, not lost.
async fn existing_duplicate_names_are_renamed_by_the_unique_migration(
    backend: Backend,
) -> TestResult {
    let dir = tempfile::tempdir()?;
    let pg = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(PgDatabase::create().await?),
    };
    let migrate = || -> TestResult<std::process::Output> {
        let mut command = Command::new(BIN);
        command
            .arg("migrate")
            .env_remove("DATABASE_URL")
            .env("SUPPORTDESK_DATA_DIR", dir.path());
        if let Some(pg) = &pg {
            command.env("DATABASE_URL", &pg.url);
        }
        Ok(command.output()?)
    };
    assert!(migrate()?.status.success());
    // Back to the state before version 6, with a duplicate in each list.
    let undo = [
        "DROP INDEX categories_name_unique",
        "DROP INDEX tags_name_unique",
        "DELETE FROM _sqlx_migrations WHERE version = 6",
        "INSERT INTO categories (name, description, active, created_at) VALUES ('Billing', 'a', 1, 0)",
        "INSERT INTO categories (name, description, active, created_at) VALUES ('Billing', 'b', 1, 0)",
        "INSERT INTO tags (name, keyword, active, created_at) VALUES ('Urgent', 'a', 1, 0)",
        "INSERT INTO tags (name, keyword, active, created_at) VALUES ('Urgent', 'b', 0, 0)",
    ];
    let names_sql = "SELECT name FROM categories UNION ALL SELECT name FROM tags";
    let names: Vec<String> = match &pg {
        None => {
            let url = format!("sqlite://{}", dir.path().join("supportdesk.db").display());
            let mut conn = sqlx::sqlite::SqliteConnection::connect(&url).await?;
            for sql in undo {
                sqlx::query(sql).execute(&mut conn).await?;
            }
            conn.close().await?;
            let out = migrate()?;
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let mut conn = sqlx::sqlite::SqliteConnection::connect(&url).await?;
            let rows = sqlx::query(names_sql).fetch_all(&mut conn).await?;
            rows.iter()
                .map(|r| r.try_get("name"))
                .collect::<Result<_, _>>()?
        }
        Some(pg) => {
            let mut conn = sqlx::postgres::PgConnection::connect(&pg.url).await?;
            for sql in undo {
                sqlx::query(sql).execute(&mut conn).await?;
            }
            conn.close().await?;
            let out = migrate()?;
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let mut conn = sqlx::postgres::PgConnection::connect(&pg.url).await?;
            let rows = sqlx::query(names_sql).fetch_all(&mut conn).await?;
            rows.iter()
                .map(|r| r.try_get("name"))
                .collect::<Result<_, _>>()?
        }
    };
    let mut names = names;
    names.sort();
    assert_eq!(names, ["Billing", "Billing (2)", "Urgent", "Urgent (2)"]);
    Ok(())
}

on_both_backends!(
    passwords_come_from_stdin_or_a_terminal_prompt_not_only_the_command_line,
    duplicate_names_are_refused_by_the_cli_and_the_admin_api,
    existing_duplicate_names_are_renamed_by_the_unique_migration,
);
