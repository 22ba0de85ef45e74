//! Counts shared by every server process, in Redis (`SUPPORTDESK_REDIS_URL`): the request rate
//! limits and the sign-in throttle, each counted by one Lua script, so that the check and the
//! count are one atomic step however many processes ask at once.
//!
//! Redis is an optimisation of fairness, never a dependency of an answer: every call has a short
//! deadline, and when Redis is away (not yet reachable, down, too slow) the caller falls back to
//! what it did without Redis (rate limits per process, the sign-in throttle in the database).
//! The switch is logged once each way and shown on `/metrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};
use tokio::sync::OnceCell;

/// How long a request waits for Redis before falling back: a little more than a round trip to a
/// loaded Redis on the same network.
const DEADLINE: Duration = Duration::from_millis(100);

/// One request counted against each of `KEYS` in the current second (by Redis's clock, the one
/// all processes share). Answers 0, or the 1-based index of the first key over its limit
/// (`ARGV[i]`).
const RATE_SCRIPT: &str = r"
local now = redis.call('TIME')
for i, key in ipairs(KEYS) do
  local k = key .. ':' .. now[1]
  local n = redis.call('INCR', k)
  if n == 1 then redis.call('PEXPIRE', k, 2000) end
  if n > tonumber(ARGV[i]) then return i end
end
return 0
";

/// Reserves one sign-in attempt (`ARGV[3]`, a unique member) against each subject's set of
/// attempts in the window (`ARGV[1]` microseconds), unless a subject already has `ARGV[2]`:
/// then answers the age in microseconds of that subject's oldest attempt, else -1.
const RESERVE_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1])
for _, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= tonumber(ARGV[2]) then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    return now - tonumber(oldest[2])
  end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, math.ceil(window / 1000) + 1000)
end
return -1
";

/// A successful sign-in: its reservation goes, and so do the account's (`KEYS[1]`) failures.
const RELEASE_SCRIPT: &str = r"
for _, key in ipairs(KEYS) do redis.call('ZREM', key, ARGV[1]) end
redis.call('DEL', KEYS[1])
return 0
";

pub struct SharedCounts {
    connection: Arc<OnceCell<ConnectionManager>>,
    prefix: String,
    up: Arc<AtomicBool>,
    fallbacks: AtomicU64,
    rate: Script,
    reserve: Script,
    release: Script,
}

impl SharedCounts {
    /// Connects in the background (retrying until Redis answers), so that a server starts and
    /// serves while Redis is away; until then every count falls back.
    pub fn connect(url: &str, prefix: &str) -> anyhow::Result<Arc<Self>> {
        let client = Client::open(url)?;
        let counts = Arc::new(Self {
            connection: Arc::default(),
            prefix: prefix.to_owned(),
            up: Arc::new(AtomicBool::new(false)),
            fallbacks: AtomicU64::new(0),
            rate: Script::new(RATE_SCRIPT),
            reserve: Script::new(RESERVE_SCRIPT),
            release: Script::new(RELEASE_SCRIPT),
        });
        let (cell, up) = (Arc::clone(&counts.connection), Arc::clone(&counts.up));
        tokio::spawn(async move {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(1)))
                .set_response_timeout(Some(DEADLINE));
            let mut warned = false;
            loop {
                match ConnectionManager::new_with_config(client.clone(), config.clone()).await {
                    Ok(manager) => {
                        let _ = cell.set(manager);
                        up.store(true, Ordering::Relaxed);
                        tracing::info!("Redis connected: limits are shared by every process");
                        return;
                    }
                    Err(err) => {
                        if !warned {
                            warned = true;
                            tracing::warn!(error = %err, "Redis not reachable: rate limits are counted per process and the sign-in throttle in the database until it is");
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(counts)
    }

    /// Whether the last call reached Redis (for `/metrics`).
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Counts that fell back because Redis was away (for `/metrics`).
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Runs a script within the deadline; `None` (logged on the change, counted) when Redis is
    /// away, for the caller to fall back.
    async fn run<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        keys: &[String],
        args: &[String],
    ) -> Option<T> {
        let result = match self.connection.get() {
            None => Err("not connected".to_owned()),
            Some(manager) => {
                let mut manager = manager.clone();
                let mut invocation = script.prepare_invoke();
                for key in keys {
                    invocation.key(key);
                }
                for arg in args {
                    invocation.arg(arg);
                }
                match tokio::time::timeout(DEADLINE, invocation.invoke_async(&mut manager)).await {
                    Ok(Ok(value)) => Ok(value),
                    Ok(Err(err)) => Err(err.to_string()),
                    Err(_) => Err("timed out".to_owned()),
                }
            }
        };
        match result {
            Ok(value) => {
                if !self.up.swap(true, Ordering::Relaxed) {
                    tracing::info!("Redis is back: limits are shared by every process again");
                }
                Some(value)
            }
            Err(reason) => {
                self.fallbacks.fetch_add(1, Ordering::Relaxed);
                if self.up.swap(false, Ordering::Relaxed) {
                    tracing::warn!(%reason, "Redis unavailable: rate limits fall back to this process, the sign-in throttle to the database");
                }
                None
            }
        }
    }

    /// Counts one request against each `(name, per_second)` limit; `Some(true)` when one is
    /// exceeded, `None` when Redis is away.
    pub async fn over_rate(&self, limits: &[(String, u32)]) -> Option<bool> {
        let keys: Vec<String> = limits
            .iter()
            .map(|(name, _)| self.key(&format!("rate:{name}")))
            .collect();
        let args: Vec<String> = limits.iter().map(|(_, n)| n.to_string()).collect();
        let over: i64 = self.run(&self.rate, &keys, &args).await?;
        Some(over > 0)
    }

    /// Reserves a sign-in attempt for `member` against `subjects`: `Some(Ok(()))` reserved,
    /// `Some(Err(age_micros))` refused (age of the oldest attempt in the window), `None` when
    /// Redis is away.
    pub async fn reserve_attempt(
        &self,
        subjects: &[String],
        member: &str,
        window_micros: i64,
        max: u32,
    ) -> Option<Result<(), i64>> {
        let keys = self.signin_keys(subjects);
        let args = [
            window_micros.to_string(),
            max.to_string(),
            member.to_owned(),
        ];
        let age: i64 = self.run(&self.reserve, &keys, &args).await?;
        Some(if age < 0 { Ok(()) } else { Err(age) })
    }

    /// Gives a successful attempt's reservation back and forgets the account's (the first
    /// subject's) failures; `None` when Redis is away.
    pub async fn release_attempt(&self, subjects: &[String], member: &str) -> Option<()> {
        let keys = self.signin_keys(subjects);
        let _: i64 = self.run(&self.release, &keys, &[member.to_owned()]).await?;
        Some(())
    }

    fn signin_keys(&self, subjects: &[String]) -> Vec<String> {
        // Subjects carry emails: only their hash goes to Redis, like secrets everywhere else.
        subjects
            .iter()
            .map(|s| {
                self.key(&format!(
                    "signin:{}",
                    crate::domain::secrets::hash_secret(s)
                ))
            })
            .collect()
    }
}
