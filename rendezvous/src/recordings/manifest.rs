//! The manifests the server takes: signed, verifying, agreed for the cloud, and a newer one
//! only if it extends the one stored.

use std::collections::BTreeSet;

use assent_shared::PublicIdentity;
use assent_shared::api::ErrorCode;
use assent_shared::consent::Scope;
use assent_shared::container::{Manifest, verify_manifest};
use assent_shared::identity::IdentityKey;

use super::MAX_MANIFEST;
use crate::error::{ApiError, ApiResult};

pub(super) fn bad_manifest(why: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidManifest, why)
}

/// A verified manifest and who it names.
pub(super) struct Checked {
    pub(super) manifest: Manifest,
    pub(super) signer: IdentityKey,
    pub(super) participants: Vec<PublicIdentity>,
}

pub(super) fn check(bytes: &[u8]) -> ApiResult<Checked> {
    if bytes.len() > MAX_MANIFEST {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            "the manifest is too large",
        ));
    }
    let (manifest, signer, problems) =
        verify_manifest(bytes).map_err(|e| bad_manifest(format!("unreadable: {e}")))?;
    if let Some(p) = problems.first() {
        return Err(bad_manifest(format!("does not verify: {p:?}")));
    }
    let first = manifest
        .epochs
        .first()
        .ok_or_else(|| bad_manifest("no consent epoch"))?;
    if first.terms.scope != Scope::LocalAndCloud {
        return Err(ApiError::new(
            ErrorCode::ScopeLocal,
            "the participants agreed to a local recording only",
        ));
    }
    let mut seen = BTreeSet::new();
    let participants = manifest
        .epochs
        .iter()
        .flat_map(|e| e.participants.iter())
        .filter(|p| seen.insert(p.signing))
        .cloned()
        .collect();
    Ok(Checked {
        manifest,
        signer,
        participants,
    })
}

/// Whether `new` (signed by `new_signer`) may replace `old` (signed by `old_signer`): the same
/// signer and first consent epoch, and every segment listed before still listed, unchanged,
/// in the same place. A manifest only grows while its recording is uploaded.
pub(super) fn extends(
    old: &Manifest,
    old_signer: &IdentityKey,
    new: &Manifest,
    new_signer: &IdentityKey,
) -> bool {
    old_signer == new_signer
        && new.epochs.first() == old.epochs.first()
        && new.segments.len() >= old.segments.len()
        && new.segments[..old.segments.len()] == old.segments[..]
}

/// Refuse `new` unless it extends the manifest `stored` (as the registry holds it).
pub(super) fn must_extend(stored: &[u8], new: &Checked) -> ApiResult<()> {
    let (old, old_signer, _) =
        verify_manifest(stored).map_err(|e| ApiError::Internal(format!("stored manifest: {e}")))?;
    if extends(&old, &old_signer, &new.manifest, &new.signer) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::ManifestRewritten,
            "a newer manifest must keep every segment listed before, in order",
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use assent_shared::Timestamp;
    use assent_shared::consent::{ConsentToken, Proposal, Terms};
    use assent_shared::container::{MANIFEST_NAME, MemStore, RecordingWriter, Store, Track};
    use assent_shared::identity::SecretIdentity;
    use assent_shared::ids::{CallId, DeviceId, RecordingId};

    const T0: Timestamp = Timestamp(1_800_000_000_000);

    /// A recording by `recorder` with `bob`'s consent: its manifest after each segment (the
    /// first before any), as the recorder would upload them.
    fn manifests(recorder: &Arc<SecretIdentity>, bob: &SecretIdentity) -> Vec<Vec<u8>> {
        let terms = Terms {
            recording_id: RecordingId::random(),
            call_id: CallId([0x22; 16]),
            proposer: recorder.key(),
            recorder_device: DeviceId([0x33; 16]),
            scope: Scope::LocalAndCloud,
            retention_days: 30,
            title: "Review".into(),
            not_before: T0,
            not_after: T0.plus_millis(3_600_000),
        };
        let people = vec![recorder.public().clone(), bob.public().clone()];
        let p = Proposal::new(terms, people).unwrap();
        let tokens = [
            ConsentToken::sign(recorder, &p, T0.plus_millis(100)),
            ConsentToken::sign(bob, &p, T0.plus_millis(100)),
        ];
        let store = MemStore::new();
        let present = [recorder.key(), bob.key()];
        let mut w = RecordingWriter::create(
            &store,
            recorder.clone(),
            std::slice::from_ref(&p),
            &tokens,
            T0.plus_millis(200),
        )
        .unwrap();
        let mut out = vec![store.get(MANIFEST_NAME, 1 << 24).unwrap()];
        for i in 0..3u8 {
            w.write_segment(
                Track::Media,
                &[i; 1000],
                &present,
                u64::from(i) * 2000,
                2000,
            )
            .unwrap();
            out.push(store.get(MANIFEST_NAME, 1 << 24).unwrap());
        }
        out
    }

    fn open(bytes: &[u8]) -> (Manifest, IdentityKey) {
        let (m, signer, problems) = verify_manifest(bytes).unwrap();
        assert!(problems.is_empty());
        (m, signer)
    }

    /// A manifest may be replaced by itself or by a later one of the same recording, signed by
    /// the same recorder; never by an earlier one, one with a segment changed or moved, one
    /// signed by someone else, or one of another recording.
    #[test]
    fn a_manifest_only_grows() {
        let ann = Arc::new(SecretIdentity::generate(T0));
        let bob = SecretIdentity::generate(T0);
        let ms: Vec<(Manifest, IdentityKey)> =
            manifests(&ann, &bob).iter().map(|b| open(b)).collect();
        for (i, (old, old_signer)) in ms.iter().enumerate() {
            for (j, (new, new_signer)) in ms.iter().enumerate() {
                assert_eq!(
                    extends(old, old_signer, new, new_signer),
                    j >= i,
                    "{i} -> {j}"
                );
            }
        }
        let (old, signer) = &ms[2];
        let (last, _) = &ms[3];
        // A segment listed before, changed.
        let mut changed = last.clone();
        changed.segments[1].size += 1;
        assert!(!extends(old, signer, &changed, signer));
        // Two segments swapped.
        let mut swapped = last.clone();
        swapped.segments.swap(0, 1);
        assert!(!extends(old, signer, &swapped, signer));
        // The same content under another signer.
        assert!(!extends(old, signer, last, &bob.key()));
        // Another recording's manifest, as long or longer.
        let other = manifests(&ann, &bob);
        let (theirs, their_signer) = open(&other[3]);
        assert!(!extends(old, signer, &theirs, &their_signer));
    }

    /// The registry's check reads the stored bytes and says why it refuses.
    #[test]
    fn a_rewritten_manifest_is_refused_with_its_code() {
        let ann = Arc::new(SecretIdentity::generate(T0));
        let bob = SecretIdentity::generate(T0);
        let ms = manifests(&ann, &bob);
        let later = check(&ms[3]).unwrap();
        let earlier = check(&ms[1]).unwrap();
        assert!(must_extend(&ms[1], &later).is_ok());
        let refused = must_extend(&ms[3], &earlier).unwrap_err();
        assert_eq!(refused.code(), ErrorCode::ManifestRewritten);
        assert!(matches!(
            must_extend(b"not a manifest", &later),
            Err(ApiError::Internal(_))
        ));
    }
}
