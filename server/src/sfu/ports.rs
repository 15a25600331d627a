//! The UDP ports media may use. With a configured range (for a firewall
//! that opens exactly those), each peer connection takes one free port from
//! it and gives it back when it closes; without one, the system picks.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;
use std::sync::Mutex;

pub struct PortPool {
    range: Option<RangeInclusive<u16>>,
    /// Held only to pick or return a port; never across an await.
    in_use: Mutex<BTreeSet<u16>>,
}

impl PortPool {
    pub fn new(range: Option<RangeInclusive<u16>>) -> Self {
        Self { range, in_use: Mutex::new(BTreeSet::new()) }
    }

    /// Ports to try, in order, for one new connection: the free ports of the
    /// range (each reserved as it is handed out), or `0` (any) without a range.
    pub fn candidates(&self) -> Vec<u16> {
        match &self.range {
            None => vec![0],
            Some(range) => {
                let in_use = self.in_use.lock().expect("port pool poisoned");
                range.clone().filter(|port| !in_use.contains(port)).collect()
            }
        }
    }

    /// Marks a port taken; false when another connection got it first.
    pub fn take(&self, port: u16) -> bool {
        port == 0 || self.in_use.lock().expect("port pool poisoned").insert(port)
    }

    pub fn release(&self, port: u16) {
        if port != 0 {
            self.in_use.lock().expect("port pool poisoned").remove(&port);
        }
    }

    /// Ports of the range in use now.
    pub fn used(&self) -> usize {
        self.in_use.lock().expect("port pool poisoned").len()
    }
}

/// Parses `50000-50999`.
pub fn parse_range(text: &str) -> Result<RangeInclusive<u16>, String> {
    let (low, high) = text.split_once('-').ok_or("use the form 50000-50999")?;
    let low: u16 = low.trim().parse().map_err(|_| "the first port is not a number")?;
    let high: u16 = high.trim().parse().map_err(|_| "the last port is not a number")?;
    if low == 0 || high < low {
        return Err("the range must be ascending and above 0".into());
    }
    Ok(low..=high)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_handed_out_once_and_returned() {
        let pool = PortPool::new(Some(parse_range("50000-50001").unwrap()));
        assert_eq!(pool.candidates(), vec![50000, 50001]);
        assert!(pool.take(50000));
        assert!(!pool.take(50000));
        assert_eq!(pool.candidates(), vec![50001]);
        pool.release(50000);
        assert_eq!(pool.used(), 0);
        assert!(parse_range("9-3").is_err());
    }
}
