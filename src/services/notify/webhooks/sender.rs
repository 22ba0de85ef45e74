//! Posting one signed message to one endpoint, and the SSRF guard around it.
//!
//! The guard is applied after DNS resolution: the client's resolver answers only the public
//! addresses a name resolves to (`ssrf::is_forbidden` decides), so the connection goes to an
//! address that was checked, and a name that resolves inside (at creation or later, DNS
//! rebinding) is refused. A URL naming an address directly is checked before sending (no
//! resolver sees it). Redirects are not followed and proxies from the environment are not
//! used (a proxy would resolve the name itself, unchecked).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::services::notify::signing;
use crate::services::notify::ssrf::is_forbidden;

/// How long one attempt may take, connection to last byte of the answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an answer's body is kept in the attempt log.
pub const RESPONSE_KEPT: usize = 1024;

/// Why a URL may not be a webhook's target: the message under the `url` field.
pub type Refusal = &'static str;

pub const INVALID_URL: Refusal = "Enter a valid URL.";
pub const NOT_HTTP: Refusal = "Only http:// and https:// URLs are allowed.";
pub const INSIDE: Refusal = "This URL resolves to a private, loopback, link-local or other internal \
     address; webhooks may not reach it.";
pub const UNRESOLVED: Refusal = "The host name could not be resolved.";
pub const RESOLVE_TIMEOUT: Refusal = "The host name could not be resolved within 5 seconds.";

/// How long the check at creation waits for DNS: the request holds an admin's connection (and
/// a blocking thread) meanwhile, and a name that slow to resolve is answered as a field error.
pub const RESOLVE_LIMIT: Duration = Duration::from_secs(5);

/// The URL's syntax: absolute, http or https, with a host.
pub fn parse_url(text: &str) -> Result<Url, Refusal> {
    let url = Url::parse(text.trim()).map_err(|_| INVALID_URL)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(NOT_HTTP);
    }
    if url.host().is_none() {
        return Err(INVALID_URL);
    }
    Ok(url)
}

/// The address a URL names directly, if it names one (no resolver sees those).
fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

/// Checks a new or changed target: its syntax, and (unless private targets are allowed) that
/// every address it resolves to now is public.
pub async fn check_target(text: &str, allow_private: bool) -> Result<Url, Refusal> {
    check_target_within(text, allow_private, RESOLVE_LIMIT).await
}

/// [`check_target`] with DNS given at most `limit`.
async fn check_target_within(
    text: &str,
    allow_private: bool,
    limit: Duration,
) -> Result<Url, Refusal> {
    let url = parse_url(text)?;
    if allow_private {
        return Ok(url);
    }
    if let Some(ip) = literal_ip(&url) {
        return if is_forbidden(ip) {
            Err(INSIDE)
        } else {
            Ok(url)
        };
    }
    let host = url.host_str().ok_or(INVALID_URL)?.to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs = lookup_within(limit, tokio::net::lookup_host((host.as_str(), port))).await?;
    if addrs.is_empty() {
        return Err(UNRESOLVED);
    }
    if addrs.iter().any(|a| is_forbidden(a.ip())) {
        return Err(INSIDE);
    }
    Ok(url)
}

/// A host name's addresses, or a refusal when the lookup fails or takes longer than `limit`.
async fn lookup_within<A: Iterator<Item = SocketAddr>>(
    limit: Duration,
    lookup: impl std::future::Future<Output = std::io::Result<A>>,
) -> Result<Vec<SocketAddr>, Refusal> {
    Ok(tokio::time::timeout(limit, lookup)
        .await
        .map_err(|_| RESOLVE_TIMEOUT)?
        .map_err(|_| UNRESOLVED)?
        .collect())
}

/// Resolves with the system's resolver and keeps only public addresses.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all
                .iter()
                .copied()
                .filter(|a| !is_forbidden(a.ip()))
                .collect();
            if public.is_empty() {
                let err: Box<dyn std::error::Error + Send + Sync> = format!(
                    "refused: {host} resolves only to internal addresses ({})",
                    all.iter()
                        .map(|a| a.ip().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
                .into();
                return Err(err);
            }
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// What one attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration: Duration,
    /// The first [`RESPONSE_KEPT`] bytes of the answer, as text.
    pub response: Option<String>,
}

impl Outcome {
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    fn failed(error: String, started: Instant) -> Self {
        Self {
            status: None,
            error: Some(error),
            duration: started.elapsed(),
            response: None,
        }
    }
}

/// One HTTP client for every delivery of the process (its connections are reused).
pub struct Sender {
    client: reqwest::Client,
    allow_private: bool,
}

impl Sender {
    pub fn new(allow_private: bool) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .no_proxy()
            .timeout(TIMEOUT)
            .user_agent(concat!("supportdesk-webhooks/", env!("CARGO_PKG_VERSION")));
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        Ok(Self {
            client: builder.build()?,
            allow_private,
        })
    }

    /// Posts `body` to `url`, signed with `secret`, as message `id` (`msg_…`).
    pub async fn send(&self, url: &str, secret: &str, id: &str, body: &str) -> Outcome {
        let started = Instant::now();
        let url = match parse_url(url) {
            Ok(url) => url,
            Err(refusal) => return Outcome::failed(format!("refused: {refusal}"), started),
        };
        if !self.allow_private
            && let Some(ip) = literal_ip(&url)
            && is_forbidden(ip)
        {
            return Outcome::failed(format!("refused: {ip} is an internal address"), started);
        }
        let Some(key) = signing::key(secret) else {
            return Outcome::failed("the endpoint's secret is unusable".to_owned(), started);
        };
        let timestamp = crate::store::now_micros() / 1_000_000;
        let signature = signing::signature(&key, id, timestamp, body.as_bytes());
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_owned())
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(err) => return Outcome::failed(error_chain(&err), started),
        };
        let status = response.status().as_u16();
        // Only the head of the answer is kept; the rest is not waited for.
        let mut head = Vec::new();
        let mut error = None;
        while head.len() < RESPONSE_KEPT {
            match response.chunk().await {
                Ok(Some(chunk)) => head.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(err) => {
                    error = Some(error_chain(&err));
                    break;
                }
            }
        }
        head.truncate(RESPONSE_KEPT);
        let text = String::from_utf8_lossy(&head).into_owned();
        Outcome {
            status: Some(status),
            error: error.or_else(|| {
                (!(200..300).contains(&status)).then(|| format!("HTTP status {status}"))
            }),
            duration: started.elapsed(),
            response: Some(text),
        }
    }
}

/// An error with its causes (`error sending request: … : connection refused`), since
/// reqwest's own message names only the outermost one.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = if err.to_string().contains("operation timed out")
        || matches!(err.downcast_ref::<reqwest::Error>(), Some(e) if e.is_timeout())
    {
        format!("timed out after {} s", TIMEOUT.as_secs())
    } else {
        err.to_string()
    };
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absolute_http_urls_with_a_host_parse() {
        assert!(parse_url("https://hooks.example.com/x?y=1").is_ok());
        assert!(parse_url(" http://1.1.1.1:8080/ ").is_ok());
        assert_eq!(parse_url("ftp://example.com/").err(), Some(NOT_HTTP));
        assert_eq!(parse_url("file:///etc/passwd").err(), Some(NOT_HTTP));
        assert_eq!(parse_url("example.com/hook").err(), Some(INVALID_URL));
        assert_eq!(parse_url("http://").err(), Some(INVALID_URL));
    }

    #[tokio::test]
    async fn internal_addresses_are_refused_unless_allowed() {
        for inside in [
            "http://127.0.0.1/",
            "http://[::1]:8080/",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/",
            "http://localhost:9/",
            "http://[::ffff:127.0.0.1]/",
        ] {
            assert_eq!(
                check_target(inside, false).await.err(),
                Some(INSIDE),
                "{inside}"
            );
            assert!(check_target(inside, true).await.is_ok(), "{inside}");
        }
        assert!(check_target("http://1.1.1.1/", false).await.is_ok());
    }

    #[tokio::test]
    async fn a_name_that_resolves_too_slowly_is_a_field_error() {
        // A resolver that never answers (the system's may fail at once on a closed network,
        // so it cannot stand in for a slow one): the limit decides.
        let never = std::future::pending::<std::io::Result<std::vec::IntoIter<SocketAddr>>>();
        assert_eq!(
            lookup_within(Duration::from_millis(50), never).await.err(),
            Some(RESOLVE_TIMEOUT)
        );
        let failing =
            async { Err::<std::vec::IntoIter<SocketAddr>, _>(std::io::ErrorKind::NotFound.into()) };
        assert_eq!(
            lookup_within(Duration::from_secs(5), failing).await.err(),
            Some(UNRESOLVED)
        );
    }

    #[tokio::test]
    async fn wrapped_ipv6_forms_of_inside_addresses_are_refused_at_creation() {
        for inside in [
            "http://[::127.0.0.1]/",
            "http://[::ffff:0:10.0.0.1]/",
            "http://[2002:a9fe:a9fe::1]/",
            "http://[64:ff9b:1::a00:1]/",
            "http://[fec0::1]/",
        ] {
            assert_eq!(
                check_target(inside, false).await.err(),
                Some(INSIDE),
                "{inside}"
            );
            assert!(check_target(inside, true).await.is_ok(), "{inside}");
        }
    }
}
