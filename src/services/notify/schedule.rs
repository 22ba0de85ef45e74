//! The retry schedule (`SUPPORTDESK_WEBHOOK_RETRY_SCHEDULE`): the waits before each retry,
//! such as `5s,30s,2m,10m,1h,6h,24h`; tests use milliseconds (`10ms`). Each wait gets up to
//! 20 % of random jitter, so that endpoints recovering together are not hit in one burst.

use std::time::Duration;

use rand::Rng;

/// The default: about three days of retries in all.
pub const DEFAULT: &str = "5s,5m,30m,2h,5h,10h,14h,20h,20h";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

impl RetrySchedule {
    /// Parses a comma-separated list of waits, each a number and a unit (`ms`, `s`, `m`, `h`,
    /// `d`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let waits = text
            .split(',')
            .map(|part| parse_wait(part.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self(waits))
    }

    /// The wait before retry `n` (1 for the first retry), jittered; `None` once the schedule
    /// is exhausted (the delivery has failed).
    pub fn wait_before(&self, retry: usize) -> Option<Duration> {
        let base = *self.0.get(retry.checked_sub(1)?)?;
        let jitter = rand::rng().random_range(0.0..0.2);
        Some(base.mul_f64(1.0 + jitter))
    }

    /// The wait before retry `n` as written, without jitter.
    pub fn wait_exact(&self, retry: usize) -> Option<Duration> {
        self.0.get(retry.checked_sub(1)?).copied()
    }

    /// Attempts in all: the first and one per wait.
    pub fn attempts(&self) -> usize {
        self.0.len() + 1
    }
}

impl Default for RetrySchedule {
    fn default() -> Self {
        Self::parse(DEFAULT).unwrap_or(Self(Vec::new()))
    }
}

fn parse_wait(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{text}` has no unit (ms, s, m, h, d)"))?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` does not start with a number"))?;
    let unit_ms: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("`{text}`: the unit must be ms, s, m, h or d")),
    };
    n.checked_mul(unit_ms)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("`{text}` is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_refuses_nonsense() {
        let s = RetrySchedule::parse("5s, 30s,2m,10ms,1h,1d").unwrap_or_default();
        assert_eq!(s.attempts(), 7);
        assert_eq!(
            s.0,
            [5_000, 30_000, 120_000, 10, 3_600_000, 86_400_000].map(Duration::from_millis)
        );
        for bad in ["", "5", "s", "5x", "-1s", "5s,,1m", "99999999999999999999d"] {
            assert!(RetrySchedule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn waits_are_jittered_upwards_and_end_with_the_schedule() {
        let s = RetrySchedule::parse("100ms,1s").unwrap_or_default();
        assert_eq!(s.wait_before(0), None);
        let first = s.wait_before(1).unwrap_or_default();
        assert!(first >= Duration::from_millis(100) && first < Duration::from_millis(120));
        assert!(s.wait_before(2).unwrap_or_default() >= Duration::from_secs(1));
        assert_eq!(s.wait_before(3), None);
    }

    #[test]
    fn the_default_spans_about_three_days() {
        let total: Duration = RetrySchedule::default().0.iter().sum();
        assert!(
            total >= Duration::from_secs(3 * 86_400 - 3_600),
            "{total:?}"
        );
        assert!(
            total <= Duration::from_secs(3 * 86_400 + 3_600),
            "{total:?}"
        );
    }
}
