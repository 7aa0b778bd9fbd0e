//! Segment payloads (the age format) decrypted with a participant's key.
#![no_main]

use assent_shared::consent::fixtures::identities;
use assent_shared::container::{parse_segment_name, segment};
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

static IDENTITY: LazyLock<Option<age::x25519::Identity>> =
    LazyLock::new(|| identities(1)[0].age_identity().ok());

fuzz_target!(|data: &[u8]| {
    if let Some(identity) = &*IDENTITY {
        let _ = segment::decrypt(identity, data);
    }
    if let Ok(name) = std::str::from_utf8(data) {
        let _ = parse_segment_name(name);
    }
});
