//! Passwords on the command line's terms: from stdin or a terminal prompt, not only as an
//! argument (which `ps` and the shell history see), and the README's recovery of lost
//! first-start credentials.

use std::process::Command;

use crate::helpers::{BIN, Backend, TestApp, TestResult, send};

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

/// The README's recovery of lost first-start credentials: a new password for person 1 and a new
/// key of scope `all` reach the staff routes.
async fn lost_first_start_credentials_are_replaced_from_the_command_line(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let reset = cli_with_stdin(
        &app,
        &["user", "update", "1", "--password-stdin"],
        "new admin pw\n",
    )?;
    assert!(
        reset.status.success(),
        "{}",
        String::from_utf8_lossy(&reset.stderr)
    );
    let key = app.cli_ok(&["apikey", "create", "--name", "admin", "--scope", "all"])?;
    assert_ne!(key, app.apikey);
    let signed_in = send(
        app.client
            .post(app.url("/api/v1/auth/token/"))
            .header("apikey", &key)
            .form(&[("email", "admin@localhost"), ("password", "new admin pw")]),
    )
    .await?;
    let token = signed_in.assert_ok()["access_token"]
        .as_str()
        .ok_or("no token")?
        .to_owned();
    let users = send(
        app.client
            .get(app.url("/api/v1/admin/users/"))
            .header("apikey", &key)
            .bearer_auth(&token),
    )
    .await?;
    users.assert_ok();
    Ok(())
}

on_both_backends!(
    lost_first_start_credentials_are_replaced_from_the_command_line,
    passwords_come_from_stdin_or_a_terminal_prompt_not_only_the_command_line,
);
