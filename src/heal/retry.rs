//! When to try a failed heal again: Argo CD's retry schema per object, a global rate limit, and
//! which failures are worth retrying at all.

use std::time::{Duration, Instant};

use crate::config::Retry;

/// The delay before attempt `failures + 1`, after `failures` failed attempts (at least 1);
/// `None` when the limit is spent. `limit` 0 means no retries, -1 unlimited, as in Argo CD; the
/// delay is `duration × factor^(failures − 1)`, capped at `maxDuration`.
pub fn next_delay(retry: &Retry, failures: u32) -> Option<Duration> {
    if failures == 0 {
        return Some(Duration::ZERO);
    }
    match retry.limit {
        0 => return None,
        n if n > 0 && i64::from(failures) > n => return None,
        _ => {}
    }
    let b = &retry.backoff;
    let exp = i32::try_from(failures - 1).unwrap_or(i32::MAX);
    let secs = b.duration.as_secs_f64() * b.factor.powi(exp);
    let max = b.max_duration.as_secs_f64();
    Some(Duration::from_secs_f64(if secs.is_finite() { secs.min(max) } else { max }))
}

/// Whether a failed write is worth trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// A conflict, throttling or a server-side fault: back off and retry.
    Transient,
    /// Forbidden, invalid, or denied by an admission webhook: retrying cannot help; report it
    /// and wait for the object or Git to change.
    Persistent,
}

/// Classifies an API error by its HTTP code.
pub fn classify(code: u16) -> Failure {
    match code {
        409 | 429 | 500..=599 => Failure::Transient,
        _ => Failure::Persistent,
    }
}

/// A token bucket over all heals, so that a burst of drift (a namespace edited by a script) is
/// healed at a steady pace instead of hammering the API server.
#[derive(Debug, Clone)]
pub struct RateLimit {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl RateLimit {
    /// `per_second` heals on average, bursts of up to `burst`.
    pub fn new(per_second: f64, burst: u32) -> Self {
        let capacity = f64::from(burst.max(1));
        Self { capacity, per_second, tokens: capacity, last: None }
    }

    /// Takes a token at `now`, or says how long until one is free.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        if let Some(last) = self.last {
            let refill = now.saturating_duration_since(last).as_secs_f64() * self.per_second;
            self.tokens = (self.tokens + refill).min(self.capacity);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Backoff;

    fn retry(limit: i64) -> Retry {
        Retry { limit, backoff: Backoff::default() }
    }

    #[test]
    fn argo_cd_backoff_with_its_defaults() {
        let r = retry(5);
        let secs: Vec<u64> = (1..=5).map(|f| next_delay(&r, f).unwrap().as_secs()).collect();
        assert_eq!(secs, [5, 10, 20, 40, 80]);
        assert_eq!(next_delay(&r, 6), None, "the limit is spent");
        assert_eq!(next_delay(&retry(-1), 30), Some(Duration::from_secs(180)), "capped at maxDuration 3m");
        assert_eq!(next_delay(&retry(0), 1), None, "limit 0: no retries");
    }

    #[test]
    fn only_transient_failures_are_retried() {
        assert_eq!(classify(409), Failure::Transient);
        assert_eq!(classify(503), Failure::Transient);
        assert_eq!(classify(429), Failure::Transient);
        for code in [400, 403, 404, 422] {
            assert_eq!(classify(code), Failure::Persistent, "{code}");
        }
    }

    #[test]
    fn the_rate_limit_paces_bursts() {
        let mut rl = RateLimit::new(10.0, 2);
        let t0 = Instant::now();
        assert!(rl.take(t0).is_ok());
        assert!(rl.take(t0).is_ok());
        let wait = rl.take(t0).unwrap_err();
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        assert!(rl.take(t0 + Duration::from_millis(100)).is_ok());
    }
}
