//! What another client (or a hostile server) sends during a call: signaling envelopes, session
//! descriptions' fingerprints, certificates, and data channel messages.
#![no_main]

use assent_shared::call::{DtlsFingerprint, PeerMessage, SignedEnvelope};
use assent_shared::identity::IdentityKey;
use assent_shared::signal::PeerId;
use assent_shared::CallId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let key = IdentityKey([7; 32]);
    let _ = SignedEnvelope::open(text, &key, PeerId(1), &CallId([1; 16]), PeerId(2));
    let _ = PeerMessage::parse(text);
    let _ = DtlsFingerprint::from_sdp(text);
    let _ = DtlsFingerprint::of_pem(text);
});
