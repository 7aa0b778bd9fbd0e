//! Attempt throttling that slows attackers down without letting them lock a victim out.
//!
//! Failures are counted per (account, client IP) and per client IP. After a few free failures,
//! each further attempt must wait an exponentially growing delay (capped), reported as
//! `slow_down` with `retry_after`. Failures from an attacker's IP never delay the victim's own
//! IP; an account-wide counter only adds a short, capped delay, so the owner can always sign in.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use assent_shared::Timestamp;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    not_before: Timestamp,
    last: Timestamp,
}

/// Policy for one kind of attempt.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Failures allowed before delays start.
    pub free: u32,
    /// First delay, doubled each further failure.
    pub base_ms: u64,
    /// Longest delay.
    pub max_ms: u64,
    /// Failures are forgotten after this long without one.
    pub forget_ms: u64,
}

impl Policy {
    pub const PAIR: Policy = Policy {
        free: 5,
        base_ms: 1_000,
        max_ms: 5 * 60_000,
        forget_ms: 3_600_000,
    };
    pub const IP: Policy = Policy {
        free: 30,
        base_ms: 1_000,
        max_ms: 5 * 60_000,
        forget_ms: 3_600_000,
    };
    pub const ACCOUNT: Policy = Policy {
        free: 50,
        base_ms: 500,
        max_ms: 5_000,
        forget_ms: 3_600_000,
    };

    fn delay(&self, failures: u32) -> u64 {
        if failures < self.free {
            return 0;
        }
        let exp = (failures - self.free).min(30);
        self.base_ms.saturating_mul(1u64 << exp).min(self.max_ms)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Pair(String, IpAddr),
    Ip(IpAddr),
    Account(String),
}

/// In-memory counters (a restart forgets them: it cannot lock anyone out either).
#[derive(Debug, Default)]
pub struct Throttle {
    map: Mutex<HashMap<Key, Entry>>,
}

impl Throttle {
    fn keys(scope: &str, subject: &str, ip: IpAddr) -> [(Key, Policy); 3] {
        let s = format!("{scope}:{}", subject.to_lowercase());
        [
            (Key::Pair(s.clone(), ip), Policy::PAIR),
            (Key::Ip(ip), Policy::IP),
            (Key::Account(s), Policy::ACCOUNT),
        ]
    }

    /// May an attempt on `subject` (an email) from `ip` go ahead now? Err: seconds to wait.
    pub fn check(&self, scope: &str, subject: &str, ip: IpAddr, now: Timestamp) -> Result<(), u64> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let wait = Self::keys(scope, subject, ip)
            .iter()
            .filter_map(|(k, p)| {
                map.get(k)
                    .filter(|e| now.millis_since(e.last) < p.forget_ms)
            })
            .map(|e| e.not_before.millis_since(now))
            .max()
            .unwrap_or(0);
        if wait == 0 {
            Ok(())
        } else {
            Err(wait.div_ceil(1000))
        }
    }

    pub fn failure(&self, scope: &str, subject: &str, ip: IpAddr, now: Timestamp) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        for (k, p) in Self::keys(scope, subject, ip) {
            let e = map.entry(k).or_insert(Entry {
                failures: 0,
                not_before: now,
                last: now,
            });
            if now.millis_since(e.last) >= p.forget_ms {
                e.failures = 0;
            }
            e.failures += 1;
            e.last = now;
            e.not_before = now.plus_millis(p.delay(e.failures));
        }
        if map.len() > 200_000 {
            map.retain(|_, e| now.millis_since(e.last) < 3_600_000);
        }
    }

    /// A success clears the (account, IP) pair's count only.
    pub fn success(&self, scope: &str, subject: &str, ip: IpAddr) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&Key::Pair(
            format!("{scope}:{}", subject.to_lowercase()),
            ip,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attacker_slows_down_victim_does_not_get_locked_out() {
        let t = Throttle::default();
        let attacker: IpAddr = "10.0.0.66".parse().unwrap();
        let victim: IpAddr = "10.0.0.7".parse().unwrap();
        let mut now = Timestamp(1_000_000);
        for _ in 0..5 {
            assert!(t.check("signin", "v@x.org", attacker, now).is_ok());
            t.failure("signin", "v@x.org", attacker, now);
        }
        // The sixth attempt from the attacker must wait.
        assert!(t.check("signin", "v@x.org", attacker, now).is_err());
        // Keep hammering over time (waiting out each delay): delays grow.
        for _ in 0..100 {
            if let Err(s) = t.check("signin", "v@x.org", attacker, now) {
                now = now.plus_millis(s * 1000);
            }
            t.failure("signin", "v@x.org", attacker, now);
        }
        assert!(t.check("signin", "v@x.org", attacker, now).unwrap_err() >= 60);
        // The victim, from their own address, waits at most the capped account delay.
        let wait = t.check("signin", "V@X.org", victim, now).err().unwrap_or(0);
        assert!(wait <= 5, "victim waits {wait}s");
    }
}
