//! The tamper matrix: one test per attack on a recording, each asserting the exact verdict.

mod common;

use assent_shared::consent::fixtures::{T0, identities, proposal};
use assent_shared::consent::{ConsentError, ConsentToken};
use assent_shared::container::{
    self, ContainerError, Head, HeadError, MANIFEST_NAME, MemStore, Note, Problem, SignedHead,
    Store, Track, Verdict, decrypt_segment, read_manifest, segment_name, verify,
};
use assent_shared::{RecordingId, SecretIdentity};
use common::{fixture, plaintext};

fn finished(n: u32) -> (common::Fixture, MemStore) {
    let f = fixture();
    let store = MemStore::new();
    f.record_finished(&store, n);
    (f, store)
}

/// Replace the manifest with a modified one signed by `signer`.
fn resign(
    store: &MemStore,
    signer: &SecretIdentity,
    change: impl FnOnce(&mut container::Manifest),
) {
    let (mut m, _) = read_manifest(store).unwrap();
    change(&mut m);
    store.put(MANIFEST_NAME, &m.sign(signer)).unwrap();
}

#[test]
fn intact_recording_verifies_and_every_participant_decrypts() {
    let (f, store) = finished(4);
    let r = verify(&store).unwrap();
    assert_eq!(r.problems, vec![]);
    assert_eq!(r.notes, vec![]);
    assert!(r.is_complete());
    assert_eq!(r.consents().len(), 3);
    for id in &f.ids[..3] {
        let age_id = id.age_identity().unwrap();
        for i in 0..4 {
            let pt = decrypt_segment(&store, &r.manifest, i, &age_id).unwrap();
            assert_eq!(*pt, plaintext(i));
        }
    }
    let outsider = f.ids[3].age_identity().unwrap();
    assert!(matches!(
        decrypt_segment(&store, &r.manifest, 0, &outsider),
        Err(ContainerError::Decrypt)
    ));
}

#[test]
fn no_plaintext_reaches_the_store() {
    let (_f, store) = finished(3);
    for name in store.list().unwrap() {
        let bytes = store.get(&name, u64::MAX).unwrap();
        assert!(
            !bytes.windows(4).any(|w| w == [0x1A, 0x45, 0xDF, 0xA3]),
            "{name} holds media magic"
        );
    }
}

#[test]
fn bit_flip_in_a_segment() {
    let (_f, store) = finished(3);
    store.modify(&segment_name(1), |b| {
        let mid = b.len() / 2;
        b[mid] ^= 0x01
    });
    assert_eq!(
        verify(&store).unwrap().problems,
        vec![Problem::SegmentCorrupt { segment: 1 }]
    );
}

#[test]
fn truncated_segment() {
    let (_f, store) = finished(3);
    let mut expected = 0;
    store.modify(&segment_name(2), |b| {
        expected = b.len() as u64;
        b.truncate(100)
    });
    assert_eq!(
        verify(&store).unwrap().problems,
        vec![Problem::SegmentTruncated {
            segment: 2,
            expected,
            actual: 100
        }]
    );
}

#[test]
fn reordered_segments() {
    let (_f, store) = finished(3);
    let a = store.get(&segment_name(0), u64::MAX).unwrap();
    let b = store.get(&segment_name(1), u64::MAX).unwrap();
    store.put(&segment_name(0), &b).unwrap();
    store.put(&segment_name(1), &a).unwrap();
    assert_eq!(
        verify(&store).unwrap().problems,
        vec![
            Problem::SegmentOutOfPlace {
                segment: 0,
                holds: 1
            },
            Problem::SegmentOutOfPlace {
                segment: 1,
                holds: 0
            }
        ]
    );
}

#[test]
fn missing_segment() {
    let (_f, store) = finished(3);
    store.remove(&segment_name(1));
    assert_eq!(
        verify(&store).unwrap().problems,
        vec![Problem::SegmentMissing { segment: 1 }]
    );
}

#[test]
fn extra_segment() {
    let (_f, store) = finished(3);
    let copy = store.get(&segment_name(0), u64::MAX).unwrap();
    store.put(&segment_name(3), &copy).unwrap();
    assert_eq!(
        verify(&store).unwrap().problems,
        vec![Problem::ExtraFile {
            name: segment_name(3)
        }]
    );
}

#[test]
fn bit_flip_in_the_manifest() {
    let (_f, store) = finished(2);
    store.modify(MANIFEST_NAME, |b| b[40] ^= 0x80);
    assert!(matches!(
        verify(&store),
        Err(ContainerError::BadManifestSignature)
    ));
    store.modify(MANIFEST_NAME, |b| {
        b[40] ^= 0x80;
        b[0] ^= 0x01
    });
    assert!(matches!(verify(&store), Err(ContainerError::NotAManifest)));
}

#[test]
fn truncated_manifest() {
    let (_f, store) = finished(2);
    store.modify(MANIFEST_NAME, |b| b.truncate(b.len() - 10));
    assert!(matches!(
        verify(&store),
        Err(ContainerError::BadManifestSignature)
    ));
    store.modify(MANIFEST_NAME, |b| b.truncate(50));
    assert!(matches!(verify(&store), Err(ContainerError::Codec(_))));
    store.remove(MANIFEST_NAME);
    assert!(matches!(verify(&store), Err(ContainerError::NoManifest)));
}

#[test]
fn rolled_back_manifest_shows_unlisted_segments() {
    let f = fixture();
    let store = MemStore::new();
    let mut w = f.record(&store, 2);
    let old = store.get(MANIFEST_NAME, u64::MAX).unwrap();
    for i in 2..4 {
        w.write_segment(
            Track::Media,
            &plaintext(i),
            &f.present(),
            u64::from(i) * 2000,
            2000,
        )
        .unwrap();
    }
    w.finish(T0.plus_millis(9000), None).unwrap();
    store.put(MANIFEST_NAME, &old).unwrap();
    let r = verify(&store).unwrap();
    assert_eq!(
        r.problems,
        vec![Problem::ExtraFile {
            name: segment_name(3)
        }]
    );
    assert_eq!(
        r.notes,
        vec![
            Note::Incomplete,
            Note::UnlistedTrailingSegment {
                name: segment_name(2)
            }
        ]
    );
}

#[test]
fn foreign_token_swapped_in() {
    let (f, store) = finished(2);
    // A dishonest recorder replaces participant 3's token with one they signed for another
    // recording, and re-signs the manifest with the recorder's own key.
    let plain = identities(3);
    let mut other = proposal(&plain);
    other.terms.recording_id = RecordingId([0x77; 16]);
    let foreign = ConsentToken::sign(&plain[2], &other, T0.plus_millis(100));
    resign(&store, &f.ids[0], |m| m.tokens[2] = foreign);
    let r = verify(&store).unwrap();
    let c = f.ids[2].key();
    assert_eq!(
        r.problems,
        vec![
            Problem::Token {
                signer: c,
                error: ConsentError::WrongRecording
            },
            Problem::MissingConsent {
                segment: 0,
                participant: c
            },
            Problem::MissingConsent {
                segment: 1,
                participant: c
            },
        ]
    );
    assert_eq!(r.consents().len(), 2);
}

#[test]
fn token_for_another_participant_set() {
    let (f, store) = finished(1);
    let plain = identities(3);
    let pair = proposal(&plain[..2]);
    let t = ConsentToken::sign(&plain[1], &pair, T0.plus_millis(100));
    resign(&store, &f.ids[0], |m| m.tokens[1] = t);
    let b = f.ids[1].key();
    assert_eq!(
        verify(&store).unwrap().problems,
        vec![
            Problem::Token {
                signer: b,
                error: ConsentError::WrongParticipantSet
            },
            Problem::MissingConsent {
                segment: 0,
                participant: b
            },
        ]
    );
}

#[test]
fn manifest_signed_by_someone_else() {
    let (f, store) = finished(1);
    resign(&store, &f.ids[1], |_| {});
    assert_eq!(
        verify(&store).unwrap().problems,
        vec![Problem::WrongSigner {
            signer: f.ids[1].key(),
            recorder: Some(f.ids[0].key())
        }]
    );
}

#[test]
fn forged_withdrawal_in_the_ending() {
    use assent_shared::consent::{EndReason, NoticeKind, SignedNotice};
    let (f, store) = finished(1);
    let mut notice = SignedNotice::sign(
        &f.ids[1],
        NoticeKind::Withdraw,
        &f.epochs[0],
        T0.plus_millis(900),
    );
    notice.body.signer = f.ids[2].key(); // claims Carol withdrew; Bob signed
    resign(&store, &f.ids[0], |m| {
        m.ended.as_mut().unwrap().reason = Some(EndReason::Withdrawn(notice))
    });
    assert_eq!(
        verify(&store).unwrap().problems,
        vec![Problem::BadEndingNotice(ConsentError::BadSignature)]
    );
}

#[test]
fn edited_segment_entry_breaks_the_chain() {
    let (f, store) = finished(3);
    resign(&store, &f.ids[0], |m| m.segments[1].duration_ms = 1);
    assert_eq!(
        verify(&store).unwrap().problems,
        vec![Problem::ChainBroken { segment: 1 }]
    );
}

#[test]
fn dropped_entry_breaks_the_chain() {
    let (f, store) = finished(3);
    resign(&store, &f.ids[0], |m| {
        m.segments.remove(1);
    });
    let r = verify(&store).unwrap();
    assert!(r.problems.contains(&Problem::BadIndex {
        position: 1,
        index: 2
    }));
    assert!(r.problems.contains(&Problem::ChainBroken { segment: 2 }));
}

#[test]
fn crashed_writer_leaves_an_incomplete_but_intact_recording() {
    let f = fixture();
    let store = MemStore::new();
    let w = f.record(&store, 3);
    drop(w); // the process dies here: no finish
    // The segment being written at the time, and a leftover temporary file.
    store.put(&segment_name(3), b"half a segm").unwrap();
    store.put("segment-000004.age.tmp", b"x").unwrap();
    let r = verify(&store).unwrap();
    assert_eq!(r.problems, vec![]);
    assert!(!r.is_complete());
    assert_eq!(
        r.notes,
        vec![
            Note::Incomplete,
            Note::UnlistedTrailingSegment {
                name: segment_name(3)
            },
            Note::TemporaryFile {
                name: "segment-000004.age.tmp".into()
            },
        ]
    );
    let id = f.ids[1].age_identity().unwrap();
    for i in 0..3 {
        assert_eq!(
            *decrypt_segment(&store, &r.manifest, i, &id).unwrap(),
            plaintext(i)
        );
    }
}

#[test]
fn writer_refuses_unconsented_presence_and_writes_nothing() {
    let f = fixture();
    let store = MemStore::new();
    let mut w = f.record(&store, 1);
    let before = store.list().unwrap();
    let mut present = f.present();
    present.push(f.ids[3].key());
    let err = w
        .write_segment(Track::Media, b"secret", &present, 2000, 2000)
        .unwrap_err();
    assert!(matches!(err, ContainerError::NotConsented(k) if k == f.ids[3].key()));
    assert_eq!(store.list().unwrap(), before);
}

#[test]
fn newcomer_epoch_extends_recipients() {
    let f = fixture();
    let store = MemStore::new();
    let mut w = f.record(&store, 1);
    let newcomer = &f.ids[3];
    let ext = f.epochs[0].extend(newcomer.public());
    let epochs = vec![f.epochs[0].clone(), ext.clone()];
    let mut tokens = f.tokens.clone();
    // Before the newcomer signs, their presence blocks writing.
    w.update_consent(&epochs, &tokens).unwrap();
    let mut present = f.present();
    present.push(newcomer.key());
    assert!(
        w.write_segment(Track::Media, b"x", &present, 2000, 2000)
            .is_err()
    );
    tokens.push(ConsentToken::sign(newcomer, &ext, T0.plus_millis(2500)));
    w.update_consent(&epochs, &tokens).unwrap();
    // The newcomer's own token is not enough: those already recorded sign the new set too.
    assert!(matches!(
        w.write_segment(Track::Media, b"x", &present, 2000, 2000),
        Err(ContainerError::NotConsented(_))
    ));
    for id in &f.ids[..3] {
        tokens.push(ConsentToken::sign(id, &ext, T0.plus_millis(2600)));
    }
    w.update_consent(&epochs, &tokens).unwrap();
    w.write_segment(Track::Media, &plaintext(1), &present, 3000, 2000)
        .unwrap();
    w.write_segment(
        Track::Chat,
        b"{\"from\":\"a\",\"text\":\"hi\"}",
        &present,
        3000,
        0,
    )
    .unwrap();
    let m = w.finish(T0.plus_millis(6000), None).unwrap();
    let r = verify(&store).unwrap();
    assert_eq!(r.problems, vec![]);
    assert_eq!(m.segments[1].epoch, 1);
    let nid = newcomer.age_identity().unwrap();
    // The newcomer can read what was recorded after they agreed, not before.
    assert!(decrypt_segment(&store, &m, 0, &nid).is_err());
    assert_eq!(*decrypt_segment(&store, &m, 1, &nid).unwrap(), plaintext(1));
    assert_eq!(
        &decrypt_segment(&store, &m, 2, &nid).unwrap()[..],
        b"{\"from\":\"a\",\"text\":\"hi\"}"
    );
}

#[test]
fn writer_checks_its_inputs() {
    let f = fixture();
    // Not the proposer.
    let err = container::RecordingWriter::create(
        MemStore::new(),
        f.ids[1].clone(),
        &f.epochs,
        &f.tokens,
        T0,
    )
    .unwrap_err();
    assert!(matches!(err, ContainerError::NotRecorder));
    // A bad token.
    let mut tokens = f.tokens.clone();
    tokens[1].body.signed_at = T0.plus_millis(1);
    let err = container::RecordingWriter::create(
        MemStore::new(),
        f.ids[0].clone(),
        &f.epochs,
        &tokens,
        T0,
    )
    .unwrap_err();
    assert!(matches!(
        err,
        ContainerError::Consent(ConsentError::BadSignature)
    ));
    // Twice in one place.
    let store = MemStore::new();
    f.record_finished(&store, 1);
    let err =
        container::RecordingWriter::create(&store, f.ids[0].clone(), &f.epochs, &f.tokens, T0)
            .unwrap_err();
    assert!(matches!(err, ContainerError::AlreadyExists));
}

/// The chain heads a participant witnessed during the call, as the recorder signed them.
fn heads(f: &common::Fixture, store: &MemStore) -> SignedHead {
    let (m, _) = read_manifest(store).unwrap();
    Head::of(&m).sign(&f.ids[0])
}

/// The attack a witness defeats: a server serves an earlier manifest (every signature valid)
/// and drops the tail. Without a witness that is only "incomplete"; against the head the
/// participant saw at the end of the call it is a problem.
#[test]
fn an_earlier_manifest_contradicts_the_head_witnessed_at_the_end() {
    let f = fixture();
    let store = MemStore::new();
    let mut w = f.record(&store, 2);
    let earlier = store.get(MANIFEST_NAME, u64::MAX).unwrap();
    let mid = heads(&f, &store);
    for i in 2..4 {
        w.write_segment(
            Track::Media,
            &plaintext(i),
            &f.present(),
            u64::from(i) * 2000,
            2000,
        )
        .unwrap();
    }
    w.finish(assent_shared::Timestamp(T0.0 + 9000), None)
        .unwrap();
    let sealed = heads(&f, &store);

    // The whole recording agrees with both heads; the note says so.
    let mut r = verify(&store).unwrap();
    r.compare_with_witnesses(&[mid.clone(), sealed.clone()]);
    assert_eq!(r.problems, vec![]);
    assert_eq!(
        r.notes,
        vec![Note::Witnessed {
            segments: 4,
            sealed: true
        }]
    );
    assert_eq!(r.verdict(), Verdict::Intact);

    // The earlier manifest and its two segments: incomplete on its own, cut against the head.
    let served = MemStore::new();
    served.put(MANIFEST_NAME, &earlier).unwrap();
    for i in 0..2 {
        let name = segment_name(i);
        served
            .put(&name, &store.get(&name, u64::MAX).unwrap())
            .unwrap();
    }
    let alone = verify(&served).unwrap();
    assert_eq!(alone.verdict(), Verdict::Incomplete);
    let mut r = alone.clone();
    r.compare_with_witnesses(std::slice::from_ref(&sealed));
    assert_eq!(
        r.problems,
        vec![Problem::CutAgainstWitness {
            witnessed: 4,
            listed: 2,
            sealed: true
        }]
    );
    assert_eq!(r.verdict(), Verdict::Tampered);
    assert!(
        r.problems[0]
            .to_string()
            .contains("showed you 4 segment(s)")
    );
    // A head seen mid-call (two segments) agrees with the earlier copy.
    let mut r = alone;
    r.compare_with_witnesses(&[mid]);
    assert_eq!(r.verdict(), Verdict::Incomplete);
}

#[test]
fn a_rewritten_history_contradicts_the_head_witnessed() {
    let (f, store) = finished(3);
    let sealed = heads(&f, &store);
    // The recorder (or anyone with its key) signs another history of the same length.
    resign(&store, &f.ids[0], |m| {
        m.segments[2].chain = assent_shared::Digest([5; 32]);
    });
    let mut r = verify(&store).unwrap();
    r.compare_with_witnesses(&[sealed]);
    assert!(
        r.problems
            .contains(&Problem::OtherHistoryThanWitnessed { segment: 2 }),
        "{:?}",
        r.problems
    );
}

/// Heads signed by anyone but the recorder, or for another recording, count for nothing; a
/// head whose bytes changed does not open.
#[test]
fn only_the_recorders_heads_of_this_recording_count() {
    let (f, store) = finished(3);
    let (m, _) = read_manifest(&store).unwrap();
    let mut claim = Head::of(&m);
    claim.segments = 9;
    let by_participant = claim.sign(&f.ids[1]);
    let mut other = Head::of(&m);
    other.recording_id = RecordingId::random();
    other.segments = 9;
    let other = other.sign(&f.ids[0]);
    let mut flipped = Head::of(&m).sign(&f.ids[0]);
    let n = flipped.0.len();
    flipped.0[n - 1] ^= 1;
    assert_eq!(flipped.open().unwrap_err(), HeadError::BadSignature);
    let mut r = verify(&store).unwrap();
    r.compare_with_witnesses(&[by_participant, other, flipped]);
    assert_eq!((r.problems.clone(), r.notes.clone()), (vec![], vec![]));
    assert_eq!(r.verdict(), Verdict::Intact);
    // Another context's signature over a head's body is no head.
    let body = assent_shared::codec::encode(&Head::of(&m));
    let sig = f.ids[0].sign(assent_shared::sign::Context::Manifest, &body);
    let mut forged = container::head::HEAD_MAGIC.to_vec();
    forged.extend_from_slice(&body);
    forged.extend_from_slice(&f.ids[0].key().0);
    forged.extend_from_slice(&sig.0);
    assert_eq!(
        SignedHead(forged).open().unwrap_err(),
        HeadError::BadSignature
    );
}
