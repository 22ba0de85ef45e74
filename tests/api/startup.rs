//! Starting the service: configuration and every listener are checked before the first start
//! creates and prints its administrator and API key, and a failed start says in one line what
//! failed (the path or host) and why.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{BIN, Backend, PgDatabase, TestResult, postgres_ready};

/// What a finished command showed.
struct Finished {
    ok: bool,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs the binary and waits at most 30 s for it to exit (a server that wrongly started is
/// killed and reported as such).
fn finish(command: &mut Command) -> TestResult<Finished> {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            return Err("the command did not exit within 30 s (did the server start?)".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = started.elapsed();
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut stdout)?;
    }
    if let Some(mut err) = child.stderr.take() {
        err.read_to_string(&mut stderr)?;
    }
    Ok(Finished {
        ok: status.success(),
        stdout,
        stderr,
        took,
    })
}

/// The binary against a data directory and, on PostgreSQL, a database of its own.
fn desk(data_dir: &Path, pg: Option<&PgDatabase>, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .env("SUPPORTDESK_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn");
    if let Some(pg) = pg {
        command.env("DATABASE_URL", &pg.url);
    }
    command
}

async fn database_for(backend: Backend) -> TestResult<Option<PgDatabase>> {
    Ok(match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(PgDatabase::create().await?),
    })
}

#[track_caller]
fn assert_one_line_naming(finished: &Finished, needles: &[&str]) {
    let stderr = finished.stderr.trim();
    assert!(!finished.ok, "it should fail; stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    for needle in needles {
        assert!(
            stderr.to_lowercase().contains(&needle.to_lowercase()),
            "{needle:?} in {stderr}"
        );
    }
}

/// A start that fails for its listeners shows nothing and creates nobody, so a rerun that
/// succeeds is still the first start and shows the credentials.
async fn a_start_that_cannot_listen_creates_and_shows_nothing(backend: Backend) -> TestResult {
    let pg = database_for(backend).await?;
    let dir = tempfile::tempdir()?;
    let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
    let taken_at = taken.local_addr()?.to_string();

    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["serve", "--bind", &taken_at],
            vec![&taken_at, "in use"],
        ),
        (
            vec!["serve", "--bind", "127.0.0.1:0", "--metrics", &taken_at],
            vec!["metrics", &taken_at, "in use"],
        ),
        (
            vec!["serve", "--bind", "127.0.0.1:0", "--metrics", "yes please"],
            vec!["--metrics", "yes please"],
        ),
        (
            vec![
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--cors-origins",
                "bad\norigin",
            ],
            vec!["CORS origin"],
        ),
        (
            vec![
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--jwt-public-key-file",
                "/nonexistent/key.pem",
            ],
            vec!["/nonexistent/key.pem", "no such file"],
        ),
    ];
    for (args, needles) in &cases {
        let failed = finish(&mut desk(dir.path(), pg.as_ref(), args))?;
        assert_one_line_naming(&failed, needles);
        assert_eq!(failed.stdout, "", "{args:?} showed something");
        let people = finish(&mut desk(dir.path(), pg.as_ref(), &["user", "list"]))?;
        assert!(people.ok, "{}", people.stderr);
        assert_eq!(people.stdout, "", "{args:?} created someone");
    }

    // The rerun is the first start: it shows the administrator and the key.
    let mut server = desk(dir.path(), pg.as_ref(), &["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = server.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut shown = Vec::new();
    let listening = loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if line.starts_with("listening on ") => break true,
            Ok(line) => shown.push(line),
            Err(_) => break false,
        }
    };
    let _ = server.kill();
    let _ = server.wait();
    assert!(listening, "the rerun did not start: {shown:?}");
    assert_eq!(
        shown.first().map(String::as_str),
        Some("First start: created administrator admin@localhost")
    );
    assert!(shown.iter().any(|l| l.trim().starts_with("apikey: sdk_")));
    drop(taken);
    Ok(())
}

/// The attachment directory is checked at start, not at the first upload.
async fn an_unwritable_attachment_directory_is_named_at_start(backend: Backend) -> TestResult {
    let pg = database_for(backend).await?;
    let dir = tempfile::tempdir()?;
    let attachments = dir.path().join("attachments");
    std::fs::create_dir(&attachments)?;
    let mut command = desk(dir.path(), pg.as_ref(), &["serve", "--bind", "127.0.0.1:0"]);
    as_unprivileged(&mut command, dir.path(), &[&attachments])?;
    let failed = finish(&mut command)?;
    assert_one_line_naming(
        &failed,
        &[
            "attachment directory",
            &attachments.display().to_string(),
            "permission denied",
        ],
    );
    assert_eq!(failed.stdout, "");
    Ok(())
}

on_both_backends!(
    a_start_that_cannot_listen_creates_and_shows_nothing,
    an_unwritable_attachment_directory_is_named_at_start,
);

/// Makes `read_only` unwritable for the command: as root (who ignores permissions) the command
/// runs as `nobody`, the data directory writable by it and `read_only` not.
fn as_unprivileged(command: &mut Command, data_dir: &Path, read_only: &[&Path]) -> TestResult {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::os::unix::process::CommandExt;
    let set = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    };
    // The process's own /proc entry is owned by its effective user.
    if std::fs::metadata("/proc/self")?.uid() == 0 {
        // HOME too: PostgreSQL's client looks for a password file there.
        command.uid(65534).gid(65534).env("HOME", data_dir);
        set(data_dir, 0o777)?;
    }
    for path in read_only {
        set(path, 0o555)?;
    }
    Ok(())
}

#[test]
fn a_read_only_data_directory_names_the_path_and_the_permission() -> TestResult {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    std::fs::create_dir(&data)?;
    let mut command = desk(&data, None, &["user", "list"]);
    as_unprivileged(&mut command, dir.path(), &[&data])?;
    let failed = finish(&mut command)?;
    assert_one_line_naming(
        &failed,
        &[
            "data directory",
            &data.display().to_string(),
            "permission denied",
        ],
    );
    assert!(!failed.stderr.contains("unable to open database file"));
    Ok(())
}

/// A port nothing listens on.
fn closed_port() -> TestResult<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

#[test]
fn postgres_on_a_closed_port_says_connection_refused_at_once() -> TestResult {
    let dir = tempfile::tempdir()?;
    let port = closed_port()?;
    let url = format!("postgres://desk@127.0.0.1:{port}/desk?password=hunter2");
    for args in [&["migrate"][..], &["serve", "--bind", "127.0.0.1:0"]] {
        let failed = finish(desk(dir.path(), None, args).env("DATABASE_URL", &url))?;
        assert_one_line_naming(
            &failed,
            &[&format!("127.0.0.1:{port}"), "connection refused"],
        );
        assert!(failed.took < Duration::from_secs(3), "{:?}", failed.took);
        // The query-string password is masked like the userinfo one.
        assert!(!failed.stderr.contains("hunter2"), "{}", failed.stderr);
        assert!(failed.stderr.contains("password=***"), "{}", failed.stderr);
    }
    Ok(())
}

#[test]
fn a_bad_database_url_is_described_once() -> TestResult {
    let dir = tempfile::tempdir()?;
    let failed = finish(desk(dir.path(), None, &["migrate"]).env(
        "DATABASE_URL",
        "postgres://desk:hunter2@127.0.0.1:port/desk",
    ))?;
    assert_one_line_naming(&failed, &["invalid database URL", "invalid port number"]);
    assert_eq!(
        failed.stderr.matches("invalid port number").count(),
        1,
        "{}",
        failed.stderr
    );
    assert!(!failed.stderr.contains("hunter2"), "{}", failed.stderr);
    Ok(())
}

#[tokio::test]
async fn an_unknown_postgres_role_is_described_once() -> TestResult {
    if !postgres_ready().await? {
        return Ok(());
    }
    let pg = PgDatabase::create().await?;
    let (base, db) = pg.url.rsplit_once('/').ok_or("no database in the URL")?;
    let host = base.rsplit_once('@').map_or(base, |(_, host)| host);
    let url = format!("postgres://no_such_role_x:pw@{host}/{db}");
    let dir = tempfile::tempdir()?;
    let failed = finish(desk(dir.path(), None, &["migrate"]).env("DATABASE_URL", &url))?;
    assert_one_line_naming(&failed, &["role \"no_such_role_x\" does not exist"]);
    assert_eq!(failed.stderr.matches("does not exist").count(), 1);
    assert!(!failed.stderr.contains("at line"), "{}", failed.stderr);
    Ok(())
}

#[test]
fn help_never_shows_the_database_url_value() -> TestResult {
    let dir = tempfile::tempdir()?;
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["user", "create", "--help"],
    ] {
        let shown = finish(
            desk(dir.path(), None, args).env("DATABASE_URL", "postgres://desk:hunter2@db/desk"),
        )?;
        assert!(shown.ok, "{}", shown.stderr);
        assert!(shown.stdout.contains("DATABASE_URL"), "{}", shown.stdout);
        assert!(!shown.stdout.contains("hunter2"), "{}", shown.stdout);
        assert!(
            !shown.stdout.contains("postgres://desk"),
            "{}",
            shown.stdout
        );
    }
    Ok(())
}
