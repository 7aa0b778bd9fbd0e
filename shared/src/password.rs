//! The password policy, after NIST SP 800-63B: 8 to 128 characters, anything allowed (spaces,
//! any script), no composition rules, but common, repetitive or personal passwords are refused,
//! and so is anything the zxcvbn estimator (with its frequency lists of common passwords,
//! words and names, and the user's own email and name) puts under 10^10 guesses.
//!
//! Assent derives the authentication secret from the password on the client, so the server never
//! sees the password and cannot check it: the policy is enforced here, by every client, and shown
//! live in the UI. (A modified client could choose a weak password for its own account; it only
//! weakens that user's own protection.)

use serde::{Deserialize, Serialize};

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 128;

/// The shipped blocklist: one lowercase password a line, `#` lines are comments.
const COMMON: &str = include_str!("../data/common-passwords.txt");

/// The breached password list (about 200,000 passwords of 8 or more characters from published
/// breaches, via SecLists): the first [`BREACHED_ENTRY`] bytes of the SHA-256 of each lowercased
/// password, sorted. Rebuilt from its pinned source by `cargo xtask breached-passwords`.
const BREACHED: &[u8] = include_bytes!("../data/breached-passwords.bin");
const BREACHED_ENTRY: usize = 5;

/// One rule a password breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Fewer than 8 characters.
    TooShort,
    /// More than 128 characters.
    TooLong,
    /// On the list of commonly used passwords, or of passwords from published breaches.
    Common,
    /// One character repeated, or a run like `12345678` / `abcdefgh`.
    Repetitive,
    /// Contains the email address's name or the display name.
    Personal,
    /// Too easy to guess: fewer than 10^10 guesses by the zxcvbn estimator (dictionary words,
    /// names, keyboard patterns, dates, l33t substitutions and the like).
    Guessable,
}

impl Rule {
    /// What the UI shows.
    pub fn message(self) -> &'static str {
        match self {
            Rule::TooShort => "Use at least 8 characters.",
            Rule::TooLong => "Use at most 128 characters.",
            Rule::Common => {
                "This password is too common or has appeared in a data breach; choose another."
            }
            Rule::Repetitive => "Avoid repeated characters and simple runs like 12345678.",
            Rule::Personal => "Don't use your name or email address.",
            Rule::Guessable => {
                "Too easy to guess: add another word or two, or characters that follow no pattern."
            }
        }
    }
}

fn is_common(lower: &str) -> bool {
    COMMON.lines().any(|l| !l.starts_with('#') && l == lower) || is_breached(lower)
}

/// Is the (lowercased) password on the breached list? A binary search in place.
fn is_breached(lower: &str) -> bool {
    use sha2::Digest as _;
    let h = sha2::Sha256::digest(lower.as_bytes());
    let key = &h[..BREACHED_ENTRY];
    let (mut lo, mut hi) = (0, BREACHED.len() / BREACHED_ENTRY);
    while lo < hi {
        let mid = (lo + hi) / 2;
        let at = &BREACHED[mid * BREACHED_ENTRY..(mid + 1) * BREACHED_ENTRY];
        match at.cmp(key) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

fn is_repetitive(chars: &[char]) -> bool {
    if chars.len() < 2 {
        return false;
    }
    let same = chars.windows(2).all(|w| w[0] == w[1]);
    let step = |d: i64| {
        chars
            .windows(2)
            .all(|w| i64::from(u32::from(w[1])) - i64::from(u32::from(w[0])) == d)
    };
    same || step(1) || step(-1)
}

/// Every rule `password` breaks (empty: acceptable). `personal` are the user's email address
/// and display name.
pub fn check(password: &str, personal: &[&str]) -> Vec<Rule> {
    let chars: Vec<char> = password.chars().collect();
    let mut broken = Vec::new();
    if chars.len() < MIN_CHARS {
        broken.push(Rule::TooShort);
    }
    if chars.len() > MAX_CHARS {
        broken.push(Rule::TooLong);
    }
    let lower = password.to_lowercase();
    if is_common(&lower) {
        broken.push(Rule::Common);
    }
    if is_repetitive(&chars) {
        broken.push(Rule::Repetitive);
    }
    let personal_hit = personal.iter().any(|p| {
        let p = p.to_lowercase();
        let name = p.split('@').next().unwrap_or("");
        [p.as_str(), name]
            .iter()
            .any(|w| w.chars().count() >= 4 && lower.contains(w))
    });
    if personal_hit {
        broken.push(Rule::Personal);
    }
    // The estimator, once the simpler rules hold (it would only repeat them).
    if broken.is_empty() && guesses_log10(password, personal) < MIN_GUESSES_LOG10 {
        broken.push(Rule::Guessable);
    }
    broken
}

/// A password must need at least 10^10 guesses (zxcvbn's score 3): at the client's Argon2id cost
/// (64 MiB, 3 passes; tens of guesses a second per core) that is centuries of one core.
pub const MIN_GUESSES_LOG10: f64 = 10.0;

/// zxcvbn's estimate of the guesses `password` needs (log10), knowing the user's `personal`
/// words.
pub fn guesses_log10(password: &str, personal: &[&str]) -> f64 {
    let mut words: Vec<&str> = Vec::new();
    for p in personal {
        words.push(p);
        words.extend(
            p.split(|c: char| !c.is_alphanumeric())
                .filter(|w| w.len() >= 3),
        );
    }
    zxcvbn::zxcvbn(password, &words).guesses_log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert_eq!(check("short", &[]), vec![Rule::TooShort]);
        assert_eq!(
            check(&"x".repeat(129), &[]),
            vec![Rule::TooLong, Rule::Repetitive]
        );
        assert_eq!(check("Password1", &[]), vec![Rule::Common]);
        assert_eq!(check("12345678", &[]), vec![Rule::Common, Rule::Repetitive]);
        assert_eq!(check("hgfedcba", &[]), vec![Rule::Common, Rule::Repetitive]);
        assert_eq!(check("hgfedcbz", &[]), vec![Rule::Guessable]);
        assert_eq!(
            check(
                "alice-in-the-garden",
                &["alice.smith@example.org", "Alice Smith"]
            ),
            vec![]
        );
        assert_eq!(
            check("my alice.smith pass", &["alice.smith@example.org"]),
            vec![Rule::Personal]
        );
        assert_eq!(check("correct horse battery staple", &[]), vec![]);
        assert_eq!(check("пароль-надёжный и длинный", &[]), vec![]);
        // Past the simple rules, the estimator: words, names, dates and keyboard walks.
        for weak in [
            "iloveyou2024",
            "qwertyuiop",
            "P@ssw0rd!",
            "Summer2019!",
            "monkey dragon",
            "alice1985smith",
        ] {
            let personal = ["alice@example.org", "Alice Smith"];
            assert!(
                guesses_log10(weak, &personal) < MIN_GUESSES_LOG10,
                "{weak}: {}",
                guesses_log10(weak, &personal)
            );
            assert!(!check(weak, &personal).is_empty(), "{weak}");
        }
        // Ones the old rules let through.
        assert_eq!(check("Summer2019!", &[]), vec![Rule::Guessable]);
        assert_eq!(check("monkey dragon", &[]), vec![Rule::Guessable]);
        for strong in [
            "a long and private passphrase",
            "a long enough passphrase",
            "correct horse battery staple",
            "tX9#vq2!Lm8@",
        ] {
            assert_eq!(check(strong, &[]), vec![], "{strong}");
        }
    }

    /// Breached passwords the estimator alone would let through are refused, whatever their
    /// case; the table is well formed.
    #[test]
    fn the_breached_list_is_shipped_and_searched() {
        assert_eq!(BREACHED.len() % BREACHED_ENTRY, 0);
        let n = BREACHED.len() / BREACHED_ENTRY;
        assert!(n > 190_000, "{n} entries");
        assert!(
            BREACHED
                .chunks(BREACHED_ENTRY)
                .zip(BREACHED.chunks(BREACHED_ENTRY).skip(1))
                .all(|(a, b)| a < b),
            "sorted, each once"
        );
        for leaked in ["c7e4f8EzqH", "23WKoa0FP78dk", "BMVM3E46GTR"] {
            assert!(
                guesses_log10(leaked, &[]) >= MIN_GUESSES_LOG10,
                "{leaked}: the estimator alone lets it through"
            );
            assert_eq!(check(leaked, &[]), vec![Rule::Common], "{leaked}");
        }
        assert!(!is_breached("a long and private passphrase"));
    }

    #[test]
    fn blocklist_is_loaded() {
        assert!(COMMON.lines().filter(|l| !l.starts_with('#')).count() > 500);
        assert!(
            COMMON
                .lines()
                .filter(|l| !l.starts_with('#'))
                .all(|l| l == l.to_lowercase() && l.chars().count() >= 8)
        );
    }
}
