//! Sign-in throttling: after too many failures for one account or from one client address in a
//! window, further sign-ins are refused until the oldest failure leaves the window. Each attempt
//! reserves its place before its password is checked, and the reservation stays as the failure
//! unless the attempt succeeds, so simultaneous attempts cannot check more passwords than the
//! limit. Attempts are counted in Redis when `SUPPORTDESK_REDIS_URL` is set (one atomic script
//! across every process), else, and whenever Redis is away, in the database (one locking
//! transaction, also shared by every process).
//! Unknown emails are throttled exactly like known ones: the answer never tells whether an
//! account exists.

use std::net::IpAddr;
use std::sync::Arc;

use super::redis::SharedCounts;
use crate::store::{Db, StoreResult, now_micros, sessions};

pub struct SignInThrottle {
    pub max_failures: u32,
    pub window_secs: u64,
    /// Where attempts are counted first, when configured.
    pub redis: Option<Arc<SharedCounts>>,
}

/// The subjects a sign-in attempt counts against.
pub fn subjects(email: &str, client: Option<IpAddr>) -> Vec<String> {
    let mut subjects = vec![format!("email:{email}")];
    if let Some(ip) = client {
        subjects.push(format!("ip:{ip}"));
    }
    subjects
}

/// A sign-in attempt that was let through: the reservation it holds, in the database (rows)
/// or in Redis (a member of each subject's set).
pub struct Attempt {
    reserved: Vec<i64>,
    redis_member: Option<String>,
}

impl SignInThrottle {
    fn window_micros(&self) -> i64 {
        i64::try_from(self.window_secs)
            .unwrap_or(i64::MAX / 1_000_000)
            .saturating_mul(1_000_000)
    }

    /// Reserves an attempt before any password is checked: `Err(seconds)` to wait when any
    /// subject has used up its attempts in the window. A reservation counts as a failure until
    /// the attempt succeeds, so that however many attempts arrive at once, at most
    /// `max_failures` passwords per subject are checked in a window.
    pub async fn reserve(&self, db: &Db, subjects: &[String]) -> StoreResult<Result<Attempt, u64>> {
        if self.max_failures == 0 {
            return Ok(Ok(Attempt {
                reserved: Vec::new(),
                redis_member: None,
            }));
        }
        if let Some(redis) = &self.redis {
            let member = crate::store::files::new_key();
            let counted = redis
                .reserve_attempt(subjects, &member, self.window_micros(), self.max_failures)
                .await;
            match counted {
                Some(Ok(())) => {
                    return Ok(Ok(Attempt {
                        reserved: Vec::new(),
                        redis_member: Some(member),
                    }));
                }
                Some(Err(age)) => {
                    let left = (self.window_micros() - age).max(0);
                    return Ok(Err(u64::try_from(left / 1_000_000 + 1).unwrap_or(1)));
                }
                // Redis is away: the database counts, as without Redis.
                None => {}
            }
        }
        let now = now_micros();
        let since = now - self.window_micros();
        let max = i64::from(self.max_failures);
        Ok(
            match sessions::reserve_attempt(db, subjects, since, max).await? {
                Ok(reserved) => Ok(Attempt {
                    reserved,
                    redis_member: None,
                }),
                Err(oldest) => {
                    let free_at = oldest + self.window_micros();
                    Err(u64::try_from((free_at - now).max(0) / 1_000_000 + 1).unwrap_or(1))
                }
            },
        )
    }

    /// A successful sign-in gives its reservation back and forgets the account's failures (not
    /// the address's). A failed one keeps its reservation: that is the recorded failure.
    pub async fn succeeded(
        &self,
        db: &Db,
        subjects: &[String],
        attempt: Attempt,
    ) -> StoreResult<()> {
        if self.max_failures == 0 {
            return Ok(());
        }
        if let (Some(redis), Some(member)) = (&self.redis, &attempt.redis_member) {
            // Should Redis be away now, the reservation simply stays until the window ends.
            let _ = redis.release_attempt(subjects, member).await;
            return Ok(());
        }
        let before = now_micros() - self.window_micros();
        let account = subjects.first().map(String::as_str);
        sessions::release_attempt(db, &attempt.reserved, account, before).await
    }
}
