//! The manifest parser (signature, canonical body) and, when a manifest parses, the verifier's
//! consent and chain checks on it.
#![no_main]

use assent_shared::container::{MANIFEST_NAME, MemStore, Store, parse_signed, verify};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if parse_signed(data).is_ok() {
        let store = MemStore::new();
        let _ = store.put(MANIFEST_NAME, data);
        let _ = verify(&store);
    }
    // Most inputs fail the signature check first; also exercise the body decoder directly.
    let _ = assent_shared::codec::decode::<assent_shared::container::Manifest>(data, 1 << 20);
});
