//! Fixtures for the container tests: a consented recording of three participants.
#![allow(dead_code)]

use std::sync::Arc;

use assent_shared::consent::fixtures::{T0, identities, proposal};
use assent_shared::consent::{ConsentToken, Proposal};
use assent_shared::container::{RecordingWriter, Store, Track};
use assent_shared::{IdentityKey, SecretIdentity, Timestamp};

pub struct Fixture {
    pub ids: Vec<Arc<SecretIdentity>>,
    pub epochs: Vec<Proposal>,
    pub tokens: Vec<ConsentToken>,
}

/// Three participants (seeds 1–3); the first proposes and records; all three have signed.
pub fn fixture() -> Fixture {
    let ids: Vec<Arc<SecretIdentity>> = identities(4).into_iter().map(Arc::new).collect();
    let plain: Vec<SecretIdentity> = identities(3);
    let p = proposal(&plain);
    let tokens = plain
        .iter()
        .map(|i| ConsentToken::sign(i, &p, T0.plus_millis(100)))
        .collect();
    Fixture {
        ids,
        epochs: vec![p],
        tokens,
    }
}

impl Fixture {
    pub fn present(&self) -> Vec<IdentityKey> {
        self.ids[..3].iter().map(|i| i.key()).collect()
    }

    /// Write `n` media segments of distinct plaintexts; the recording stays open.
    pub fn record<S: Store>(&self, store: S, n: u32) -> RecordingWriter<S> {
        let mut w = RecordingWriter::create(
            store,
            self.ids[0].clone(),
            &self.epochs,
            &self.tokens,
            T0.plus_millis(200),
        )
        .unwrap();
        for i in 0..n {
            w.write_segment(
                Track::Media,
                &plaintext(i),
                &self.present(),
                u64::from(i) * 2000,
                2000,
            )
            .unwrap();
        }
        w
    }

    /// Write `n` segments and finish the recording.
    pub fn record_finished<S: Store>(&self, store: S, n: u32) {
        let w = self.record(store, n);
        w.finish(Timestamp(T0.0 + 200 + u64::from(n) * 2000), None)
            .unwrap();
    }
}

/// Distinct, recognisable plaintext for segment `i` (starts with the Matroska EBML magic, as a
/// real media segment would).
pub fn plaintext(i: u32) -> Vec<u8> {
    let mut v = vec![0x1A, 0x45, 0xDF, 0xA3];
    v.extend((0..5000u32).map(|k| (k.wrapping_mul(31).wrapping_add(i * 7)) as u8));
    v
}
