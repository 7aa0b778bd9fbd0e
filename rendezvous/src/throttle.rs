//! Attempt throttling that slows attackers down without letting them lock a victim out.
//!
//! Failures are counted per (account, client IP): after a few free failures, each further
//! attempt from that pair waits an exponentially growing delay (capped), reported as
//! `slow_down` with `retry_after`. Failures against other accounts from a shared address (an
//! office, a carrier's NAT) never slow anyone else's sign-in there.
//!
//! Online guessing of one account is bounded per day: at most [`DAILY_FAILURES`] failures in
//! 24 hours from addresses that never signed in to it. Once that is spent, such addresses wait
//! for the day to pass; an address the account signed in from before (within
//! [`TRUSTED_MS`]) is held only to its own pair's delays, so the owner is not locked out.

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

    fn delay(&self, failures: u32) -> u64 {
        if failures < self.free {
            return 0;
        }
        let exp = (failures - self.free).min(30);
        self.base_ms.saturating_mul(1u64 << exp).min(self.max_ms)
    }
}

/// Failures of one account in 24 hours from addresses that never signed in to it.
pub const DAILY_FAILURES: u32 = 100;
const DAY_MS: u64 = 24 * 3_600_000;
/// How long a successful sign-in from an address vouches for it.
pub const TRUSTED_MS: u64 = 30 * DAY_MS;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// (scope:account, address): the pair's own delays.
    Pair(String, IpAddr),
    /// scope:account: failures in the current day from untrusted addresses.
    Day(String),
    /// scope:account, address: a successful sign-in came from here (the value's `last`).
    Trusted(String, IpAddr),
    /// A fixed budget of events per window (sign-ups per address, per email).
    Budget(String),
}

/// In-memory counters (a restart forgets them: it cannot lock anyone out either).
#[derive(Debug, Default)]
pub struct Throttle {
    map: Mutex<HashMap<Key, Entry>>,
}

impl Throttle {
    fn subject(scope: &str, subject: &str) -> String {
        format!("{scope}:{}", subject.trim().to_lowercase())
    }

    fn trusted(map: &HashMap<Key, Entry>, s: &str, ip: IpAddr, now: Timestamp) -> bool {
        map.get(&Key::Trusted(s.to_string(), ip))
            .is_some_and(|e| now.millis_since(e.last) < TRUSTED_MS)
    }

    /// May an attempt on `subject` (an email) from `ip` go ahead now? Err: seconds to wait.
    pub fn check(&self, scope: &str, subject: &str, ip: IpAddr, now: Timestamp) -> Result<(), u64> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let s = Self::subject(scope, subject);
        let mut wait = map
            .get(&Key::Pair(s.clone(), ip))
            .filter(|e| now.millis_since(e.last) < Policy::PAIR.forget_ms)
            .map_or(0, |e| e.not_before.millis_since(now));
        if !Self::trusted(&map, &s, ip, now)
            && let Some(day) = map.get(&Key::Day(s))
            && now.millis_since(day.not_before) < DAY_MS
            && day.failures >= DAILY_FAILURES
        {
            // The day started at the first failure (`not_before`); it ends a day later.
            wait = wait.max(day.not_before.plus_millis(DAY_MS).millis_since(now));
        }
        if wait == 0 {
            Ok(())
        } else {
            Err(wait.div_ceil(1000))
        }
    }

    pub fn failure(&self, scope: &str, subject: &str, ip: IpAddr, now: Timestamp) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let s = Self::subject(scope, subject);
        let p = Policy::PAIR;
        let e = map.entry(Key::Pair(s.clone(), ip)).or_insert(Entry {
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
        if !Self::trusted(&map, &s, ip, now) {
            let day = map.entry(Key::Day(s)).or_insert(Entry {
                failures: 0,
                not_before: now,
                last: now,
            });
            if now.millis_since(day.not_before) >= DAY_MS {
                *day = Entry {
                    failures: 0,
                    not_before: now,
                    last: now,
                };
            }
            day.failures += 1;
            day.last = now;
        }
        if map.len() > 200_000 {
            map.retain(|k, e| match k {
                Key::Trusted(..) => now.millis_since(e.last) < TRUSTED_MS,
                Key::Day(_) => now.millis_since(e.not_before) < DAY_MS,
                Key::Pair(..) => now.millis_since(e.last) < Policy::PAIR.forget_ms,
                Key::Budget(_) => now.millis_since(e.not_before) < DAY_MS,
            });
        }
    }

    /// Spend one of `limit` events allowed per `window_ms` for `key`. Err: seconds until the
    /// window ends (the refused event is not counted).
    pub fn budget(&self, key: &str, limit: u32, window_ms: u64, now: Timestamp) -> Result<(), u64> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let e = map.entry(Key::Budget(key.to_string())).or_insert(Entry {
            failures: 0,
            not_before: now,
            last: now,
        });
        if now.millis_since(e.not_before) >= window_ms {
            *e = Entry {
                failures: 0,
                not_before: now,
                last: now,
            };
        }
        if e.failures >= limit {
            return Err(e
                .not_before
                .plus_millis(window_ms)
                .millis_since(now)
                .div_ceil(1000)
                .max(1));
        }
        e.failures += 1;
        e.last = now;
        Ok(())
    }

    /// Give back one event spent with [`Self::budget`] (the request was not carried out).
    pub fn refund(&self, key: &str) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = map.get_mut(&Key::Budget(key.to_string())) {
            e.failures = e.failures.saturating_sub(1);
        }
    }

    /// A success clears the (account, IP) pair's count and vouches for the address.
    pub fn success(&self, scope: &str, subject: &str, ip: IpAddr, now: Timestamp) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let s = Self::subject(scope, subject);
        map.remove(&Key::Pair(s.clone(), ip));
        map.insert(
            Key::Trusted(s, ip),
            Entry {
                failures: 0,
                not_before: now,
                last: now,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_refunded_event_does_not_count() {
        let t = Throttle::default();
        let now = Timestamp(1_000_000);
        for _ in 0..3 {
            assert!(t.budget("k", 3, 60_000, now).is_ok());
        }
        assert!(t.budget("k", 3, 60_000, now).is_err());
        t.refund("k");
        assert!(t.budget("k", 3, 60_000, now).is_ok());
        assert!(t.budget("k", 3, 60_000, now).is_err());
        // Nothing to give back: nothing happens.
        t.refund("never-spent");
        assert!(t.budget("never-spent", 1, 60_000, now).is_ok());
    }

    #[test]
    fn an_attacker_slows_down_and_the_owner_is_not_locked_out() {
        let t = Throttle::default();
        let attacker = ip("10.0.0.66");
        let victim = ip("10.0.0.7");
        let mut now = Timestamp(1_000_000);
        // The owner signed in from home last week.
        t.success("signin", "v@x.org", victim, now);
        now = now.plus_millis(7 * DAY_MS);
        for _ in 0..5 {
            assert!(t.check("signin", "v@x.org", attacker, now).is_ok());
            t.failure("signin", "v@x.org", attacker, now);
        }
        // The sixth attempt from the attacker must wait.
        assert!(t.check("signin", "v@x.org", attacker, now).is_err());
        // Keep hammering over time (waiting out each delay): delays grow.
        for _ in 0..50 {
            if let Err(s) = t.check("signin", "v@x.org", attacker, now) {
                now = now.plus_millis(s * 1000);
            }
            t.failure("signin", "v@x.org", attacker, now);
        }
        assert!(t.check("signin", "v@x.org", attacker, now).unwrap_err() >= 60);
        // The owner, from their own address, does not wait at all.
        assert_eq!(t.check("signin", "V@X.org", victim, now), Ok(()));
    }

    #[test]
    fn failures_against_others_from_a_shared_address_never_slow_a_victim() {
        let t = Throttle::default();
        let office = ip("192.0.2.10");
        let now = Timestamp(5_000_000);
        for n in 0..5_000 {
            t.failure("signin", &format!("colleague{n}@x.org"), office, now);
        }
        assert_eq!(t.check("signin", "victim@x.org", office, now), Ok(()));
    }

    #[test]
    fn guessing_one_account_is_bounded_per_day_across_addresses() {
        let t = Throttle::default();
        let home = ip("198.51.100.1");
        let start = Timestamp(9_000_000);
        t.success("signin", "v@x.org", home, start);
        // A botnet: each address stays within its pair's free failures.
        let mut now = start;
        let mut spent = 0;
        'outer: for a in 0..255u8 {
            for _ in 0..4 {
                let bot = IpAddr::from([203, 0, 113, a]);
                if t.check("signin", "v@x.org", bot, now).is_err() {
                    break 'outer;
                }
                t.failure("signin", "v@x.org", bot, now);
                spent += 1;
                now = now.plus_millis(10);
            }
        }
        assert_eq!(spent, DAILY_FAILURES, "the day's budget, and not one more");
        let fresh = ip("203.0.114.9");
        let wait = t.check("signin", "v@x.org", fresh, now).unwrap_err();
        assert!(wait > 23 * 3600 && wait <= 24 * 3600, "{wait}");
        // The owner at home is not locked out; other accounts are not touched.
        assert_eq!(t.check("signin", "v@x.org", home, now), Ok(()));
        assert_eq!(t.check("signin", "w@x.org", fresh, now), Ok(()));
        // A day later the budget is back.
        let later = start.plus_millis(DAY_MS + 1);
        assert_eq!(t.check("signin", "v@x.org", fresh, later), Ok(()));
    }
}
