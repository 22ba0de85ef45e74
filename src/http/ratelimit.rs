//! Request rate limits per API key and per client address, by setting. With
//! `SUPPORTDESK_REDIS_URL` they are counted in Redis, shared by every process (a one-second
//! window per key, counted atomically), so N processes together allow what one allows. Without
//! it, or while Redis is away, each process counts in memory (a GCRA per key): then a client
//! behind a balancer gets up to N times the rate.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::envelope::ApiError;
use super::server::client_address;
use crate::domain::secrets::hash_secret;
use crate::services::redis::SharedCounts;

#[derive(Clone, Default)]
pub struct RateLimits {
    per_key: Option<Arc<DefaultKeyedRateLimiter<String>>>,
    per_ip: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
    /// Requests seen, to forget idle keys now and then.
    seen: Arc<AtomicU64>,
    per_key_rate: u32,
    per_ip_rate: u32,
    redis: Option<Arc<SharedCounts>>,
}

/// How often (in requests) keys whose limit is back to full are forgotten. The key is whatever
/// a client sends in `apikey`, so without this a client sending random keys grows the map
/// without bound.
const FORGET_EVERY: u64 = 4096;

fn limiter<K: std::hash::Hash + Eq + Clone>(
    per_second: u32,
) -> Option<Arc<DefaultKeyedRateLimiter<K>>> {
    NonZeroU32::new(per_second).map(|n| Arc::new(RateLimiter::keyed(Quota::per_second(n))))
}

impl RateLimits {
    pub fn new(per_key: u32, per_ip: u32, redis: Option<Arc<SharedCounts>>) -> Self {
        Self {
            per_key: limiter(per_key),
            per_ip: limiter(per_ip),
            seen: Arc::default(),
            per_key_rate: per_key,
            per_ip_rate: per_ip,
            redis,
        }
    }

    /// Counts the request in Redis: `Some(seconds)` over a limit, `Some(None)` within them,
    /// `None` when Redis is not configured or away (the caller counts in memory).
    async fn check_shared(&self, limits: Vec<(String, u32)>) -> Option<Option<u64>> {
        let redis = self.redis.as_ref()?;
        if limits.is_empty() {
            return Some(None);
        }
        // The window is one second of Redis's clock: the next one starts within a second.
        redis.over_rate(&limits).await.map(|over| over.then_some(1))
    }

    /// The shared counters a request counts against (none without Redis).
    fn shared_names(&self, req: &Request) -> Vec<(String, u32)> {
        if self.redis.is_none() {
            return Vec::new();
        }
        let mut limits = Vec::with_capacity(2);
        if self.per_ip_rate > 0
            && let Some(ip) = client_address(req.extensions())
        {
            limits.push((format!("ip:{ip}"), self.per_ip_rate));
        }
        if self.per_key_rate > 0
            && let Some(key) = req.headers().get("apikey")
        {
            let key = hash_secret(&String::from_utf8_lossy(key.as_bytes()));
            limits.push((format!("key:{key}"), self.per_key_rate));
        }
        limits
    }

    pub fn enabled(&self) -> bool {
        self.per_key.is_some() || self.per_ip.is_some()
    }

    fn forget_idle_keys(&self) {
        if self.seen.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == FORGET_EVERY - 1 {
            if let Some(limiter) = &self.per_key {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
            if let Some(limiter) = &self.per_ip {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        }
    }

    /// `Some(seconds)` to wait when the request is over a limit.
    fn check(&self, req: &Request) -> Option<u64> {
        self.forget_idle_keys();
        let clock = DefaultClock::default();
        let wait =
            |not_until: governor::NotUntil<_>| not_until.wait_time_from(clock.now()).as_secs() + 1;
        if let (Some(limiter), Some(ip)) = (&self.per_ip, client_address(req.extensions()))
            && let Err(not_until) = limiter.check_key(&ip)
        {
            return Some(wait(not_until));
        }
        if let (Some(limiter), Some(key)) = (&self.per_key, req.headers().get("apikey")) {
            // Keep only a hash of the key in memory, like everywhere else.
            let key = hash_secret(&String::from_utf8_lossy(key.as_bytes()));
            if let Err(not_until) = limiter.check_key(&key) {
                return Some(wait(not_until));
            }
        }
        None
    }
}

/// The 429 answer, in the envelope, with `Retry-After`.
pub fn throttled(seconds: u64) -> Response {
    let mut response = ApiError::detail(
        StatusCode::TOO_MANY_REQUESTS,
        format!("Request was throttled. Expected available in {seconds} seconds."),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

pub async fn limit(State(limits): State<RateLimits>, req: Request, next: Next) -> Response {
    let names = limits.shared_names(&req);
    let verdict = match limits.check_shared(names).await {
        Some(verdict) => verdict,
        None => limits.check(&req),
    };
    match verdict {
        Some(seconds) => throttled(seconds),
        None => next.run(req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sent_once_are_forgotten_so_random_keys_cannot_grow_memory() -> Result<(), String> {
        let limits = RateLimits::new(1000, 0, None);
        let limiter = limits.per_key.clone().ok_or("no limiter")?;
        for i in 0..FORGET_EVERY - 1 {
            let req = Request::builder()
                .header("apikey", format!("random-{i}"))
                .body(axum::body::Body::empty())
                .map_err(|e| e.to_string())?;
            assert_eq!(limits.check(&req), None);
        }
        assert_eq!(
            limiter.len(),
            usize::try_from(FORGET_EVERY - 1).unwrap_or(0)
        );
        // Let every bucket refill (1000 per second: a few milliseconds), then pass the mark.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let req = Request::builder()
            .header("apikey", "one-more")
            .body(axum::body::Body::empty())
            .map_err(|e| e.to_string())?;
        limits.check(&req);
        assert!(limiter.len() <= 1, "{} keys kept", limiter.len());
        Ok(())
    }
}
