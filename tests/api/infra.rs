//! The real parts a multi-process deployment runs on, started by the tests on free loopback
//! ports and stopped when dropped: an S3-compatible server (`s3s-fs`), `nginx`; and a key
//! prefix of its own in the machine's Redis for each test.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::helpers::TestResult;

/// Whether `tool` is installed. Missing: the test says so loudly and is skipped, except in CI
/// (`CI=true`), where `.ci/run` installs it and its absence is a failure.
pub fn tool_ready(tool: &str) -> TestResult<bool> {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()?
        .success()
        || Path::new(&format!("/usr/sbin/{tool}")).exists();
    if found {
        return Ok(true);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        return Err(format!("{tool} is required in CI but not installed (see .ci/run)").into());
    }
    eprintln!("SKIPPED: {tool} is not installed; this test did not run (.ci/run installs it)");
    Ok(false)
}

/// A free loopback port (bound and released; the tool binds it right after).
pub fn free_port() -> TestResult<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until something accepts connections on `port`.
pub fn wait_for_port(port: u16, child: &mut Child) -> TestResult {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = child.try_wait()? {
            return Err(format!("exited before listening: {status}").into());
        }
        if Instant::now() > deadline {
            return Err(format!("nothing listens on port {port} after 20 s").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

pub const S3_KEY: &str = "AKTESTSUPPORTDESK";
pub const S3_SECRET: &str = "test-secret-key-for-s3s-fs";
pub const BUCKET: &str = "desk";

/// `s3s-fs` on a free port, serving the bucket `desk` from a directory of its own.
pub struct S3Server {
    pub port: u16,
    pub root: TempDir,
    child: Child,
}

impl S3Server {
    pub fn start() -> TestResult<Self> {
        let root = tempfile::tempdir()?;
        std::fs::create_dir_all(root.path().join(BUCKET))?;
        let port = free_port()?;
        let mut child = Command::new("s3s-fs")
            .args(["--access-key", S3_KEY, "--secret-key", S3_SECRET])
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        if let Err(err) = wait_for_port(port, &mut child) {
            let _ = child.kill();
            return Err(err);
        }
        Ok(Self { port, root, child })
    }

    /// The settings that put a server's attachments in this bucket under `prefix`.
    pub fn settings(&self, prefix: &str) -> Vec<(String, String)> {
        vec![
            (
                "SUPPORTDESK_ATTACHMENTS".to_owned(),
                format!("s3://{BUCKET}/{prefix}"),
            ),
            (
                "AWS_ENDPOINT_URL".to_owned(),
                format!("http://127.0.0.1:{}", self.port),
            ),
            ("AWS_ACCESS_KEY_ID".to_owned(), S3_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY".to_owned(), S3_SECRET.to_owned()),
            ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
            ("AWS_ALLOW_HTTP".to_owned(), "true".to_owned()),
        ]
    }

    /// Every object file under the bucket (s3s-fs keeps one file per object).
    pub fn objects(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.len() == 32 && n.bytes().all(|b| b.is_ascii_hexdigit()))
                {
                    out.push(path);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root.path().join(BUCKET), &mut out);
        out
    }

    /// Stops the server (storage unreachable from then on).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A Redis key prefix no other test run uses.
pub fn redis_prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("sdtest:{test}:{}:{nanos:x}:", std::process::id())
}

pub const REDIS_URL: &str = "redis://127.0.0.1:6379/0";

/// The keys under `prefix` in the machine's Redis.
pub async fn redis_keys(prefix: &str) -> TestResult<Vec<String>> {
    let client = redis::Client::open(REDIS_URL)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await?;
    Ok(keys)
}

/// Removes the keys under `prefix`.
pub async fn redis_cleanup(prefix: &str) -> TestResult {
    let keys = redis_keys(prefix).await?;
    if keys.is_empty() {
        return Ok(());
    }
    let client = redis::Client::open(REDIS_URL)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let _: i64 = redis::cmd("DEL").arg(keys).query_async(&mut conn).await?;
    Ok(())
}

/// nginx on a free port, running `deploy/nginx.conf` (the deployment's own file) with the test's
/// upstream addresses in place of the example ports.
pub struct Nginx {
    pub origin: String,
    pub dir: TempDir,
    child: Child,
}

impl Nginx {
    pub fn start(upstreams: [&str; 2]) -> TestResult<Self> {
        let dir = tempfile::tempdir()?;
        let port = free_port()?;
        let site =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/nginx.conf"))?;
        for needle in ["127.0.0.1:8081", "127.0.0.1:8082", "listen 127.0.0.1:8080;"] {
            if !site.contains(needle) {
                return Err(format!("deploy/nginx.conf no longer has {needle:?}").into());
            }
        }
        let site = site
            .replace("127.0.0.1:8081", upstreams[0])
            .replace("127.0.0.1:8082", upstreams[1])
            .replace(
                "listen 127.0.0.1:8080;",
                &format!("listen 127.0.0.1:{port};"),
            );
        let root = dir.path().display().to_string();
        std::fs::write(dir.path().join("supportdesk.conf"), site)?;
        // The main file a distribution ships, reduced to what a test needs (paths of its own).
        let main = format!(
            "user root;\nworker_processes 1;\npid {root}/nginx.pid;\nerror_log {root}/error.log info;\n\
             events {{ worker_connections 512; }}\n\
             http {{\n  access_log {root}/access.log;\n  client_body_temp_path {root}/body;\n\
             proxy_temp_path {root}/proxy;\n  fastcgi_temp_path {root}/fastcgi;\n\
             uwsgi_temp_path {root}/uwsgi;\n  scgi_temp_path {root}/scgi;\n\
             include {root}/supportdesk.conf;\n}}\n"
        );
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, main)?;
        let nginx = if Path::new("/usr/sbin/nginx").exists() {
            "/usr/sbin/nginx"
        } else {
            "nginx"
        };
        let mut child = Command::new(nginx)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        if let Err(err) = wait_for_port(port, &mut child) {
            let _ = child.kill();
            let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
            return Err(format!("{err}; nginx log: {log}").into());
        }
        Ok(Self {
            origin: format!("http://127.0.0.1:{port}"),
            dir,
            child,
        })
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: nginx's master then stops its workers. Killed outright, the
        // master leaves its worker running as an orphan that keeps every descriptor it
        // inherited (a caller's lock file included) until someone kills it by hand.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The settings of `deploy/supportdesk.env` (the file the systemd unit reads), without the
/// ones that name this machine's database, directories and services (the test brings its own).
pub fn deployment_settings() -> TestResult<Vec<(String, String)>> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/supportdesk.env"
    ))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| {
            !matches!(
                *k,
                "DATABASE_URL"
                    | "SUPPORTDESK_DATA_DIR"
                    | "SUPPORTDESK_ATTACHMENTS"
                    | "SUPPORTDESK_REDIS_URL"
            ) && !k.starts_with("AWS_")
        })
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}
