//! Slows down password guessing: failed logins are counted per username and
//! per client address; past a threshold further attempts are refused with a
//! retry time that doubles with each failure, up to 15 minutes.
//!
//! An attempt is counted as a failure when it starts (`reserve`), before the
//! slow password check, and taken back only when it succeeds: so concurrent
//! guesses cannot all pass the check while the first ones are still hashing.
//!
//! `WindowCounter` counts other events per key in fixed windows: the rate
//! limit of invitation openings, and "the first opening this hour".

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

    /// Counts an attempt against both keys, as a failure until
    /// `record_success` takes it back; `Err(wait)` (and nothing counted)
    /// while either key is locked out.
    pub fn reserve(&self, keys: &AttemptKeys) -> Result<(), Duration> {
        let now = Instant::now();
        let mut entries = self.entries.lock().expect("throttle lock poisoned");
        let wait = [&keys.user, &keys.address]
            .into_iter()
            .filter_map(|key| entries.get(key)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max();
        if let Some(wait) = wait {
            return Err(wait);
        }
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
        Ok(())
    }

    /// A successful login clears the username's count, and takes its own
    /// reservation back from the address's (not the address's earlier
    /// failures: one right password must not reset guessing against other
    /// accounts).
    pub fn record_success(&self, keys: &AttemptKeys) {
        let mut entries = self.entries.lock().expect("throttle lock poisoned");
        entries.remove(&keys.user);
        self.take_back_one(&mut entries, &keys.address, self.max_failures_per_address);
    }

    /// Takes back a reservation whose password was never checked (the
    /// server was busy): it counts against neither key.
    pub fn take_back(&self, keys: &AttemptKeys) {
        let mut entries = self.entries.lock().expect("throttle lock poisoned");
        self.take_back_one(&mut entries, &keys.user, self.max_failures_per_user);
        self.take_back_one(&mut entries, &keys.address, self.max_failures_per_address);
    }

    fn take_back_one(&self, entries: &mut HashMap<String, Failures>, key: &str, limit: u32) {
        if let Some(failures) = entries.get_mut(key) {
            failures.count = failures.count.saturating_sub(1);
            if failures.count < limit {
                failures.locked_until = None;
            }
        }
    }
}

/// Counts events per key in fixed windows (a window starts with a key's
/// first event and lasts `window`).
pub struct WindowCounter {
    window: Duration,
    /// Held only for one count; never across an await.
    entries: Mutex<HashMap<String, (Instant, u32)>>,
}

impl WindowCounter {
    pub fn new(window: Duration) -> Self {
        Self { window, entries: Mutex::new(HashMap::new()) }
    }

    /// Counts one event for `key`: how many there have been in its current
    /// window, this one included, and the time left in that window.
    pub fn count(&self, key: &str) -> (u32, Duration) {
        let now = Instant::now();
        let mut entries = self.entries.lock().expect("window counter lock poisoned");
        if entries.len() >= SWEEP_AT {
            entries.retain(|_, (started, _)| now.duration_since(*started) < self.window);
        }
        let entry = entries.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        (entry.1, self.window.saturating_sub(now.duration_since(entry.0)))
    }

    /// Forgets `key`'s window (its first event did not take effect).
    pub fn forget(&self, key: &str) {
        self.entries.lock().expect("window counter lock poisoned").remove(key);
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
        for _ in 0..3 {
            assert!(throttle.reserve(&k).is_ok());
        }
        let first = throttle.reserve(&k).unwrap_err();
        assert!(first > Duration::from_secs(9) && first <= Duration::from_secs(10));
        // Locked attempts are not counted; the next failure after the lock doubles it.
        let mut entries = throttle.entries.lock().unwrap();
        entries.get_mut(&k.user).unwrap().locked_until = None;
        drop(entries);
        assert!(throttle.reserve(&k).is_ok());
        let second = throttle.reserve(&k).unwrap_err();
        assert!(second > Duration::from_secs(19), "lockout doubles: {second:?}");
    }

    #[test]
    fn window_counter_counts_within_its_window_and_starts_again() {
        let counter = WindowCounter::new(Duration::from_millis(40));
        assert_eq!(counter.count("a").0, 1);
        assert_eq!(counter.count("a").0, 2);
        assert_eq!(counter.count("b").0, 1, "keys count apart");
        let (_, left) = counter.count("a");
        assert!(left <= Duration::from_millis(40));
        std::thread::sleep(left + Duration::from_millis(5));
        assert_eq!(counter.count("a").0, 1, "a new window");
    }

    #[test]
    fn attempts_in_flight_count_before_they_finish() {
        let throttle = LoginThrottle::new(5, Duration::from_secs(10));
        let k = keys("c");
        let admitted = (0..60).filter(|_| throttle.reserve(&k).is_ok()).count();
        assert_eq!(admitted, 5, "of 60 concurrent attempts only the limit is checked");
    }

    #[test]
    fn address_limit_is_shared_across_usernames() {
        let throttle = LoginThrottle::new(2, Duration::from_secs(10));
        for i in 0..8 {
            assert!(throttle.reserve(&keys(&format!("user{i}"))).is_ok());
        }
        assert!(throttle.reserve(&keys("fresh")).is_err(), "the address is locked after 4x the user limit");
    }

    #[test]
    fn success_clears_the_username_and_its_own_reservation() {
        let throttle = LoginThrottle::new(2, Duration::from_secs(10));
        let k = keys("b");
        throttle.reserve(&k).unwrap();
        throttle.record_success(&k);
        throttle.reserve(&k).unwrap();
        throttle.reserve(&k).unwrap();
        assert!(throttle.reserve(&k).is_err(), "two failures since the success lock it");
        // Right passwords from one address, however many, never lock it.
        let throttle = LoginThrottle::new(2, Duration::from_secs(10));
        for i in 0..20 {
            let k = keys(&format!("right{i}"));
            throttle.reserve(&k).unwrap();
            throttle.record_success(&k);
        }
        assert!(throttle.reserve(&keys("another")).is_ok());
    }
}
