//! Sign-in throttling: after too many failures for one account or from one client address in a
//! window, further sign-ins are refused until the oldest failure leaves the window. Failures are
//! kept in the database, so every server process counts the same ones. Unknown emails are
//! throttled exactly like known ones: the answer never tells whether an account exists.

use std::net::IpAddr;

use crate::store::{Db, StoreResult, now_micros, sessions};

pub struct SignInThrottle {
    pub max_failures: u32,
    pub window_secs: u64,
}

/// The subjects a sign-in attempt counts against.
pub fn subjects(email: &str, client: Option<IpAddr>) -> Vec<String> {
    let mut subjects = vec![format!("email:{email}")];
    if let Some(ip) = client {
        subjects.push(format!("ip:{ip}"));
    }
    subjects
}

impl SignInThrottle {
    fn window_micros(&self) -> i64 {
        i64::try_from(self.window_secs)
            .unwrap_or(i64::MAX / 1_000_000)
            .saturating_mul(1_000_000)
    }

    /// `Some(seconds)` to wait when any subject is over the limit.
    pub async fn retry_after(&self, db: &Db, subjects: &[String]) -> StoreResult<Option<u64>> {
        if self.max_failures == 0 {
            return Ok(None);
        }
        let now = now_micros();
        let since = now - self.window_micros();
        let mut wait = None;
        for subject in subjects {
            let (count, oldest) = sessions::failures_since(db, subject, since).await?;
            if count >= i64::from(self.max_failures) {
                let free_at = oldest.unwrap_or(now) + self.window_micros();
                let secs = u64::try_from((free_at - now).max(0) / 1_000_000 + 1).unwrap_or(1);
                wait = Some(wait.map_or(secs, |w: u64| w.max(secs)));
            }
        }
        Ok(wait)
    }

    pub async fn failed(&self, db: &Db, subjects: &[String]) -> StoreResult<()> {
        sessions::record_failure(db, subjects).await
    }

    /// A successful sign-in forgets the account's failures (not the address's).
    pub async fn succeeded(&self, db: &Db, subjects: &[String]) -> StoreResult<()> {
        let before = now_micros() - self.window_micros();
        match subjects.first() {
            Some(account) => sessions::clear_failures(db, account, before).await,
            None => Ok(()),
        }
    }
}
