//! The auditor: anyone can check that a server's key directory only ever grows.
//!
//! From the last epoch it audited (kept in a state file) to the newest, it fetches every
//! epoch's signed root, checks each signature with the directory key it pinned on its first
//! run, checks that the roots chain (each names the one before), and verifies `akd`'s
//! append-only proof of every step. A server that rewrote its past, skipped an epoch, signed
//! two roots for one epoch, or changed its directory key fails here, with the evidence.
//! Run it from cron: each run picks up where the last stopped.

use std::path::Path;

use assent_shared::transparency::{
    self as kt, Config, DirectoryKeys, Equivocation, KtError, SignedRoot,
};
use serde::{Deserialize, Serialize};

use crate::api::{Api, ApiError};

/// Roots fetched per request.
const PAGE: usize = 500;

/// What the auditor remembers between runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditState {
    pub server: String,
    /// The directory keys pinned on the first run.
    pub keys: DirectoryKeys,
    /// The newest epoch whose root was audited (append-only from the one before).
    pub root: SignedRoot,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("{0}")]
    Kt(#[from] KtError),
    #[error("the state file {0}: {1}")]
    State(String, String),
    #[error(
        "the server's directory keys changed since the first audit ({pinned} then, {served} \
         now): its directory cannot be trusted to be the one audited"
    )]
    KeysChanged { pinned: String, served: String },
    #[error(
        "the server now shows another root for epoch {epoch} than the one audited before: it \
         rewrote its past (both signed roots are printed as evidence)"
    )]
    Rewritten {
        epoch: u64,
        evidence: Box<Equivocation>,
    },
    #[error("the server's epochs do not chain at epoch {0}: an epoch was skipped or rewritten")]
    Gap(u64),
    #[error("the append-only proof from epoch {epoch} to {} does not verify: {why}", epoch + 1)]
    NotAppendOnly { epoch: u64, why: String },
    #[error("the server's newest epoch ({served}) is older than one already audited ({audited})")]
    RolledBack { served: u64, audited: u64 },
}

/// What one run did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    pub from_epoch: u64,
    pub to_epoch: u64,
    /// Epoch steps whose append-only proof was verified in this run.
    pub verified_steps: u64,
    pub keys_fingerprint: String,
}

pub fn load_state(path: &Path) -> Result<Option<AuditState>, AuditError> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| AuditError::State(path.display().to_string(), e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(AuditError::State(path.display().to_string(), e.to_string())),
    }
}

/// Write the state atomically (a crash leaves the previous state, never half of one).
pub fn save_state(path: &Path, state: &AuditState) -> Result<(), AuditError> {
    let err = |e: std::io::Error| AuditError::State(path.display().to_string(), e.to_string());
    let tmp = path.with_extension("partial");
    let bytes = serde_json::to_vec_pretty(state).unwrap_or_default();
    std::fs::write(&tmp, bytes).map_err(err)?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// Audit `api`'s directory from `state` (or from epoch 0) to its newest epoch. `save` is
/// called after every verified step, so an interrupted run keeps its progress.
pub async fn audit(
    api: &Api,
    state: Option<AuditState>,
    mut save: impl FnMut(&AuditState) -> Result<(), AuditError>,
) -> Result<(AuditState, AuditReport), AuditError> {
    let served = api.kt_keys().await?;
    if let Some(s) = &state
        && s.keys != served
    {
        return Err(AuditError::KeysChanged {
            pinned: s.keys.fingerprint(),
            served: served.fingerprint(),
        });
    }
    let keys = served;
    let head = api.kt_head().await?;
    head.verify(&keys.signing)?;
    let mut last: Option<SignedRoot> = state.as_ref().map(|s| s.root);
    if let Some(l) = last
        && head.epoch() < l.epoch()
    {
        return Err(AuditError::RolledBack {
            served: head.epoch(),
            audited: l.epoch(),
        });
    }
    let from = last.map_or(0, |r| r.epoch());
    let mut steps = 0;
    let mut next = from;
    loop {
        let roots = api.kt_roots(next, PAGE).await?;
        if roots.is_empty() {
            break;
        }
        for root in roots {
            if follows(api, &keys, last, root).await? {
                steps += 1;
            }
            last = Some(root);
            let s = AuditState {
                server: api.base().to_string(),
                keys,
                root,
            };
            save(&s)?;
            next = root.epoch() + 1;
        }
    }
    let root = last.ok_or(AuditError::Gap(0))?;
    // The head vouches for the newest epoch audited (not a fork of it).
    if head.epoch() == root.epoch() && head.contradicts(&root) {
        return Err(AuditError::Rewritten {
            epoch: root.epoch(),
            evidence: Box::new(Equivocation::of(&keys.signing, root, head)?),
        });
    }
    let report = AuditReport {
        from_epoch: from,
        to_epoch: root.epoch(),
        verified_steps: steps,
        keys_fingerprint: keys.fingerprint(),
    };
    Ok((
        AuditState {
            server: api.base().to_string(),
            keys,
            root,
        },
        report,
    ))
}

/// Check that `root` (signed by the server) follows `last`, the newest root audited: the same
/// epoch again unchanged, or the next one with its append-only proof. True when a step was
/// verified.
async fn follows(
    api: &Api,
    keys: &DirectoryKeys,
    last: Option<SignedRoot>,
    root: SignedRoot,
) -> Result<bool, AuditError> {
    root.verify(&keys.signing)?;
    match last {
        Some(l) if l.epoch() == root.epoch() && l.contradicts(&root) => {
            Err(AuditError::Rewritten {
                epoch: root.epoch(),
                evidence: Box::new(Equivocation::of(&keys.signing, l, root)?),
            })
        }
        Some(l) if l.epoch() == root.epoch() => Ok(false),
        Some(l) => {
            if !l.chains_to(&root) {
                return Err(AuditError::Gap(root.epoch()));
            }
            verify_step(api, keys, &l, &root).await?;
            Ok(true)
        }
        None if root.epoch() != 0 => Err(AuditError::Gap(0)),
        None => Ok(false),
    }
}

/// Verify the append-only proof from `a` to the next epoch `b`.
async fn verify_step(
    api: &Api,
    keys: &DirectoryKeys,
    a: &SignedRoot,
    b: &SignedRoot,
) -> Result<(), AuditError> {
    let step = api.kt_audit(a.epoch()).await?;
    // The proof is for the very roots audited (the signed roots it comes with must be them).
    for (given, want) in [(step.start, a), (step.end, b)] {
        given.verify(&keys.signing)?;
        if given.contradicts(want) || given.epoch() != want.epoch() {
            return Err(AuditError::Gap(want.epoch()));
        }
    }
    let proof = kt::decode_audit(&step.proof.0)?;
    akd::auditor::audit_verify::<Config>(vec![a.body.root_hash.0, b.body.root_hash.0], proof)
        .await
        .map_err(|e| AuditError::NotAppendOnly {
            epoch: a.epoch(),
            why: e.to_string(),
        })
}
