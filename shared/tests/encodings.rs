//! Every encoding: property round trips, strictness on arbitrary bytes, and golden files for
//! every versioned format (so a change to a shipped format fails here).
//!
//! Golden files live in `tests/golden/`. After a deliberate format change (a new version), run
//! `ASSENT_UPDATE_GOLDEN=1 cargo nextest run -p assent-shared --test encodings` and commit them.

use std::path::PathBuf;

use assent_shared::backup::{KdfParams, KeyBackup, PasswordKeys, RecoveryCode, Salt};
use assent_shared::consent::EndReason;
use assent_shared::consent::fixtures::{T0, identities, proposal, terms};
use assent_shared::consent::{ConsentToken, NoticeKind, Proposal, Scope, SignedNotice, Terms};
use assent_shared::container::{
    self, Ending, MANIFEST_VERSION, Manifest, SegmentEntry, Track, chain_link, parse_signed,
};
use assent_shared::{
    CallId, DeviceId, Digest, PublicIdentity, RecordingId, SecretIdentity, Timestamp,
};
use proptest::prelude::*;

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Compare `bytes` with the golden file `name` (or write it when updating).
fn golden(name: &str, bytes: &[u8]) -> Vec<u8> {
    let path = golden_path(name);
    if std::env::var_os("ASSENT_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, bytes).unwrap();
    }
    let stored = std::fs::read(&path).unwrap_or_else(|e| panic!("golden file {name}: {e}"));
    assert_eq!(
        stored, bytes,
        "encoding of {name} changed: a shipped format must not change"
    );
    stored
}

/// A deterministic manifest with two epochs, three segments and an ending, in the current
/// version (everyone signs the extension) or version 1 (only the newcomer signed it).
fn sample_manifest(ids: &[SecretIdentity]) -> Manifest {
    sample_manifest_v(ids, MANIFEST_VERSION)
}

fn sample_manifest_v(ids: &[SecretIdentity], version: u16) -> Manifest {
    let p0 = proposal(&ids[..3]);
    let p1 = p0.extend(ids[3].public());
    let mut tokens: Vec<ConsentToken> = ids[..3]
        .iter()
        .map(|i| ConsentToken::sign(i, &p0, T0))
        .collect();
    if version >= 2 {
        tokens.extend(
            ids[..3]
                .iter()
                .map(|i| ConsentToken::sign(i, &p1, T0.plus_millis(5000))),
        );
    }
    tokens.push(ConsentToken::sign(&ids[3], &p1, T0.plus_millis(5000)));
    let mut m = Manifest {
        version,
        recording_id: p0.terms.recording_id,
        call_id: p0.terms.call_id,
        epochs: vec![p0, p1],
        tokens,
        started_at: T0.plus_millis(10),
        segments: vec![],
        ended: None,
    };
    let mut prev = m.chain_seed();
    for i in 0..3u32 {
        let epoch = if i == 2 { 1 } else { 0 };
        let present: Vec<_> = ids[..3 + epoch as usize].iter().map(|x| x.key()).collect();
        let mut e = SegmentEntry {
            index: i,
            track: if i == 1 { Track::Chat } else { Track::Media },
            epoch,
            present,
            start_ms: u64::from(i) * 2000,
            duration_ms: 2000,
            size: 1000 + u64::from(i),
            sha256: Digest::sha256(&i.to_be_bytes()),
            chain: Digest([0; 32]),
        };
        e.chain = chain_link(&prev, &e);
        prev = e.chain;
        m.segments.push(e);
    }
    let notice = SignedNotice::sign(
        &ids[1],
        NoticeKind::Withdraw,
        &m.epochs[1],
        T0.plus_millis(7000),
    );
    m.ended = Some(Ending {
        at: T0.plus_millis(7000),
        reason: Some(EndReason::Withdrawn(notice)),
    });
    m
}

#[test]
fn golden_identity_bundle() {
    let id = &identities(1)[0];
    let g = golden("identity-bundle-v1.bin", &id.public().to_bytes());
    assert_eq!(&PublicIdentity::from_bytes(&g).unwrap(), id.public());
}

#[test]
fn golden_secret_identity() {
    let id = &identities(1)[0];
    let g = golden("secret-identity-v1.bin", &id.to_bytes());
    assert_eq!(
        SecretIdentity::from_bytes(&g).unwrap().public(),
        id.public()
    );
}

#[test]
fn golden_proposal_token_notice() {
    let ids = identities(3);
    let p = proposal(&ids);
    let g = golden("proposal-v1.bin", &p.to_bytes());
    assert_eq!(Proposal::from_bytes(&g).unwrap(), p);
    let t = ConsentToken::sign(&ids[1], &p, T0.plus_millis(1));
    let g = golden("consent-token-v1.bin", &t.to_bytes());
    assert_eq!(ConsentToken::from_bytes(&g).unwrap(), t);
    assert_eq!(ConsentToken::from_bytes(&g).unwrap().verify(&p), Ok(()));
    let n = SignedNotice::sign(&ids[2], NoticeKind::Withdraw, &p, T0.plus_millis(2));
    let g = golden("consent-notice-v1.bin", &n.to_bytes());
    assert_eq!(SignedNotice::from_bytes(&g).unwrap().verify(&p), Ok(()));
}

#[test]
fn golden_manifest() {
    let ids = identities(4);
    for (version, name) in [(1, "manifest-v1.asm"), (2, "manifest-v2.asm")] {
        let m = sample_manifest_v(&ids, version);
        let g = golden(name, &m.sign(&ids[0]));
        let (parsed, signer) = parse_signed(&g).unwrap();
        assert_eq!(parsed, m);
        assert_eq!(signer, ids[0].key());
        // Each version's own consent rule: no consent problem in either.
        let (_, _, problems) = container::verify_manifest(&g).unwrap();
        assert!(problems.is_empty(), "{name}: {problems:?}");
    }
    // Version 2 is strict: the extension's segment without the first three's tokens for it.
    let mut m = sample_manifest_v(&ids, 2);
    m.tokens
        .retain(|t| t.body.epoch == 0 || t.signer() == ids[3].key());
    let (_, _, problems) = container::verify_manifest(&m.sign(&ids[0])).unwrap();
    assert_eq!(
        problems
            .iter()
            .filter(|p| matches!(p, container::Problem::MissingConsent { segment: 2, .. }))
            .count(),
        3,
        "{problems:?}"
    );
}

#[test]
fn golden_key_backup_still_opens() {
    // Backups are randomised (nonces), so the golden file is the one written when the format
    // shipped; it must keep opening with the same password and recovery code.
    let id = &identities(1)[0];
    let salt = Salt([5; 16]);
    let keys = PasswordKeys::derive("golden password", &salt, KdfParams::OWASP_MIN).unwrap();
    let code = RecoveryCode::parse("AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH").unwrap();
    let path = golden_path("key-backup-v1.bin");
    if std::env::var_os("ASSENT_UPDATE_GOLDEN").is_some() {
        let b = KeyBackup::create(id, &keys, KdfParams::OWASP_MIN, salt, &code);
        std::fs::write(&path, b.to_bytes()).unwrap();
    }
    let b = KeyBackup::from_bytes(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(b.open_with_password(&keys).unwrap().public(), id.public());
    assert_eq!(b.open_with_recovery(&code).unwrap().public(), id.public());
}

#[test]
fn golden_segment_still_decrypts() {
    let ids = identities(2);
    let path = golden_path("segment-v1.age");
    let plaintext = b"Assent golden segment: a few seconds of media would be here.".to_vec();
    if std::env::var_os("ASSENT_UPDATE_GOLDEN").is_some() {
        let recipients = [ids[0].public().encryption, ids[1].public().encryption];
        std::fs::write(
            &path,
            container::segment::encrypt(&recipients, &plaintext).unwrap(),
        )
        .unwrap();
    }
    let ct = std::fs::read(path).unwrap();
    for id in &ids {
        let pt = container::segment::decrypt(&id.age_identity().unwrap(), &ct).unwrap();
        assert_eq!(*pt, plaintext);
    }
}

#[test]
fn json_form_of_a_bundle() {
    // The server's JSON API carries bundles; keys are base64url there.
    let id = &identities(1)[0];
    let json = serde_json::to_string(id.public()).unwrap();
    assert!(json.contains("\"signing\":\""), "{json}");
    let back: PublicIdentity = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, id.public());
    assert!(
        serde_json::from_str::<PublicIdentity>(&json.replace("\"signing\":\"", "\"signing\":\"A"))
            .is_err()
    );
}

fn arb_terms(proposer: &SecretIdentity) -> impl Strategy<Value = Terms> + use<> {
    let proposer = proposer.key();
    (
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        prop::bool::ANY,
        1u16..=3650,
        "[\\PC]{0,60}",
        0u64..u64::MAX / 2,
        1u64..=24 * 3600 * 1000,
    )
        .prop_filter("title fits", |t| t.5.len() <= 200)
        .prop_map(
            move |(r, c, d, cloud, retention, title, start, len)| Terms {
                recording_id: RecordingId(r),
                call_id: CallId(c),
                proposer,
                recorder_device: DeviceId(d),
                scope: if cloud {
                    Scope::LocalAndCloud
                } else {
                    Scope::Local
                },
                retention_days: retention,
                title,
                not_before: Timestamp(start),
                not_after: Timestamp(start + len),
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn proposal_token_notice_round_trip(
        n in 1usize..=4,
        extend in prop::bool::ANY,
        terms in arb_terms(&identities(1)[0]),
        signed_at_offset in 0u64..1000,
    ) {
        let ids = identities(5);
        let mut p = Proposal::new(terms, ids[..n].iter().map(|i| i.public().clone()).collect()).unwrap();
        if extend {
            p = p.extend(ids[4].public());
        }
        prop_assert_eq!(Proposal::from_bytes(&p.to_bytes()).unwrap(), p.clone());
        let at = p.terms.not_before.plus_millis(signed_at_offset.min(p.terms.not_after.millis_since(p.terms.not_before)));
        let t = ConsentToken::sign(&ids[0], &p, at);
        let back = ConsentToken::from_bytes(&t.to_bytes()).unwrap();
        prop_assert_eq!(back.verify(&p), Ok(()));
        let notice = SignedNotice::sign(&ids[0], NoticeKind::Decline, &p, at);
        prop_assert_eq!(SignedNotice::from_bytes(&notice.to_bytes()).unwrap().verify(&p), Ok(()));
    }

    #[test]
    fn manifest_round_trip(segments in 0usize..20, sizes in prop::collection::vec(0u64..u64::MAX, 20)) {
        let ids = identities(4);
        let mut m = sample_manifest(&ids);
        m.segments.truncate(0);
        let mut prev = m.chain_seed();
        for (i, &size) in sizes.iter().enumerate().take(segments) {
            let mut e = SegmentEntry {
                index: i as u32, track: Track::Media, epoch: 0, present: vec![ids[0].key()],
                start_ms: i as u64, duration_ms: 1, size, sha256: Digest([i as u8; 32]),
                chain: Digest([0; 32]),
            };
            e.chain = chain_link(&prev, &e);
            prev = e.chain;
            m.segments.push(e);
        }
        let bytes = m.sign(&ids[0]);
        prop_assert_eq!(parse_signed(&bytes).unwrap().0, m);
    }

    #[test]
    fn decoders_never_panic_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = Proposal::from_bytes(&bytes);
        let _ = ConsentToken::from_bytes(&bytes);
        let _ = SignedNotice::from_bytes(&bytes);
        let _ = PublicIdentity::from_bytes(&bytes);
        let _ = SecretIdentity::from_bytes(&bytes);
        let _ = KeyBackup::from_bytes(&bytes);
        let _ = parse_signed(&bytes);
        let mut with_magic = container::MANIFEST_MAGIC.to_vec();
        with_magic.extend_from_slice(&bytes);
        let _ = parse_signed(&with_magic);
    }

    #[test]
    fn any_single_byte_change_to_a_token_is_caught(pos in 0usize..200, flip in 1u8..=255) {
        let ids = identities(2);
        let p = proposal(&ids);
        let t = ConsentToken::sign(&ids[1], &p, T0);
        let mut bytes = t.to_bytes();
        let i = pos % bytes.len();
        bytes[i] ^= flip;
        if let Ok(changed) = ConsentToken::from_bytes(&bytes) {
            prop_assert!(changed.verify(&p).is_err());
        }
    }

    #[test]
    fn identities_round_trip(seed in any::<[u8; 32]>(), created in any::<u64>()) {
        let id = SecretIdentity::from_seed(seed, Timestamp(created));
        prop_assert_eq!(&PublicIdentity::from_bytes(&id.public().to_bytes()).unwrap(), id.public());
        let secret = SecretIdentity::from_bytes(&id.to_bytes()).unwrap();
        prop_assert_eq!(secret.public(), id.public());
        let json = serde_json::to_string(id.public()).unwrap();
        prop_assert_eq!(&serde_json::from_str::<PublicIdentity>(&json).unwrap(), id.public());
    }

    #[test]
    fn safety_numbers_are_symmetric(a in any::<[u8; 32]>(), b in any::<[u8; 32]>()) {
        let x = SecretIdentity::from_seed(a, Timestamp(0));
        let y = SecretIdentity::from_seed(b, Timestamp(0));
        prop_assert_eq!(
            assent_shared::identity::safety_number(x.public(), y.public()),
            assent_shared::identity::safety_number(y.public(), x.public())
        );
    }
}

proptest! {
    // Argon2id at OWASP's minimum costs tens of milliseconds a case.
    #![proptest_config(ProptestConfig::with_cases(6))]

    #[test]
    fn key_backup_round_trip(seed in any::<[u8; 32]>(), password in "[\\PC]{1,40}", salt in any::<[u8; 16]>()) {
        let id = SecretIdentity::from_seed(seed, Timestamp(1));
        let keys = PasswordKeys::derive(&password, &Salt(salt), KdfParams::OWASP_MIN).unwrap();
        let code = RecoveryCode::generate();
        let b = KeyBackup::create(&id, &keys, KdfParams::OWASP_MIN, Salt(salt), &code);
        let back = KeyBackup::from_bytes(&b.to_bytes()).unwrap();
        prop_assert_eq!(&back, &b);
        let by_password = back.open_with_password(&keys).unwrap();
        prop_assert_eq!(by_password.public(), id.public());
        let by_code = back.open_with_recovery(&RecoveryCode::parse(&code.display()).unwrap()).unwrap();
        prop_assert_eq!(by_code.public(), id.public());
    }
}

#[test]
fn terms_fixture_is_valid() {
    let ids = identities(1);
    assert!(Proposal::new(terms(&ids[0]), vec![ids[0].public().clone()]).is_ok());
}
