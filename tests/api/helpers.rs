//! `TestApp`: the real router on a free port of 127.0.0.1, against a fresh data directory, with
//! helpers to make fixtures through the desk's own services and to call it over HTTP.
//!
//! By default the server runs in-process (`supportdesk::app::start` on a runtime of its own,
//! so the test's runtime stays free for the client). Tests of what only a process shows (the
//! command line, SIGTERM, its log, its memory, raw bytes on the wire) start the real binary
//! with [`TestApp::spawn_process`]; a [`TestApp::sibling`] is always a second process.

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use clap::{CommandFactory, Parser};
use supportdesk::cli::Cli;
use supportdesk::domain::catalog::Catalog;
use supportdesk::domain::people::Role;
use supportdesk::store::{Db, accounts, catalog};

use sqlx::Connection;

use reqwest::{Client, Method, RequestBuilder, StatusCode};
use serde_json::Value;
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_supportdesk");

pub type TestResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Which database a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The server PostgreSQL tests create their databases in.
pub fn postgres_admin_url() -> String {
    std::env::var("SUPPORTDESK_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Whether the PostgreSQL half can run here. Where PostgreSQL cannot be reached, the test says so
/// loudly and is skipped, unless `SUPPORTDESK_REQUIRE_POSTGRES=1` (as in CI), where that fails.
pub async fn postgres_ready() -> TestResult<bool> {
    let url = postgres_admin_url();
    let reachable = tokio::time::timeout(
        Duration::from_secs(5),
        sqlx::postgres::PgConnection::connect(&url),
    )
    .await
    .is_ok_and(|c| c.is_ok());
    if reachable {
        return Ok(true);
    }
    if std::env::var("SUPPORTDESK_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
        return Err(format!("PostgreSQL is required but unreachable at {url}").into());
    }
    eprintln!("SKIPPED: PostgreSQL is unreachable at {url}; this PostgreSQL test did not run");
    Ok(false)
}

/// A database of its own for one PostgreSQL test, dropped when the last server using it stops.
pub struct PgDatabase {
    pub url: String,
    name: String,
}

impl PgDatabase {
    pub async fn create() -> TestResult<Self> {
        let admin = postgres_admin_url();
        let name = format!("sdtest_{}", hex_id());
        let mut conn = sqlx::postgres::PgConnection::connect(&admin).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        Ok(Self {
            url: format!("{base}/{name}"),
            name,
        })
    }

    /// Runs one statement on the test database itself (terminating backends, counting rows).
    pub async fn execute(&self, sql: String) -> TestResult<u64> {
        let mut conn = sqlx::postgres::PgConnection::connect(&self.url).await?;
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Ok(done.rows_affected())
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin = postgres_admin_url();
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        // Drop cannot await; a short-lived runtime on its own thread does the clean-up.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                if let Ok(mut conn) = sqlx::postgres::PgConnection::connect(&admin).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

fn hex_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}{:x}", std::process::id(), nanos)
}

/// Declares each listed `async fn name(backend: Backend) -> TestResult` as two tests,
/// `sqlite::name` and `postgres::name`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() -> $crate::helpers::TestResult {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() -> $crate::helpers::TestResult {
                    if !$crate::helpers::postgres_ready().await? {
                        return Ok(());
                    }
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            )*
        }
    };
}

pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub origin: String,
    pub apikey: String,
    pub admin_email: String,
    pub admin_password: String,
    pub client: Client,
    pub data_dir: Arc<TempDir>,
    pub backend: Backend,
    /// The PostgreSQL database, shared with sibling servers.
    pub pg: Option<Arc<PgDatabase>>,
    /// Where the server writes its log (a process's only).
    pub log_path: PathBuf,
    env: Vec<(String, String)>,
    /// The server process, when the server is one.
    child: Option<Child>,
    /// The runtime fixtures are made on (and an in-process server runs on), with its database.
    desk: Desk,
    /// Stops an in-process server.
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// A runtime of the test's own with a pool on the test's database: fixtures are made there
/// through `services::`/`store::`, so the (synchronous) fixture helpers can wait for them
/// without blocking the runtime the test's client runs on.
struct Desk {
    runtime: Option<tokio::runtime::Runtime>,
    db: Option<Db>,
}

impl Desk {
    fn new() -> TestResult<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        Ok(Self {
            runtime: Some(runtime),
            db: None,
        })
    }

    /// Runs `future` on the desk's runtime and waits for it.
    fn run<T, F>(&self, future: F) -> TestResult<T>
    where
        T: Send + 'static,
        F: Future<Output = TestResult<T>> + Send + 'static,
    {
        let runtime = self.runtime.as_ref().ok_or("no runtime")?;
        let (tx, rx) = mpsc::channel();
        runtime.spawn(async move {
            let _ = tx.send(future.await);
        });
        rx.recv_timeout(Duration::from_secs(60))?
    }

    fn db(&self) -> TestResult<Db> {
        self.db.clone().ok_or_else(|| "no database".into())
    }
}

impl Drop for Desk {
    fn drop(&mut self) {
        self.db = None;
        if let Some(runtime) = self.runtime.take() {
            // Dropped from inside the test's runtime: a blocking shutdown is not allowed there.
            runtime.shutdown_background();
        }
    }
}

/// The server's command line for `env`: each setting given as the flag that reads the same
/// environment variable, so an in-process server is configured exactly as the binary is.
fn serve_args(env: &[(String, String)]) -> TestResult<Vec<String>> {
    let command = Cli::command();
    let serve = command.find_subcommand("serve").ok_or("no serve command")?;
    let mut args: Vec<String> = vec!["supportdesk".into(), "serve".into()];
    args.extend(["--bind".into(), "127.0.0.1:0".into()]);
    for (name, value) in env {
        if name == "RUST_LOG" {
            // Logging is the process's; an in-process server logs nowhere.
            continue;
        }
        if name.starts_with("AWS_") {
            // Read by object storage from the process's environment, not a flag: tests that
            // use S3 run their servers as processes (`spawn_process_with`).
            continue;
        }
        let arg = command
            .get_arguments()
            .chain(serve.get_arguments())
            .find(|a| a.get_env().is_some_and(|e| e == name.as_str()))
            .ok_or_else(|| format!("no flag reads {name}"))?;
        let long = arg
            .get_long()
            .ok_or_else(|| format!("{name} has no long flag"))?;
        if arg.get_action().takes_values() {
            args.push(format!("--{long}={value}"));
        } else if ["true", "1", "yes", "on"].contains(&value.as_str()) {
            args.push(format!("--{long}"));
        }
    }
    Ok(args)
}

/// A signed-in person.
#[derive(Clone)]
pub struct Person {
    pub id: i64,
    pub email: String,
    pub token: String,
}

/// An answer: status, headers and the parsed envelope (or raw bytes when it is not JSON).
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub bytes: Vec<u8>,
}

impl Answer {
    /// The messages under one field of `errors`.
    pub fn errors(&self, field: &str) -> Vec<String> {
        self.body["errors"][field]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asserts the whole error envelope: status, and exactly these messages per field.
    #[track_caller]
    pub fn assert_errors(&self, status: u16, expected: Value) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.body["status_code"], status, "body: {}", self.body);
        assert_eq!(self.body["errors"], expected, "body: {}", self.body);
        assert_eq!(
            self.body["data"],
            serde_json::json!({}),
            "body: {}",
            self.body
        );
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "body: {}", self.body);
        assert_eq!(self.body["status_code"], 200);
        assert_eq!(self.body["errors"], serde_json::json!({}));
        &self.body["data"]
    }
}

impl TestApp {
    /// A server with the default settings.
    pub async fn spawn(backend: Backend) -> TestResult<Self> {
        Self::spawn_with(backend, &[]).await
    }

    /// A server with extra environment settings (`SUPPORTDESK_OPEN_TICKET_LIMIT`, ...).
    pub async fn spawn_with(backend: Backend, settings: &[(&str, &str)]) -> TestResult<Self> {
        let (data_dir, pg, env) = Self::prepare(backend, settings).await?;
        // `SUPPORTDESK_TEST_PROCESSES=1` runs every server as a process, to compare the two.
        if std::env::var("SUPPORTDESK_TEST_PROCESSES").is_ok_and(|v| v == "1") {
            let mut app = Self::start(backend, data_dir, pg, env, None)?;
            app.connect_desk()?;
            return Ok(app);
        }
        Self::start_in_process(backend, data_dir, pg, env)
    }

    /// The real binary as a server process, for what only a process shows (SIGTERM, its log,
    /// its memory, raw bytes on the wire).
    pub async fn spawn_process(backend: Backend) -> TestResult<Self> {
        Self::spawn_process_with(backend, &[]).await
    }

    pub async fn spawn_process_with(
        backend: Backend,
        settings: &[(&str, &str)],
    ) -> TestResult<Self> {
        let (data_dir, pg, env) = Self::prepare(backend, settings).await?;
        let mut app = Self::start(backend, data_dir, pg, env, None)?;
        app.connect_desk()?;
        Ok(app)
    }

    /// A fresh data directory (and PostgreSQL database), and the settings naming them.
    async fn prepare(
        backend: Backend,
        settings: &[(&str, &str)],
    ) -> TestResult<(Arc<TempDir>, Option<Arc<PgDatabase>>, Vec<(String, String)>)> {
        let data_dir = Arc::new(tempfile::tempdir()?);
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(Arc::new(PgDatabase::create().await?)),
        };
        let mut env: Vec<(String, String)> = vec![(
            "SUPPORTDESK_DATA_DIR".to_owned(),
            data_dir.path().display().to_string(),
        )];
        if let Some(pg) = &pg {
            env.push(("DATABASE_URL".to_owned(), pg.url.clone()));
        }
        env.extend(
            settings
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Ok((data_dir, pg, env))
    }

    /// The server in this process: the real router on a real listener, on the desk's runtime.
    fn start_in_process(
        backend: Backend,
        data_dir: Arc<TempDir>,
        pg: Option<Arc<PgDatabase>>,
        env: Vec<(String, String)>,
    ) -> TestResult<Self> {
        let cli = Cli::try_parse_from(serve_args(&env)?)?;
        let (store, config) = cli.into_serve().ok_or("not the serve command")?;
        let mut desk = Desk::new()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (started, address) = desk.run(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let address = listener.local_addr()?;
            let shutdown = async move {
                let _ = stopped.await;
            };
            let started = supportdesk::app::start(&store, &config, listener, shutdown)
                .await
                .map_err(|e| format!("{e:#}"))?;
            Ok((started, address))
        })?;
        let first = started
            .first_start
            .ok_or("the first start created no administrator")?;
        desk.db = Some(started.db);
        Ok(Self {
            origin: format!("http://{address}"),
            apikey: first.api_key,
            admin_email: first.admin_email,
            admin_password: first.admin_password,
            client: test_client()?,
            log_path: data_dir.path().join("in-process.log"),
            data_dir,
            backend,
            pg,
            env,
            child: None,
            desk,
            stop: Some(stop),
        })
    }

    /// The desk's own pool on the database a server process uses, for fixtures.
    fn connect_desk(&mut self) -> TestResult {
        let cli = Cli::try_parse_from(serve_args(&self.env)?)?;
        let (store, _) = cli.into_serve().ok_or("not the serve command")?;
        let db = self.desk.run(async move {
            Db::connect(&store)
                .await
                .map_err(|e| format!("{e:#}").into())
        })?;
        self.desk.db = Some(db);
        Ok(())
    }

    /// A second server process on the same database and attachment directory.
    pub fn sibling(&self) -> TestResult<Self> {
        let mut sibling = Self::start(
            self.backend,
            Arc::clone(&self.data_dir),
            self.pg.clone(),
            self.env.clone(),
            Some(self),
        )?;
        sibling.connect_desk()?;
        Ok(sibling)
    }

    /// A second server process on the same database and data directory, with extra settings.
    pub fn sibling_with(&self, settings: &[(String, String)]) -> TestResult<Self> {
        let mut env = self.env.clone();
        env.extend(settings.iter().cloned());
        Self::start(
            self.backend,
            Arc::clone(&self.data_dir),
            self.pg.clone(),
            env,
            Some(self),
        )
    }

    fn start(
        backend: Backend,
        data_dir: Arc<TempDir>,
        pg: Option<Arc<PgDatabase>>,
        env: Vec<(String, String)>,
        first: Option<&TestApp>,
    ) -> TestResult<Self> {
        // The server's log goes to a file of the test's own, shown when the test fails.
        let log_path = data_dir.path().join(format!("server-{}.log", hex_id()));
        let log = std::fs::File::create(&log_path)?;
        let mut command = Command::new(BIN);
        command
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        let mut child = command.spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;

        // Readiness: the server prints its address once it listens; no sleeping.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut apikey = first.map(|f| f.apikey.clone());
        let mut admin_email = first.map(|f| f.admin_email.clone()).unwrap_or_default();
        let mut admin_password = first.map(|f| f.admin_password.clone()).unwrap_or_default();
        let origin = loop {
            let line = match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => line,
                Err(_) => {
                    let _ = child.kill();
                    return Err("server did not start within 60 s".into());
                }
            };
            if let Some(key) = line.trim().strip_prefix("apikey: ") {
                apikey = Some(key.to_owned());
            } else if let Some(pw) = line.trim().strip_prefix("password: ") {
                admin_password = pw.to_owned();
            } else if let Some(email) = line.strip_prefix("First start: created administrator ") {
                admin_email = email.trim().to_owned();
            } else if let Some(addr) = line.strip_prefix("listening on ") {
                break addr.trim().to_owned();
            }
        };
        let apikey = match apikey {
            Some(key) => key,
            None => {
                let _ = child.kill();
                return Err("the first start printed no API key".into());
            }
        };
        let desk = Desk::new()?;
        Ok(Self {
            origin,
            apikey,
            admin_email,
            admin_password,
            client: test_client()?,
            data_dir,
            backend,
            pg,
            log_path,
            env,
            child: Some(child),
            desk,
            stop: None,
        })
    }

    /// Runs an administration command against the same database.
    pub fn cli(&self, args: &[&str]) -> TestResult<Output> {
        Ok(Command::new(BIN)
            .args(args)
            .env_remove("DATABASE_URL")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()?)
    }

    /// The id of the API key named `name`.
    pub fn apikey_id(&self, name: &str) -> TestResult<String> {
        let db = self.desk.db()?;
        let name = name.to_owned();
        self.desk.run(async move {
            let keys = accounts::list_api_keys(&db).await?;
            let key = keys
                .iter()
                .find(|k| k.name == name)
                .ok_or_else(|| format!("no key named {name}"))?;
            Ok(key.id.to_string())
        })
    }

    /// Runs a command that must succeed; returns its last line of output.
    pub fn cli_ok(&self, args: &[&str]) -> TestResult<String> {
        let out = self.cli(args)?;
        if !out.status.success() {
            return Err(
                format!("{args:?} failed: {}", String::from_utf8_lossy(&out.stderr)).into(),
            );
        }
        let stdout = String::from_utf8(out.stdout)?;
        Ok(stdout.lines().last().unwrap_or_default().to_owned())
    }

    /// Creates a person with a role (password `secret-pw`) and gives them a token.
    pub fn person(&self, email: &str, role: &str) -> TestResult<Person> {
        let db = self.desk.db()?;
        let role: Role = role.parse()?;
        let email = email.to_owned();
        self.desk.run(async move {
            let id = supportdesk::services::accounts::create_user(&db, &email, "secret-pw", role)
                .await?;
            let token = supportdesk::services::tokens::issue_access_token(&db, id, 86_400).await?;
            Ok(Person { id, email, token })
        })
    }

    /// Runs `work` on a pool of the test's database, for what no route shows (the outbox's
    /// leases, say), and waits for it.
    pub fn with_db<T, Fut>(&self, work: impl FnOnce(Db) -> Fut) -> TestResult<T>
    where
        T: Send + 'static,
        Fut: Future<Output = TestResult<T>> + Send + 'static,
    {
        let db = self.desk.db()?;
        self.desk.run(work(db))
    }

    pub fn customer(&self, email: &str) -> TestResult<Person> {
        self.person(email, "customer")
    }

    fn catalog_entry(&self, which: Catalog, name: &str, detail: &str) -> TestResult<i64> {
        let db = self.desk.db()?;
        let (name, detail) = (name.to_owned(), detail.to_owned());
        self.desk
            .run(async move { Ok(catalog::create(&db, which, &name, &detail).await?) })
    }

    /// Creates a category; returns its id.
    pub fn category(&self, name: &str) -> TestResult<i64> {
        self.catalog_entry(Catalog::Categories, name, "about it")
    }

    /// Creates a tag; returns its id.
    pub fn tag(&self, name: &str) -> TestResult<i64> {
        self.catalog_entry(Catalog::Tags, name, &name.to_lowercase())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// A request with the API key and, when given, the person's token.
    pub fn request(&self, method: Method, path: &str, who: Option<&Person>) -> RequestBuilder {
        let mut builder = self
            .client
            .request(method, self.url(path))
            .header("apikey", &self.apikey);
        if let Some(person) = who {
            builder = builder.bearer_auth(&person.token);
        }
        builder
    }

    pub fn get(&self, path: &str, who: &Person) -> RequestBuilder {
        self.request(Method::GET, path, Some(who))
    }

    pub fn post(&self, path: &str, who: &Person) -> RequestBuilder {
        self.request(Method::POST, path, Some(who))
    }

    /// A valid create-ticket request (urlencoded), not yet sent.
    pub fn create_request(&self, who: &Person, category: i64, subject: &str) -> RequestBuilder {
        self.post("/api/v1/support/create/ticket/", who).form(&[
            ("subject", subject),
            ("priority", "2"),
            ("comment", "Please help"),
            ("category", &category.to_string()),
        ])
    }

    /// Creates a ticket through the API; returns its id.
    pub async fn ticket(&self, who: &Person, category: i64, subject: &str) -> TestResult<i64> {
        let answer = send(self.create_request(who, category, subject)).await?;
        answer.assert_ok()["ticket"]["id"]
            .as_i64()
            .ok_or_else(|| format!("no ticket id in {}", answer.body).into())
    }

    /// Files left in the upload staging directory (should be none between requests).
    pub fn staged_files(&self) -> usize {
        let dir: PathBuf = self.data_dir.path().join("tmp");
        std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
    }

    /// Resident memory of the server process, in KiB (a process's only).
    pub fn rss_kib(&self) -> Option<u64> {
        let id = self.child.as_ref()?.id();
        let status = std::fs::read_to_string(format!("/proc/{id}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

impl TestApp {
    /// Sends SIGTERM, as a service manager stopping the desk would.
    pub fn terminate(&self) -> TestResult {
        let id = self.child.as_ref().ok_or("not a server process")?.id();
        let status = Command::new("kill")
            .args(["-TERM", &id.to_string()])
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err("kill -TERM failed".into())
        }
    }

    /// Kills the server process at once (SIGKILL), as a crash or the OOM killer would, and
    /// waits for it to be gone.
    pub fn kill(&mut self) -> TestResult {
        let child = self.child.as_mut().ok_or("not a server process")?;
        child.kill()?;
        child.wait()?;
        Ok(())
    }

    /// Waits for the server process to exit by itself.
    pub fn wait_for_exit(&mut self, limit: Duration) -> TestResult<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let child = self.child.as_mut().ok_or("not a server process")?;
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if std::time::Instant::now() > deadline {
                return Err("the server did not exit in time".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- server log ({}) ---\n{}", self.origin, self.log());
        }
    }
}

/// Sends a request and reads the answer, parsing the envelope when it is JSON.
pub async fn send(builder: RequestBuilder) -> TestResult<Answer> {
    let response = builder.send().await?;
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await?.to_vec();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok(Answer {
        status,
        headers,
        body,
        bytes,
    })
}

/// How long a change made by another process (the CLI, a sibling server) may take to reach a
/// running server: its refresh interval for remembered credentials and lists (200 ms by
/// default), with a wide margin for a loaded test machine.
pub const PROPAGATION: Duration = Duration::from_secs(3);

/// Sends the request `build` makes until `done` holds of the answer or `PROPAGATION` has
/// passed; returns the last answer, for the caller to assert on.
pub async fn eventually(
    build: impl Fn() -> RequestBuilder,
    done: impl Fn(&Answer) -> bool,
) -> TestResult<Answer> {
    let deadline = std::time::Instant::now() + PROPAGATION;
    loop {
        let answer = send(build()).await?;
        if done(&answer) || std::time::Instant::now() >= deadline {
            return Ok(answer);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The tests' HTTP client. It drops a pooled connection after 5 s idle: the server closes a
/// keep-alive connection idle for `SUPPORTDESK_HEADER_TIMEOUT` (10 s; hyper's header read
/// timeout also bounds the wait for the next request), and a client reusing one just as it
/// closes gets "connection closed before message completed" (seen in CI on a slow round).
fn test_client() -> reqwest::Result<Client> {
    Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_idle_timeout(Duration::from_secs(5))
        .build()
}
