//! A webhook receiver on a free loopback port: it records every request and answers with the
//! statuses scripted for it (0: never answer, as a hung endpoint), then with a default status.
//! Signatures are checked here by the Standard Webhooks specification re-implemented from its
//! text, and by the specification's reference library (PyPI `standardwebhooks`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::helpers::TestResult;

/// One request as it arrived.
#[derive(Clone, Debug)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_default()
    }
}

#[derive(Default)]
struct Script {
    answers: VecDeque<u16>,
    default: u16,
    got: Vec<Received>,
}

/// A scripted answer: hold the request until [`Receiver::release`], then answer 200 (an
/// attempt kept in flight for as long as the test wants).
pub const HOLD: u16 = 1;

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    script: Arc<Mutex<Script>>,
    held: Arc<tokio::sync::Semaphore>,
}

#[derive(Clone)]
struct Shared {
    script: Arc<Mutex<Script>>,
    held: Arc<tokio::sync::Semaphore>,
}

async fn receive(
    State(Shared { script, held }): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let status = {
        let Ok(mut script) = script.lock() else {
            return StatusCode::INTERNAL_SERVER_ERROR;
        };
        script.got.push(Received {
            id: header("webhook-id"),
            timestamp: header("webhook-timestamp"),
            signature: header("webhook-signature"),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        let default = script.default;
        script.answers.pop_front().unwrap_or(default)
    };
    if status == 0 {
        std::future::pending::<()>().await;
    }
    if status == HOLD {
        if let Ok(permit) = held.acquire().await {
            permit.forget();
        }
        return StatusCode::OK;
    }
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl Receiver {
    /// Answers `answers` in order, then 200.
    pub async fn start(answers: &[u16]) -> TestResult<Self> {
        let script = Arc::new(Mutex::new(Script {
            answers: answers.iter().copied().collect(),
            default: 200,
            got: Vec::new(),
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let held = Arc::new(tokio::sync::Semaphore::new(0));
        let app = Router::new().fallback(receive).with_state(Shared {
            script: Arc::clone(&script),
            held: Arc::clone(&held),
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            url: format!("http://127.0.0.1:{port}/hook"),
            script,
            held,
        })
    }

    /// Lets one request answered [`HOLD`] finish (with 200).
    pub fn release(&self) {
        self.held.add_permits(1);
    }

    /// The status answered once the script has run out.
    pub fn answer_from_now_on(&self, status: u16) {
        if let Ok(mut script) = self.script.lock() {
            script.default = status;
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.script
            .lock()
            .map(|s| s.got.clone())
            .unwrap_or_default()
    }

    /// Waits until at least `n` requests have arrived (or `limit` has passed).
    pub async fn wait_for(&self, n: usize, limit: Duration) -> Vec<Received> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let got = self.received();
            if got.len() >= n || std::time::Instant::now() >= deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The specification, section "Verifying webhook authenticity", written out: HMAC-SHA256 of
/// `{id}.{timestamp}.{body}` keyed with the base64-decoded part of the secret after `whsec_`;
/// the header lists space-separated `v1,<base64>` signatures, any of which may match.
pub fn signature_is_valid(secret: &str, r: &Received) -> bool {
    let Some(encoded) = secret.strip_prefix("whsec_") else {
        return false;
    };
    let Ok(key) = STANDARD.decode(encoded) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else {
        return false;
    };
    mac.update(format!("{}.{}.{}", r.id, r.timestamp, r.body).as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    r.signature.split(' ').any(|s| s == expected)
}

/// Verifies with PyPI `standardwebhooks` (installed by `.ci/run`): answers whether the library
/// accepted the message (it also checks the timestamp is within five minutes).
pub fn reference_library_accepts(secret: &str, r: &Received) -> TestResult<bool> {
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
m = json.load(sys.stdin)
headers = {"webhook-id": m["id"], "webhook-timestamp": m["timestamp"],
           "webhook-signature": m["signature"]}
try:
    Webhook(m["secret"]).verify(m["body"], headers)
    print("verified")
except Exception as e:
    print("refused", e)
"#;
    run_verifier("python3", script, secret, r)
}

/// The README's verification snippet in `lang` (`python` or `node`), as written there.
fn readme_snippet(lang: &str) -> TestResult<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))?;
    let marker = format!("<!-- webhook-verify: {lang} ");
    let after = &readme[readme.find(&marker).ok_or("no snippet marker")?..];
    let fence = after.find("```").ok_or("no code block")?;
    let code = fence + after[fence..].find('\n').ok_or("no code")? + 1;
    let end = code + after[code..].find("```").ok_or("unclosed code block")?;
    Ok(after[code..end].to_owned())
}

/// Runs the README's snippet in `lang` on the message; answers whether it verified.
pub fn readme_snippet_accepts(lang: &str, secret: &str, r: &Received) -> TestResult<bool> {
    let snippet = readme_snippet(lang)?;
    let (program, harness) = match lang {
        "python" => (
            "python3",
            r#"
import json, sys
m = json.load(sys.stdin)
h = {"webhook-id": m["id"], "webhook-timestamp": m["timestamp"], "webhook-signature": m["signature"]}
print("verified" if verify(m["secret"], h, m["body"].encode()) else "refused")
"#,
        ),
        _ => (
            "node",
            r#"
const m = JSON.parse(require("fs").readFileSync(0, "utf8"));
const h = {"webhook-id": m.id, "webhook-timestamp": m.timestamp, "webhook-signature": m.signature};
console.log(verify(m.secret, h, Buffer.from(m.body)) ? "verified" : "refused");
"#,
        ),
    };
    run_verifier(program, &format!("{snippet}\n{harness}"), secret, r)
}

/// Runs `program -e/-c script` with the message on stdin; "verified" on stdout means yes.
fn run_verifier(program: &str, script: &str, secret: &str, r: &Received) -> TestResult<bool> {
    let input = serde_json::json!({
        "secret": secret, "id": r.id, "timestamp": r.timestamp,
        "signature": r.signature, "body": r.body,
    });
    let flag = if program == "node" { "-e" } else { "-c" };
    let mut child = std::process::Command::new(program)
        .args([flag, script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().ok_or("no stdin")?;
        stdin.write_all(input.to_string().as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(format!(
            "{program} failed (python3 needs standardwebhooks, which .ci/run installs): {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim() == "verified")
}
