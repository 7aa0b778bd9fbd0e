//! What the profile keeps of the key directory: contacts' keys pinned by verified email, the
//! keys this profile held itself, the directory roots it has seen, and alarms.
//!
//! A pin changes only when the user accepts a new key ([`Store::accept_key`]): a key that
//! differs from the pin is reported, and held back, never re-pinned silently.

use assent_shared::transparency::{self as kt, SignedRoot};
use assent_shared::{Digest, PublicIdentity, Timestamp};
use rusqlite::{OptionalExtension, params};

use super::{Result, Store, StoreError};

/// A contact's pinned key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pin {
    pub email: String,
    pub display_name: String,
    pub identity: PublicIdentity,
    /// The safety number was compared for this key.
    pub verified: bool,
    pub first_seen: u64,
}

/// How a directory-proven key compares with the pin for its email.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PinSeen {
    /// First time this device meets this email: pinned now.
    New,
    /// The pinned key; `verified` if its safety number was compared.
    Same { verified: bool },
    /// Another key than the pinned one: the pin stays until the user accepts the new key.
    Changed { old: Box<PublicIdentity> },
}

/// Something the directory checks found wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alarm {
    pub id: i64,
    /// `unknown_key` (a key this device never held in its own history), `equivocation` (two
    /// signed roots for one epoch), `keys_changed` (the server's directory keys changed).
    pub kind: String,
    pub detail: String,
    pub raised_at: u64,
}

fn identity(bytes: &[u8], what: &str) -> Result<PublicIdentity> {
    PublicIdentity::from_bytes(bytes).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

impl Store {
    /// Compare a directory-proven `identity` for `email` with its pin (pinning it the first
    /// time). A changed key is recorded (once) and reported; the pin does not move.
    pub fn observe_pin(
        &mut self,
        email: &str,
        display_name: &str,
        key: &PublicIdentity,
        now: Timestamp,
    ) -> Result<PinSeen> {
        let mut db = self.db();
        let email = kt::normalize_email(email);
        let bytes = key.to_bytes();
        let tx = db.transaction()?;
        let pinned: Option<(Vec<u8>, bool)> = tx
            .query_row(
                "SELECT identity, verified FROM pins WHERE email = ?1",
                [&email],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let seen = match pinned {
            None => {
                tx.execute(
                    "INSERT INTO pins (email, display_name, identity, first_seen, last_seen)
                     VALUES (?1, ?2, ?3, ?4, ?4)",
                    params![email, display_name, bytes, now.0 as i64],
                )?;
                PinSeen::New
            }
            Some((old, verified)) if old == bytes => {
                tx.execute(
                    "UPDATE pins SET display_name = ?2, last_seen = ?3 WHERE email = ?1",
                    params![email, display_name, now.0 as i64],
                )?;
                PinSeen::Same { verified }
            }
            Some((old, _)) => {
                let known: bool = tx.query_row(
                    "SELECT EXISTS(SELECT 1 FROM pin_changes WHERE email = ?1
                       AND new_identity = ?2 AND accepted_at IS NULL)",
                    params![email, bytes],
                    |r| r.get(0),
                )?;
                if !known {
                    tx.execute(
                        "INSERT INTO pin_changes (email, old_identity, new_identity, seen_at)
                         VALUES (?1, ?2, ?3, ?4)",
                        params![email, old, bytes, now.0 as i64],
                    )?;
                }
                PinSeen::Changed {
                    old: Box::new(identity(&old, "pinned key")?),
                }
            }
        };
        tx.commit()?;
        Ok(seen)
    }

    /// The user compared (or chose to trust) `email`'s new key: it becomes the pin, not yet
    /// verified.
    pub fn accept_key(&mut self, email: &str, key: &PublicIdentity, now: Timestamp) -> Result<()> {
        let mut db = self.db();
        let email = kt::normalize_email(email);
        let bytes = key.to_bytes();
        let tx = db.transaction()?;
        tx.execute(
            "UPDATE pins SET identity = ?2, verified = 0, last_seen = ?3 WHERE email = ?1",
            params![email, bytes, now.0 as i64],
        )?;
        tx.execute(
            "UPDATE pin_changes SET accepted_at = ?3 WHERE email = ?1 AND new_identity = ?2
               AND accepted_at IS NULL",
            params![email, bytes, now.0 as i64],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Mark `email`'s pinned key as compared in person (the safety number matched), if it is
    /// still `key`.
    pub fn mark_verified(&self, email: &str, key: &PublicIdentity) -> Result<bool> {
        let db = self.db();
        let n = db.execute(
            "UPDATE pins SET verified = 1 WHERE email = ?1 AND identity = ?2",
            params![kt::normalize_email(email), key.to_bytes()],
        )?;
        Ok(n == 1)
    }

    pub fn pin(&self, email: &str) -> Result<Option<Pin>> {
        let db = self.db();
        let row: Option<(String, String, Vec<u8>, bool, i64)> = db
            .query_row(
                "SELECT email, display_name, identity, verified, first_seen FROM pins
                 WHERE email = ?1",
                [kt::normalize_email(email)],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        row.map(|(email, display_name, id, verified, first)| {
            Ok(Pin {
                email,
                display_name,
                identity: identity(&id, "pinned key")?,
                verified,
                first_seen: first as u64,
            })
        })
        .transpose()
    }

    /// Key changes seen and not accepted: (email, seen at).
    pub fn pending_key_changes(&self) -> Result<Vec<(String, u64)>> {
        let db = self.db();
        let mut st = db.prepare(
            "SELECT email, seen_at FROM pin_changes WHERE accepted_at IS NULL ORDER BY seen_at",
        )?;
        let rows = st.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A key this profile holds (signed up with, restored, or published): versions of our own
    /// label with these values are ours.
    pub fn add_own_key(&self, key: &PublicIdentity, now: Timestamp) -> Result<()> {
        let db = self.db();
        db.execute(
            "INSERT INTO own_keys (value, identity, since) VALUES (?1, ?2, ?3)
             ON CONFLICT (value) DO NOTHING",
            params![&kt::value(key).0[..], key.to_bytes(), now.0 as i64],
        )?;
        Ok(())
    }

    /// The directory values of every key this profile held.
    pub fn own_key_values(&self) -> Result<Vec<Digest>> {
        let db = self.db();
        let mut st = db.prepare("SELECT value FROM own_keys")?;
        let rows = st.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = Vec::new();
        for r in rows {
            if let Ok(v) = <[u8; 32]>::try_from(r?.as_slice()) {
                out.push(Digest(v));
            }
        }
        Ok(out)
    }

    /// Forget what this profile knew of a directory (another account or server now).
    pub fn forget_directory(&self) -> Result<()> {
        let db = self.db();
        db.execute_batch(
            "DELETE FROM own_keys; DELETE FROM directory_roots;
             DELETE FROM settings WHERE key = 'directory_keys';",
        )?;
        Ok(())
    }

    /// The directory keys pinned for this profile's server.
    pub fn directory_keys(&self) -> Result<Option<kt::DirectoryKeys>> {
        self.setting("directory_keys")?
            .map(|s| {
                serde_json::from_str(&s)
                    .map_err(|e| StoreError::Corrupt(format!("pinned keys: {e}")))
            })
            .transpose()
    }

    pub fn set_directory_keys(&self, keys: &kt::DirectoryKeys) -> Result<()> {
        let s = serde_json::to_string(keys).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.set_setting("directory_keys", &s)
    }

    /// Keep a verified root. Returns a root already kept for the same epoch that contradicts
    /// it (the server equivocated), if any.
    pub fn keep_root(&self, root: &SignedRoot, now: Timestamp) -> Result<Option<SignedRoot>> {
        let kept = self.root(root.epoch())?;
        if let Some(k) = kept {
            return Ok(k.contradicts(root).then_some(k));
        }
        let db = self.db();
        db.execute(
            "INSERT INTO directory_roots (epoch, root, seen_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (epoch) DO NOTHING",
            params![root.epoch() as i64, root.to_bytes(), now.0 as i64],
        )?;
        // A bounded memory: the newest thousand epochs.
        db.execute(
            "DELETE FROM directory_roots WHERE epoch < (SELECT MAX(epoch) FROM directory_roots) - 1000",
            [],
        )?;
        Ok(None)
    }

    pub fn root(&self, epoch: u64) -> Result<Option<SignedRoot>> {
        let db = self.db();
        let b: Option<Vec<u8>> = db
            .query_row(
                "SELECT root FROM directory_roots WHERE epoch = ?1",
                [epoch as i64],
                |r| r.get(0),
            )
            .optional()?;
        Ok(b.and_then(|b| SignedRoot::from_bytes(&b).ok()))
    }

    /// The newest root this profile has accepted.
    pub fn newest_root(&self) -> Result<Option<SignedRoot>> {
        let db = self.db();
        let b: Option<Vec<u8>> = db
            .query_row(
                "SELECT root FROM directory_roots ORDER BY epoch DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        Ok(b.and_then(|b| SignedRoot::from_bytes(&b).ok()))
    }

    pub fn raise_alarm(
        &self,
        kind: &str,
        detail: &str,
        evidence: Option<&[u8]>,
        now: Timestamp,
    ) -> Result<()> {
        let db = self.db();
        let exists: bool = db.query_row(
            "SELECT EXISTS(SELECT 1 FROM directory_alarms WHERE kind = ?1 AND detail = ?2)",
            params![kind, detail],
            |r| r.get(0),
        )?;
        if !exists {
            db.execute(
                "INSERT INTO directory_alarms (kind, detail, evidence, raised_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![kind, detail, evidence, now.0 as i64],
            )?;
        }
        Ok(())
    }

    pub fn alarms(&self) -> Result<Vec<Alarm>> {
        let db = self.db();
        let mut st = db.prepare(
            "SELECT id, kind, detail, raised_at FROM directory_alarms ORDER BY raised_at",
        )?;
        let rows = st.query_map([], |r| {
            Ok(Alarm {
                id: r.get(0)?,
                kind: r.get(1)?,
                detail: r.get(2)?,
                raised_at: r.get::<_, i64>(3)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The evidence kept with an alarm (e.g. the two contradicting signed roots).
    pub fn alarm_evidence(&self, id: i64) -> Result<Option<Vec<u8>>> {
        let db = self.db();
        Ok(db
            .query_row(
                "SELECT evidence FROM directory_alarms WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use assent_shared::SecretIdentity;

    #[test]
    fn pins_by_email_hold_a_changed_key_until_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profile.db");
        let mut s = Store::open(&path).unwrap();
        let a = SecretIdentity::from_seed([1; 32], Timestamp(0));
        let b = SecretIdentity::from_seed([2; 32], Timestamp(0));
        let t = Timestamp(1000);
        assert_eq!(
            s.observe_pin("Ann@example.org", "Ann", a.public(), t)
                .unwrap(),
            PinSeen::New
        );
        assert_eq!(
            s.observe_pin("ann@example.org", "Ann", a.public(), t)
                .unwrap(),
            PinSeen::Same { verified: false }
        );
        assert!(s.mark_verified("ann@example.org", a.public()).unwrap());
        assert!(!s.mark_verified("ann@example.org", b.public()).unwrap());
        let changed = s
            .observe_pin("ann@example.org", "Ann", b.public(), t)
            .unwrap();
        assert!(matches!(changed, PinSeen::Changed { old } if *old == *a.public()));
        // Seen twice, recorded once; the pin has not moved.
        s.observe_pin("ann@example.org", "Ann", b.public(), t)
            .unwrap();
        assert_eq!(s.pending_key_changes().unwrap().len(), 1);
        assert_eq!(
            s.pin("ann@example.org").unwrap().unwrap().identity,
            *a.public()
        );
        drop(s);
        let mut s = Store::open(&path).unwrap();
        s.accept_key("ann@example.org", b.public(), t).unwrap();
        let pin = s.pin("ann@example.org").unwrap().unwrap();
        assert_eq!((pin.identity, pin.verified), (b.public().clone(), false));
        assert!(s.pending_key_changes().unwrap().is_empty());
    }

    #[test]
    fn roots_keep_the_first_of_an_epoch_and_report_contradictions() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("p.db")).unwrap();
        let k = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
        let body = |hash: u8, time: u64| kt::RootBody {
            version: kt::ROOT_VERSION,
            epoch: 3,
            root_hash: Digest([hash; 32]),
            previous: Digest([0; 32]),
            time: Timestamp(time),
        };
        let a = SignedRoot::sign(&k, body(1, 10));
        assert_eq!(s.keep_root(&a, Timestamp(10)).unwrap(), None);
        let resigned = SignedRoot::sign(&k, body(1, 20));
        assert_eq!(s.keep_root(&resigned, Timestamp(20)).unwrap(), None);
        let fork = SignedRoot::sign(&k, body(2, 20));
        assert_eq!(s.keep_root(&fork, Timestamp(20)).unwrap(), Some(a));
        assert_eq!(s.newest_root().unwrap(), Some(a));
        s.raise_alarm("equivocation", "epoch 3", Some(b"x"), Timestamp(20))
            .unwrap();
        s.raise_alarm("equivocation", "epoch 3", Some(b"x"), Timestamp(21))
            .unwrap();
        let alarms = s.alarms().unwrap();
        assert_eq!(alarms.len(), 1);
        assert_eq!(
            s.alarm_evidence(alarms[0].id).unwrap().as_deref(),
            Some(&b"x"[..])
        );
    }
}
