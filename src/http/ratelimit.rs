//! Request rate limits per API key and per client address, by setting. Counted in memory by
//! each process (a GCRA per key): with N processes behind a balancer a client gets up to N times
//! the rate, which the settings should allow for.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::envelope::ApiError;
use super::server::client_address;
use crate::domain::secrets::hash_secret;

#[derive(Clone, Default)]
pub struct RateLimits {
    per_key: Option<Arc<DefaultKeyedRateLimiter<String>>>,
    per_ip: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
}

fn limiter<K: std::hash::Hash + Eq + Clone>(
    per_second: u32,
) -> Option<Arc<DefaultKeyedRateLimiter<K>>> {
    NonZeroU32::new(per_second).map(|n| Arc::new(RateLimiter::keyed(Quota::per_second(n))))
}

impl RateLimits {
    pub fn new(per_key: u32, per_ip: u32) -> Self {
        Self {
            per_key: limiter(per_key),
            per_ip: limiter(per_ip),
        }
    }

    pub fn enabled(&self) -> bool {
        self.per_key.is_some() || self.per_ip.is_some()
    }

    /// `Some(seconds)` to wait when the request is over a limit.
    fn check(&self, req: &Request) -> Option<u64> {
        let clock = DefaultClock::default();
        let wait =
            |not_until: governor::NotUntil<_>| not_until.wait_time_from(clock.now()).as_secs() + 1;
        if let (Some(limiter), Some(ip)) = (&self.per_ip, client_address(req.extensions()))
            && let Err(not_until) = limiter.check_key(&ip.ip())
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
    match limits.check(&req) {
        Some(seconds) => throttled(seconds),
        None => next.run(req).await,
    }
}
