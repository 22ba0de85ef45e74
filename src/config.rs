//! One typed configuration, read from flags, then the environment, then defaults (clap does the
//! layering). Secrets (a database URL may carry a password) are never printed by `Debug`.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

/// Where the desk keeps its data: shared by every command, so `serve` and the admin commands
/// always agree on the database they talk to.
#[derive(Args, Clone)]
pub struct StoreConfig {
    /// Directory for the embedded SQLite database and the attachment files.
    #[arg(
        long,
        global = true,
        env = "SUPPORTDESK_DATA_DIR",
        default_value = "./data"
    )]
    pub data_dir: PathBuf,

    /// Where attachment files are kept: `s3://bucket/prefix` (S3-compatible object storage,
    /// configured by the standard `AWS_*` variables) or `file:///dir`; by default the
    /// `attachments` directory in the data dir.
    #[arg(long, global = true, env = "SUPPORTDESK_ATTACHMENTS")]
    pub attachments: Option<String>,

    /// Database URL (`sqlite://FILE` or `postgres://...`); overrides the SQLite file in the data dir.
    // The value may carry a password: `--help` names the variable but never shows its value.
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Most connections the pool opens.
    #[arg(
        long,
        global = true,
        env = "SUPPORTDESK_DB_MAX_CONNECTIONS",
        default_value_t = 16
    )]
    pub db_max_connections: u32,

    /// Seconds a request waits for a free database connection before answering 503.
    #[arg(
        long,
        global = true,
        env = "SUPPORTDESK_DB_ACQUIRE_TIMEOUT",
        default_value_t = 5
    )]
    pub db_acquire_timeout_secs: u64,

    /// Milliseconds one SQL statement may run (PostgreSQL) or wait for the write lock (SQLite).
    #[arg(
        long,
        global = true,
        env = "SUPPORTDESK_DB_STATEMENT_TIMEOUT",
        default_value_t = 10_000
    )]
    pub db_statement_timeout_ms: u64,

    /// SQLite durability: `full` (an answered write survives power loss) or `normal` (it
    /// survives a crash of the process; the last writes may be lost on power loss).
    #[arg(long, global = true, env = "SUPPORTDESK_SQLITE_SYNCHRONOUS", default_value = "full",
          value_parser = ["full", "normal"])]
    pub sqlite_synchronous: String,
}

impl StoreConfig {
    /// The database URL in force: the explicit one, or the SQLite file in the data directory.
    pub fn url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}",
                self.data_dir.join("supportdesk.db").display()
            ),
        }
    }

    pub fn attachments_dir(&self) -> PathBuf {
        self.data_dir.join("attachments")
    }

    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_secs(self.db_acquire_timeout_secs.max(1))
    }
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreConfig")
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("attachments", &self.attachments)
            .field("db_max_connections", &self.db_max_connections)
            .field("db_acquire_timeout_secs", &self.db_acquire_timeout_secs)
            .field("db_statement_timeout_ms", &self.db_statement_timeout_ms)
            .finish()
    }
}

/// Settings of the HTTP service itself.
#[derive(Args, Clone, Debug)]
pub struct ServeConfig {
    /// Address to listen on; port 0 picks a free port (the chosen address is printed).
    #[arg(long, env = "SUPPORTDESK_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,

    /// First segment of every API path.
    #[arg(long, env = "SUPPORTDESK_API_PREFIX", default_value = "api")]
    pub api_prefix: String,

    /// Second segment of every API path.
    #[arg(long, env = "SUPPORTDESK_API_VERSION", default_value = "v1")]
    pub api_version: String,

    /// How many tickets a person may have that are not Closed.
    #[arg(long, env = "SUPPORTDESK_OPEN_TICKET_LIMIT", default_value_t = 5)]
    pub open_ticket_limit: u32,

    /// Lifetime of an access token issued by sign-in, in seconds.
    #[arg(long, env = "SUPPORTDESK_TOKEN_TTL", default_value_t = 86_400)]
    pub token_ttl_secs: u64,

    /// Seconds a request may take before it is answered 503. A request with uploads (multipart)
    /// runs to its end instead, its body bounded by `SUPPORTDESK_BODY_TIMEOUT`.
    #[arg(long, env = "SUPPORTDESK_REQUEST_TIMEOUT", default_value_t = 60)]
    pub request_timeout_secs: u64,

    /// How often, in milliseconds, this process reads the database's change counters to learn
    /// of revocations and catalog edits made by other processes (other servers, the CLI). It
    /// answers live credentials and the category and tag lists from memory in between; such a
    /// change made elsewhere reaches it within this interval (made through it: at once).
    /// 0 turns answering from memory off.
    #[arg(long, env = "SUPPORTDESK_CACHE_REFRESH_MS", default_value_t = 200)]
    pub cache_refresh_ms: u64,

    /// Milliseconds a dispatcher's claim on an outbox row lasts: a process killed mid-delivery
    /// leaves its rows to be delivered (by any process) after this long.
    #[arg(long, env = "SUPPORTDESK_OUTBOX_LEASE_MS", default_value_t = 60_000)]
    pub outbox_lease_ms: u64,

    /// Milliseconds an idle dispatcher waits before looking for due outbox rows again.
    #[arg(long, env = "SUPPORTDESK_OUTBOX_POLL_MS", default_value_t = 250)]
    pub outbox_poll_ms: u64,

    /// How long done notifications are kept (delivered or failed mails and webhook deliveries
    /// with their attempts, acknowledged outbox rows), such as `30d` or `12h`; then the
    /// dispatcher deletes them in small batches. `off` keeps them forever. Pending work is
    /// never deleted.
    #[arg(long, env = "SUPPORTDESK_NOTIFY_RETENTION", default_value = "30d")]
    pub notify_retention: String,

    /// `/metrics` (Prometheus): `on` (on the main address), `off`, or an address of its own
    /// such as `127.0.0.1:9100`.
    #[arg(long, env = "SUPPORTDESK_METRICS", default_value = "on")]
    pub metrics: String,

    /// Milliseconds between SIGTERM and closing the listener, during which `/readyz` answers
    /// 503 and requests are still served: time for a balancer's health check to notice.
    #[arg(long, env = "SUPPORTDESK_SHUTDOWN_GRACE_MS", default_value_t = 0)]
    pub shutdown_grace_ms: u64,

    /// Seconds in-flight requests get to finish once the listener is closed; then the process
    /// exits (0) anyway.
    #[arg(long, env = "SUPPORTDESK_DRAIN_TIMEOUT", default_value_t = 30)]
    pub drain_timeout_secs: u64,

    /// Seconds a console session may sit unused before it ends (its person signs in again).
    #[arg(long, env = "SUPPORTDESK_CONSOLE_IDLE_TIMEOUT", default_value_t = 8 * 3600)]
    pub console_idle_secs: u64,

    /// Seconds a console session lasts at most, however busy.
    #[arg(long, env = "SUPPORTDESK_CONSOLE_SESSION_LIFETIME", default_value_t = 24 * 3600)]
    pub console_session_lifetime_secs: u64,

    #[command(flatten)]
    pub security: SecurityConfig,

    #[command(flatten)]
    pub mail: MailConfig,

    #[command(flatten)]
    pub inbound: InboundConfig,

    #[command(flatten)]
    pub jwt: JwtConfig,

    #[command(flatten)]
    pub webhooks: WebhookConfig,
}

/// Webhook deliveries (see README "Notifications").
#[derive(Args, Clone, Debug)]
pub struct WebhookConfig {
    /// Waits before each retry of a failed webhook delivery, comma-separated, each a number
    /// and a unit (`ms`, `s`, `m`, `h`, `d`); after the last, the delivery has failed. The
    /// default retries for about three days.
    #[arg(long, env = "SUPPORTDESK_WEBHOOK_RETRY_SCHEDULE",
          default_value = crate::services::notify::schedule::DEFAULT)]
    pub webhook_retry_schedule: String,

    /// Let webhooks reach private, loopback and link-local addresses (tests, on-premise
    /// receivers). Off: such targets are refused at creation and at delivery.
    #[arg(
        long,
        env = "SUPPORTDESK_WEBHOOK_ALLOW_PRIVATE",
        default_value_t = false
    )]
    pub webhook_allow_private: bool,

    /// An endpoint whose every attempt has failed for this long (same units as the schedule)
    /// is disabled; the admin API shows why, and `PATCH {"enabled": true}` re-enables it.
    #[arg(long, env = "SUPPORTDESK_WEBHOOK_DISABLE_AFTER", default_value = "5d")]
    pub webhook_disable_after: String,
}

/// Sign-in, abuse limits and the connection-level protections.
#[derive(Args, Clone, Debug)]
pub struct SecurityConfig {
    /// Let customers create their own accounts (`POST auth/register/`).
    #[arg(long, env = "SUPPORTDESK_REGISTRATION", default_value_t = false)]
    pub registration: bool,

    /// Lifetime of a refresh token, in seconds.
    #[arg(long, env = "SUPPORTDESK_REFRESH_TTL", default_value_t = 30 * 86_400)]
    pub refresh_ttl_secs: u64,

    /// Failed sign-ins allowed per account and per client address within the window.
    #[arg(long, env = "SUPPORTDESK_SIGNIN_MAX_FAILURES", default_value_t = 10)]
    pub signin_max_failures: u32,

    /// The sign-in throttling window, in seconds.
    #[arg(long, env = "SUPPORTDESK_SIGNIN_WINDOW", default_value_t = 900)]
    pub signin_window_secs: u64,

    /// Requests per second allowed per API key (0: no limit).
    #[arg(long, env = "SUPPORTDESK_RATE_LIMIT_PER_KEY", default_value_t = 0)]
    pub rate_limit_per_key: u32,

    /// Requests per second allowed per client address (0: no limit).
    #[arg(long, env = "SUPPORTDESK_RATE_LIMIT_PER_IP", default_value_t = 0)]
    pub rate_limit_per_ip: u32,

    /// Redis (`redis://host:6379/0`) where every process counts the rate limits and the
    /// sign-in throttle together; unset: per process (rate limits) and in the database
    /// (sign-in throttle). When Redis is away, counting falls back to those.
    #[arg(long, env = "SUPPORTDESK_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<RedisUrl>,

    /// Prefix of every key this desk writes in Redis (several desks may share one Redis).
    #[arg(long, env = "SUPPORTDESK_REDIS_PREFIX", default_value = "supportdesk:")]
    pub redis_prefix: String,

    /// Origins allowed to call the API from a browser, comma-separated (none by default).
    #[arg(long, env = "SUPPORTDESK_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Seconds a client may take to send a request's headers.
    #[arg(long, env = "SUPPORTDESK_HEADER_TIMEOUT", default_value_t = 10)]
    pub header_timeout_secs: u64,

    /// Most open connections; further ones are closed at once.
    #[arg(long, env = "SUPPORTDESK_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,

    /// Most open connections from one client address (0: no cap); further ones are closed at
    /// once. Connections from a trusted proxy are not counted (the proxy caps its clients).
    #[arg(
        long,
        env = "SUPPORTDESK_MAX_CONNECTIONS_PER_IP",
        default_value_t = 256
    )]
    pub max_connections_per_ip: usize,

    /// Load balancers and proxies (CIDRs or addresses, comma-separated) whose `Forwarded` or
    /// `X-Forwarded-For` header names the client; from any other peer those headers are
    /// ignored. None by default: the client is the connection's peer.
    #[arg(long, env = "SUPPORTDESK_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,

    /// Seconds a client may take to send a request's body, from its first read; then 408.
    #[arg(long, env = "SUPPORTDESK_BODY_TIMEOUT", default_value_t = 30)]
    pub body_timeout_secs: u64,
}

/// Email notifications. Without an SMTP URL no email is sent (nor queued).
#[derive(Args, Clone, Debug)]
pub struct MailConfig {
    /// SMTP server for email notifications: `smtp://host[:port]` (STARTTLS when the server
    /// offers it; `?tls=required` insists; `?tls=none` for a relay without TLS, never with a
    /// login), `smtps://host[:port]` (TLS from the start), with `user:password@` when it wants
    /// a login (then STARTTLS is required: a password never goes in clear). Unset: no email.
    // The value may carry a password: `--help` names the variable but never shows its value.
    #[arg(long, env = "SUPPORTDESK_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<SmtpUrl>,

    /// A PEM file of certificate authorities to trust for the SMTP server's certificate,
    /// besides the system's (a company CA, or a test server's own).
    #[arg(long, env = "SUPPORTDESK_SMTP_CA_FILE")]
    pub smtp_ca_file: Option<std::path::PathBuf>,

    /// The sender of notification emails, `desk@example.com` or `Support <desk@example.com>`;
    /// required with an SMTP URL.
    #[arg(long, env = "SUPPORTDESK_MAIL_FROM")]
    pub mail_from: Option<String>,

    /// The desk's address as people open it (`https://support.example.com`): emails link to
    /// `<it>/tickets/<id>`. Unset: emails carry no link.
    #[arg(long, env = "SUPPORTDESK_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Waits before each retry of an email that failed for a temporary reason (4xx, server
    /// down), such as `1m,5m,30m`; units ms, s, m, h, d. After the last one the email has
    /// failed. By default about three days.
    #[arg(long, env = "SUPPORTDESK_MAIL_RETRY_SCHEDULE", default_value = crate::services::notify::schedule::DEFAULT)]
    pub mail_retry_schedule: String,
}

/// Email in (README "Email in"): the raw endpoint, IMAP mailboxes, reply addresses.
#[derive(Args, Clone, Debug)]
pub struct InboundConfig {
    /// Bearer token of `POST /api/v1/inbound/email/` (a mail server piping mail), at least 16
    /// characters; unset: the endpoint is off (every call answers 401).
    // A secret: `--help` names the variable but never shows its value; `Debug` masks it.
    #[arg(long, env = "SUPPORTDESK_INBOUND_TOKEN", hide_env_values = true)]
    pub inbound_token: Option<Secret>,

    /// IMAP mailboxes to read, separated by spaces or commas:
    /// `imaps://user:password@host[:993]/INBOX?category=2` (`imap://` without TLS, for tests);
    /// the user and password percent-encoded; `category` (an id) is where new tickets from that
    /// mailbox go.
    #[arg(long, env = "SUPPORTDESK_IMAP_URL", hide_env_values = true)]
    pub imap_url: Option<Secret>,

    /// Seconds between two looks at a mailbox whose server does not offer IDLE (and the longest
    /// an IDLE waits before looking anyway).
    #[arg(long, env = "SUPPORTDESK_IMAP_POLL_SECS", default_value_t = 60)]
    pub imap_poll_secs: u64,

    /// The support address (`support@example.com`). With it, notification mails carry
    /// `Reply-To: support+<token>@example.com`, the token naming the ticket, signed with
    /// `SUPPORTDESK_INBOUND_SECRET` (required with it).
    #[arg(long, env = "SUPPORTDESK_INBOUND_ADDRESS")]
    pub inbound_address: Option<String>,

    /// The key reply tokens are signed with (HMAC-SHA-256), at least 16 characters; every
    /// process of a desk needs the same.
    #[arg(long, env = "SUPPORTDESK_INBOUND_SECRET", hide_env_values = true)]
    pub inbound_secret: Option<Secret>,

    /// The category of new tickets from the raw endpoint (and from a mailbox without
    /// `?category=`); unset: the first active category.
    #[arg(long, env = "SUPPORTDESK_INBOUND_CATEGORY")]
    pub inbound_category: Option<i64>,

    /// Largest mail taken, in bytes; a larger one is quarantined (its first 64 KiB kept).
    #[arg(long, env = "SUPPORTDESK_INBOUND_MAX_BYTES", default_value_t = 25 * 1024 * 1024)]
    pub inbound_max_bytes: u64,

    /// Most automatic answers (a refused file, a refused ticket) the desk sends to one address
    /// in an hour: a loop with an auto-responder that sets no header stops there.
    #[arg(
        long,
        env = "SUPPORTDESK_INBOUND_REPLIES_PER_HOUR",
        default_value_t = 5
    )]
    pub inbound_replies_per_hour: u32,

    /// Test only: milliseconds the IMAP reader waits between fetching a message and keeping
    /// it, so that a test can kill the process exactly there.
    #[arg(
        long,
        env = "SUPPORTDESK_TEST_IMAP_HOLD_MS",
        default_value_t = 0,
        hide = true
    )]
    pub test_imap_hold_ms: u64,
}

/// A secret setting: `Debug` never shows it (an IMAP URL shows its password masked).
#[derive(Clone)]
pub struct Secret(pub String);

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.contains("://") {
            let shown: Vec<String> = self
                .0
                .split([' ', ',', '\n', '\t'])
                .filter(|u| !u.is_empty())
                .map(redact_url)
                .collect();
            f.write_str(&shown.join(" "))
        } else {
            f.write_str("***")
        }
    }
}

/// An SMTP URL, which may carry a password: `Debug` shows it masked.
#[derive(Clone)]
pub struct SmtpUrl(pub String);

impl std::str::FromStr for SmtpUrl {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

/// Tokens issued by a host platform (JWT). Any of the three key sources may be set.
#[derive(Args, Clone)]
pub struct JwtConfig {
    /// Shared secret for HS256 tokens.
    #[arg(long, env = "SUPPORTDESK_JWT_HS256_SECRET", hide_env_values = true)]
    pub jwt_hs256_secret: Option<String>,

    /// PEM file with an RSA (RS256) or EC P-256 (ES256) public key.
    #[arg(long, env = "SUPPORTDESK_JWT_PUBLIC_KEY_FILE")]
    pub jwt_public_key_file: Option<PathBuf>,

    /// JWKS file (RSA and EC keys, chosen by the token's `kid`).
    #[arg(long, env = "SUPPORTDESK_JWT_JWKS_FILE")]
    pub jwt_jwks_file: Option<PathBuf>,

    /// Required `iss`, when set.
    #[arg(long, env = "SUPPORTDESK_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// Required `aud`, when set.
    #[arg(long, env = "SUPPORTDESK_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    #[arg(long, env = "SUPPORTDESK_JWT_LEEWAY", default_value_t = 30)]
    pub jwt_leeway_secs: u64,

    /// Claim whose value `customer`, `agent` or `admin` sets the person's role; a token without
    /// it (or with another value) leaves the role as it is (customer on first sight).
    #[arg(long, env = "SUPPORTDESK_JWT_ROLE_CLAIM")]
    pub jwt_role_claim: Option<String>,
}

impl JwtConfig {
    pub fn enabled(&self) -> bool {
        self.jwt_hs256_secret.is_some()
            || self.jwt_public_key_file.is_some()
            || self.jwt_jwks_file.is_some()
    }
}

impl fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtConfig")
            .field(
                "jwt_hs256_secret",
                &self.jwt_hs256_secret.as_ref().map(|_| "***"),
            )
            .field("jwt_public_key_file", &self.jwt_public_key_file)
            .field("jwt_jwks_file", &self.jwt_jwks_file)
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .field("jwt_leeway_secs", &self.jwt_leeway_secs)
            .field("jwt_role_claim", &self.jwt_role_claim)
            .finish()
    }
}

impl ServeConfig {
    /// `/api/v1`, from the two configurable segments, without empty segments.
    pub fn api_base(&self) -> String {
        let mut base = String::new();
        for part in [&self.api_prefix, &self.api_version] {
            let part = part.trim_matches('/');
            if !part.is_empty() {
                base.push('/');
                base.push_str(part);
            }
        }
        base
    }
}

/// A Redis URL, which may carry a password: `Debug` shows it masked.
#[derive(Clone)]
pub struct RedisUrl(pub String);

impl std::str::FromStr for RedisUrl {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

/// `postgres://user:secret@host/db?password=x` becomes `postgres://user:***@host/db?password=***`:
/// the userinfo's password and every query parameter that names a password (`password`,
/// `sslpassword`, …) are masked.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = redact_userinfo(base);
    if let Some(query) = query {
        out.push('?');
        let params: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((key, _)) if key.to_ascii_lowercase().contains("password") => {
                    format!("{key}=***")
                }
                _ => param.to_owned(),
            })
            .collect();
        out.push_str(&params.join("&"));
    }
    out
}

fn redact_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// The secrets a database URL carries (its userinfo password and `…password=` parameters,
/// raw and percent-decoded), so that an error text from a driver can be scrubbed of them
/// even where it quotes the URL in a form `redact_url` did not produce.
pub fn url_secrets(url: &str) -> Vec<String> {
    let mut secrets = Vec::new();
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    if let Some((_, rest)) = base.split_once("://")
        && let Some((userinfo, _)) = rest.rsplit_once('@')
        && let Some((_, password)) = userinfo.split_once(':')
    {
        secrets.push(password.to_owned());
    }
    for param in query.split('&') {
        if let Some((key, value)) = param.split_once('=')
            && key.to_ascii_lowercase().contains("password")
        {
            secrets.push(value.to_owned());
        }
    }
    let decoded: Vec<String> = secrets
        .iter()
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    secrets.extend(decoded);
    secrets.retain(|s| !s.is_empty() && s != "***");
    secrets.sort();
    secrets.dedup();
    secrets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_database_urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db:5432/desk"),
            "postgres://app:***@db:5432/desk"
        );
        assert_eq!(redact_url("sqlite://./data/x.db"), "sqlite://./data/x.db");
        assert_eq!(
            redact_url("postgres://app@db/desk?sslmode=require&password=hunter2"),
            "postgres://app@db/desk?sslmode=require&password=***"
        );
        assert_eq!(
            redact_url("postgres://app:pw@db/desk?sslpassword=x"),
            "postgres://app:***@db/desk?sslpassword=***"
        );
    }

    #[test]
    fn the_secrets_of_a_url_are_found_raw_and_decoded() {
        assert_eq!(
            url_secrets("postgres://app:p%40ss@db/desk?password=q&sslmode=disable"),
            vec!["p%40ss".to_owned(), "p@ss".to_owned(), "q".to_owned()]
        );
        assert!(url_secrets("sqlite://./data/x.db").is_empty());
    }

    #[test]
    fn a_redis_password_is_never_debug_printed() {
        let url = RedisUrl("redis://:hunter2@cache:6379/0".to_owned());
        assert_eq!(format!("{url:?}"), "redis://:***@cache:6379/0");
    }

    #[test]
    fn an_smtp_password_is_never_debug_printed() {
        let config = MailConfig {
            smtp_ca_file: None,
            smtp_url: Some(SmtpUrl("smtps://desk:hunter2@mail.example.com".to_owned())),
            mail_from: Some("desk@example.com".to_owned()),
            public_url: None,
            mail_retry_schedule: "1s".to_owned(),
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("smtps://desk:***@mail.example.com"),
            "{shown}"
        );
    }

    #[test]
    fn the_jwt_secret_is_never_debug_printed() {
        let config = JwtConfig {
            jwt_hs256_secret: Some("topsecret".to_owned()),
            jwt_public_key_file: None,
            jwt_jwks_file: None,
            jwt_issuer: None,
            jwt_audience: None,
            jwt_leeway_secs: 30,
            jwt_role_claim: None,
        };
        assert!(!format!("{config:?}").contains("topsecret"));
    }
}
