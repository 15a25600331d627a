//! Slows down password guessing: failed logins are counted per username and
//! per client address; past a threshold further attempts are refused with a
//! retry time that doubles with each failure, up to 15 minutes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures older than this are forgotten.
const WINDOW: Duration = Duration::from_secs(15 * 60);
const MAX_LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// Entries kept before expired ones are swept.
const SWEEP_AT: usize = 10_000;

#[derive(Debug)]
struct Failures {
    count: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

pub struct LoginThrottle {
    max_failures_per_user: u32,
    max_failures_per_address: u32,
    first_lockout: Duration,
    /// Held only for map lookups; never across an await.
    entries: Mutex<HashMap<String, Failures>>,
}

/// What a login attempt is counted against.
pub struct AttemptKeys {
    user: String,
    address: String,
}

impl AttemptKeys {
    pub fn new(username: &str, address: std::net::IpAddr) -> Self {
        Self { user: format!("user:{username}"), address: format!("addr:{address}") }
    }
}

impl LoginThrottle {
    pub fn new(max_failures: u32, first_lockout: Duration) -> Self {
        Self {
            max_failures_per_user: max_failures.max(1),
            max_failures_per_address: max_failures.max(1).saturating_mul(4),
            first_lockout,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` while either key is locked out.
    pub fn check(&self, keys: &AttemptKeys) -> Result<(), Duration> {
        let now = Instant::now();
        let entries = self.entries.lock().expect("throttle lock poisoned");
        let wait = [&keys.user, &keys.address]
            .into_iter()
            .filter_map(|key| entries.get(key)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max();
        match wait {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    pub fn record_failure(&self, keys: &AttemptKeys) {
        let now = Instant::now();
        let mut entries = self.entries.lock().expect("throttle lock poisoned");
        if entries.len() >= SWEEP_AT {
            entries.retain(|_, failures| now.duration_since(failures.last) < WINDOW);
        }
        for (key, limit) in [(&keys.user, self.max_failures_per_user), (&keys.address, self.max_failures_per_address)] {
            let failures = entries.entry(key.clone()).or_insert(Failures { count: 0, last: now, locked_until: None });
            if now.duration_since(failures.last) >= WINDOW {
                failures.count = 0;
            }
            failures.count += 1;
            failures.last = now;
            if failures.count >= limit {
                let doublings = (failures.count - limit).min(16);
                let lockout = self.first_lockout.saturating_mul(1 << doublings).min(MAX_LOCKOUT);
                failures.locked_until = Some(now + lockout);
            }
        }
    }

    /// A successful login clears the username's count (not the address's:
    /// one right password must not reset guessing against other accounts).
    pub fn record_success(&self, keys: &AttemptKeys) {
        self.entries.lock().expect("throttle lock poisoned").remove(&keys.user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(user: &str) -> AttemptKeys {
        AttemptKeys::new(user, "127.0.0.1".parse().unwrap())
    }

    #[test]
    fn locks_after_limit_and_doubles() {
        let throttle = LoginThrottle::new(3, Duration::from_secs(10));
        let k = keys("a");
        for _ in 0..2 {
            throttle.record_failure(&k);
            assert!(throttle.check(&k).is_ok());
        }
        throttle.record_failure(&k);
        let first = throttle.check(&k).unwrap_err();
        assert!(first > Duration::from_secs(9) && first <= Duration::from_secs(10));
        throttle.record_failure(&k);
        let second = throttle.check(&k).unwrap_err();
        assert!(second > Duration::from_secs(19), "lockout doubles: {second:?}");
    }

    #[test]
    fn address_limit_is_shared_across_usernames() {
        let throttle = LoginThrottle::new(2, Duration::from_secs(10));
        for i in 0..8 {
            throttle.record_failure(&keys(&format!("user{i}")));
        }
        assert!(throttle.check(&keys("fresh")).is_err(), "the address is locked after 4x the user limit");
    }

    #[test]
    fn success_clears_the_username() {
        let throttle = LoginThrottle::new(2, Duration::from_secs(10));
        let k = keys("b");
        throttle.record_failure(&k);
        throttle.record_success(&k);
        throttle.record_failure(&k);
        assert!(throttle.check(&k).is_ok());
    }
}
