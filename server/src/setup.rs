//! First run without the demo: on an empty database the server makes a
//! one-time set-up code and prints it where its operator reads it (the
//! console, or `journalctl -u mediation-server`). Whoever has the code
//! creates the system administrator and the district from the first page,
//! so nobody needs the shell. The code works once, expires, and is burnt
//! after a few wrong tries; a restart on a still-empty database prints a
//! new one.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::Rng;
use sha2::{Digest, Sha256};

/// How long a printed code works.
pub const CODE_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Wrong codes before the code is burnt (80 random bits: guessing is not
/// the worry, a script hammering the page is).
pub const MAX_WRONG_TRIES: u32 = 10;

/// Letters and digits nobody misreads (no 0/O, 1/I/L).
const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
const GROUPS: usize = 4;
const GROUP_LENGTH: usize = 4;

/// Why a code was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No code is waiting: the server was set up, or started with data.
    NotWaiting,
    /// Not the printed code.
    Wrong,
    /// Too old, or burnt by wrong tries: restart the server for a new one.
    Expired,
}

/// The code waiting to be used, if any.
#[derive(Debug, Default)]
pub struct SetupGate {
    waiting: Mutex<Option<Waiting>>,
}

#[derive(Debug, Clone)]
struct Waiting {
    code: String,
    expires: Instant,
    wrong_tries: u32,
}

/// A code taken for one set-up: given back if the set-up fails, so the
/// operator can try again.
#[derive(Debug)]
pub struct Taken(Waiting);

impl SetupGate {
    /// No set-up to do.
    pub fn closed() -> Self {
        SetupGate::default()
    }

    /// A fresh code, valid for `lifetime` from `now`.
    pub fn open(now: Instant, lifetime: Duration) -> Self {
        let code = new_code();
        SetupGate { waiting: Mutex::new(Some(Waiting { code, expires: now + lifetime, wrong_tries: 0 })) }
    }

    /// The code to print (and for tests to type).
    pub fn code(&self) -> Option<String> {
        self.lock().as_ref().map(|waiting| waiting.code.clone())
    }

    /// Whether a code still works at `now`.
    pub fn is_waiting(&self, now: Instant) -> bool {
        self.lock().as_ref().is_some_and(|waiting| waiting.usable(now))
    }

    /// Takes the code if `offered` is it: nobody else can use it meanwhile.
    pub fn take(&self, offered: &str, now: Instant) -> Result<Taken, Refusal> {
        let mut waiting = self.lock();
        let Some(current) = waiting.as_mut() else { return Err(Refusal::NotWaiting) };
        if !current.usable(now) {
            return Err(Refusal::Expired);
        }
        if digest(&normalise(offered)) != digest(&current.code.replace('-', "")) {
            current.wrong_tries += 1;
            return Err(if current.usable(now) { Refusal::Wrong } else { Refusal::Expired });
        }
        Ok(Taken(waiting.take().expect("checked above")))
    }

    /// Puts a taken code back after a set-up that failed.
    pub fn give_back(&self, taken: Taken) {
        *self.lock() = Some(taken.0);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Waiting>> {
        self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Waiting {
    fn usable(&self, now: Instant) -> bool {
        now < self.expires && self.wrong_tries < MAX_WRONG_TRIES
    }
}

fn new_code() -> String {
    let mut random = rand::thread_rng();
    let groups: Vec<String> = (0..GROUPS)
        .map(|_| (0..GROUP_LENGTH).map(|_| char::from(ALPHABET[random.gen_range(0..ALPHABET.len())])).collect())
        .collect();
    groups.join("-")
}

/// What a person typed, as the code is compared: capitals, no dashes or
/// spaces.
fn normalise(offered: &str) -> String {
    offered.chars().filter(|c| !c.is_whitespace() && *c != '-').collect::<String>().to_ascii_uppercase()
}

/// Codes are compared by digest, so the comparison's time says nothing of
/// how much of a guess was right.
fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_works_once_and_may_be_typed_loosely() {
        let now = Instant::now();
        let gate = SetupGate::open(now, CODE_LIFETIME);
        let code = gate.code().unwrap();
        assert_eq!(code.len(), GROUPS * GROUP_LENGTH + GROUPS - 1);
        assert_eq!(gate.take("WRONG-CODE", now).unwrap_err(), Refusal::Wrong);
        let typed = code.to_lowercase().replace('-', " ");
        let taken = gate.take(&typed, now).unwrap();
        assert_eq!(gate.take(&code, now).unwrap_err(), Refusal::NotWaiting);
        gate.give_back(taken);
        assert!(gate.take(&code, now).is_ok());
        assert!(!gate.is_waiting(now));
    }

    #[test]
    fn a_code_expires_and_burns_after_wrong_tries() {
        let now = Instant::now();
        let gate = SetupGate::open(now, Duration::from_secs(60));
        let code = gate.code().unwrap();
        assert_eq!(gate.take(&code, now + Duration::from_secs(61)).unwrap_err(), Refusal::Expired);

        let gate = SetupGate::open(now, CODE_LIFETIME);
        let code = gate.code().unwrap();
        for _ in 0..MAX_WRONG_TRIES - 1 {
            assert_eq!(gate.take("nope", now).unwrap_err(), Refusal::Wrong);
        }
        assert_eq!(gate.take("nope", now).unwrap_err(), Refusal::Expired);
        assert_eq!(gate.take(&code, now).unwrap_err(), Refusal::Expired);
        assert!(!gate.is_waiting(now));
        assert!(!SetupGate::closed().is_waiting(now));
    }
}
