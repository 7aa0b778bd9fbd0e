//! Key transparency on the client: the server's key directory is believed only with proofs.
//!
//! - The directory's keys (root signing, VRF) are pinned per profile the first time the
//!   client meets the server; a server that later presents other keys raises an alarm.
//! - Every peer's key is checked with a lookup proof for their email against a fresh signed
//!   root that is not older than one already seen ([`vet`]).
//! - The client monitors its own email's key history against the keys it held itself
//!   ([`check_own_keys`]): a version it never held is an alarm.
//! - Every root accepted is kept; two different signed roots for one epoch are proof that the
//!   server equivocated, kept as evidence.
//!
//! The async functions here take owned data and do only network IO; the profile's store is
//! read before and written after, by the caller (it is not `Sync`).

use std::time::Duration;

use assent_shared::transparency::{
    self as kt, DirectoryKeys, Equivocation, KtError, MAX_ROOT_AGE_MS, SignedRoot, Version,
};
use assent_shared::{Digest, PublicIdentity, Timestamp};

use crate::api::{Api, ApiError};
use crate::store::{Store, StoreError};

/// Why a key could not be believed, in words for the person using the app.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DirectoryError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("local store: {0}")]
    Store(String),
    #[error("{0}")]
    Kt(#[from] KtError),
    #[error(
        "the server presents other key directory keys ({served}) than the ones pinned for it \
         ({pinned}): it may be showing this device a different directory"
    )]
    KeysChanged { pinned: String, served: String },
    #[error("{0} has no key in the directory yet")]
    NotPublished(String),
    #[error("{email}'s key is not what the directory has published")]
    KeyMismatch { email: String },
    #[error("{email}'s account has been deleted from the directory")]
    Deleted { email: String },
    #[error(
        "the server showed two different directories for epoch {}: it is lying about keys \
         (the two signed roots are kept as evidence)", .0.a.epoch()
    )]
    Equivocation(Box<Equivocation>),
    #[error("this profile has not pinned the server's directory keys: sign in again")]
    NoPin,
}

impl From<StoreError> for DirectoryError {
    fn from(e: StoreError) -> Self {
        DirectoryError::Store(e.to_string())
    }
}

pub type Result<T, E = DirectoryError> = std::result::Result<T, E>;

/// The server's directory keys, checked against the profile's pin (`pinned`).
pub async fn server_keys(api: &Api, pinned: Option<DirectoryKeys>) -> Result<DirectoryKeys> {
    let served = api.kt_keys().await?;
    match pinned {
        Some(p) if p != served => Err(DirectoryError::KeysChanged {
            pinned: p.fingerprint(),
            served: served.fingerprint(),
        }),
        _ => Ok(served),
    }
}

/// Pin the server's directory keys in the profile (the first time), or check them.
pub async fn pin_server_keys(api: &Api, store: &Store) -> Result<DirectoryKeys> {
    let pinned = store.directory_keys()?;
    let keys = match server_keys(api, pinned).await {
        Ok(k) => k,
        Err(e @ DirectoryError::KeysChanged { .. }) => {
            store.raise_alarm("keys_changed", &e.to_string(), None, Timestamp::now())?;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    if pinned.is_none() {
        store.set_directory_keys(&keys)?;
    }
    Ok(keys)
}

/// What a successful check proved.
#[derive(Clone, Copy, Debug)]
pub struct Vetted {
    pub root: SignedRoot,
}

/// Check that the directory holds `identity` for `email`: a lookup proof against a root signed
/// by the pinned key, fresh, and not older than epoch `newest`. A key not published yet (a new
/// account, a key changed a moment ago) is waited for, up to `wait`.
pub async fn vet(
    api: &Api,
    keys: &DirectoryKeys,
    newest: Option<u64>,
    email: &str,
    identity: &PublicIdentity,
    wait: Duration,
) -> Result<Vetted> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let outcome = vet_once(api, keys, newest, email, identity).await;
        let retry = matches!(
            outcome,
            Err(DirectoryError::NotPublished(_) | DirectoryError::KeyMismatch { .. })
        );
        if !retry || tokio::time::Instant::now() >= deadline {
            return outcome;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn vet_once(
    api: &Api,
    keys: &DirectoryKeys,
    newest: Option<u64>,
    email: &str,
    identity: &PublicIdentity,
) -> Result<Vetted> {
    let email = kt::normalize_email(email);
    let l = match api.kt_lookup(&email).await {
        Ok(l) => l,
        Err(e) if e.code() == Some(assent_shared::api::ErrorCode::NotInDirectory) => {
            return Err(DirectoryError::NotPublished(email));
        }
        Err(e) => return Err(e.into()),
    };
    kt::check_root(keys, &l.root, Timestamp::now(), MAX_ROOT_AGE_MS, newest)?;
    let proven = kt::verify_lookup(keys, &l.root, &email, &l.proof.0)?;
    match proven.check(identity) {
        Ok(()) => Ok(Vetted { root: l.root }),
        Err(KtError::Deleted) => Err(DirectoryError::Deleted { email }),
        Err(_) => Err(DirectoryError::KeyMismatch { email }),
    }
}

/// The newest root the server vouches for (checked like any other).
pub async fn head(api: &Api, keys: &DirectoryKeys, newest: Option<u64>) -> Result<SignedRoot> {
    let root = api.kt_head().await?;
    kt::check_root(keys, &root, Timestamp::now(), MAX_ROOT_AGE_MS, newest)?;
    Ok(root)
}

/// Keep a verified root in the profile; a contradiction with one kept earlier is proof that
/// the server equivocated: kept as an alarm with the evidence, and returned as an error.
pub fn keep_root(store: &Store, keys: &DirectoryKeys, root: &SignedRoot) -> Result<()> {
    let now = Timestamp::now();
    if let Some(earlier) = store.keep_root(root, now)? {
        let e = Equivocation::of(&keys.signing, earlier, *root)?;
        record_equivocation(store, &e)?;
        return Err(DirectoryError::Equivocation(Box::new(e)));
    }
    Ok(())
}

/// Keep the evidence of an equivocation (from our own checks or a peer's gossip).
pub fn record_equivocation(store: &Store, e: &Equivocation) -> Result<()> {
    let evidence = serde_json::to_vec(e).unwrap_or_default();
    store.raise_alarm(
        "equivocation",
        &format!(
            "the server signed two different directories for epoch {}",
            e.a.epoch()
        ),
        Some(&evidence),
        Timestamp::now(),
    )?;
    Ok(())
}

/// The versions of one's own key that this device cannot account for: any version newer than
/// the oldest one whose key this device held, that it did not hold (a key published in its
/// name by someone else). If it held none of them, all are unaccounted for.
pub fn unknown_versions(versions: &[Version], own: &[Digest]) -> Vec<Version> {
    let oldest_own = versions
        .iter()
        .filter(|v| own.contains(&v.value))
        .map(|v| v.version)
        .min();
    versions
        .iter()
        .filter(|v| !own.contains(&v.value))
        .filter(|v| oldest_own.is_none_or(|o| v.version > o))
        .copied()
        .collect()
}

/// What the check of one's own key history found.
#[derive(Clone, Debug)]
pub struct OwnKeys {
    pub root: SignedRoot,
    /// Every version, newest first.
    pub versions: Vec<Version>,
    /// Versions this device did not publish nor hold: each is an alarm.
    pub unknown: Vec<Version>,
}

/// Check this account's key history against the keys this device held (`own`).
pub async fn own_history(
    api: &Api,
    keys: &DirectoryKeys,
    newest: Option<u64>,
    email: &str,
    own: &[Digest],
) -> Result<OwnKeys> {
    let h = match api.kt_history().await {
        Ok(h) => h,
        Err(e) if e.code() == Some(assent_shared::api::ErrorCode::NotInDirectory) => {
            return Err(DirectoryError::NotPublished(kt::normalize_email(email)));
        }
        Err(e) => return Err(e.into()),
    };
    kt::check_root(keys, &h.root, Timestamp::now(), MAX_ROOT_AGE_MS, newest)?;
    let versions = kt::verify_history(keys, &h.root, email, &h.proof.0)?;
    let unknown = unknown_versions(&versions, own);
    Ok(OwnKeys {
        root: h.root,
        versions,
        unknown,
    })
}

/// Check one's own key history with the profile's pins and keys, and record what it found
/// (the root kept, an alarm per unknown version).
pub async fn check_own_keys(api: &Api, store: &Store, email: &str) -> Result<OwnKeys> {
    let keys = store.directory_keys()?.ok_or(DirectoryError::NoPin)?;
    let newest = store.newest_root()?.map(|r| r.epoch());
    let own = store.own_key_values()?;
    let checked = own_history(api, &keys, newest, email, &own).await?;
    keep_root(store, &keys, &checked.root)?;
    for v in &checked.unknown {
        store.raise_alarm(
            "unknown_key",
            &format!(
                "a key this device never held was published for {} (version {}, epoch {})",
                kt::normalize_email(email),
                v.version,
                v.epoch
            ),
            None,
            Timestamp::now(),
        )?;
    }
    Ok(checked)
}

/// What a check of the directory from this profile found.
#[derive(Clone, Debug)]
pub struct Checkup {
    pub keys: DirectoryKeys,
    /// The newest root the server vouches for (kept).
    pub head: SignedRoot,
    /// Our own key's history; `None` while our key is not in an epoch yet.
    pub own: Option<OwnKeys>,
    /// Every alarm this profile has raised so far (this check's included).
    pub alarms: Vec<crate::store::Alarm>,
}

/// Check the directory as this profile sees it: the server's keys against the pin, its
/// newest root against every root kept (a contradiction is an equivocation), and our own key
/// history against the keys we held. What is wrong is raised as an alarm and kept.
pub async fn checkup(api: &Api, store: &Store, email: &str) -> Result<Checkup> {
    let keys = pin_server_keys(api, store).await?;
    let newest = store.newest_root()?.map(|r| r.epoch());
    let head = head(api, &keys, newest).await?;
    match keep_root(store, &keys, &head) {
        Ok(()) | Err(DirectoryError::Equivocation(_)) => {}
        Err(e) => return Err(e),
    }
    let own = match check_own_keys(api, store, email).await {
        Ok(o) => Some(o),
        Err(DirectoryError::NotPublished(_)) => None,
        Err(DirectoryError::Equivocation(_)) => None,
        Err(e) => return Err(e),
    };
    Ok(Checkup {
        keys,
        head,
        own,
        alarms: store.alarms()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(version: u64, value: u8) -> Version {
        Version {
            version,
            epoch: version * 10,
            value: Digest([value; 32]),
        }
    }

    #[test]
    fn unknown_versions_are_those_after_the_first_known() {
        let mine = [Digest([2; 32]), Digest([3; 32])];
        // Newest first: 4 (someone else's), 3 (mine), 2 (mine), 1 (before this device).
        let history = [v(4, 9), v(3, 3), v(2, 2), v(1, 1)];
        assert_eq!(unknown_versions(&history, &mine), vec![v(4, 9)]);
        assert!(unknown_versions(&history[1..], &mine).is_empty());
        // None of them ours: all unaccounted for.
        assert_eq!(unknown_versions(&[v(1, 7)], &mine), vec![v(1, 7)]);
        assert!(unknown_versions(&[], &mine).is_empty());
    }
}
