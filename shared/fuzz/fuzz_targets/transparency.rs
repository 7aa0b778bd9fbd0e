//! What a (hostile) server sends about its key directory: lookup, history and append-only
//! proofs (protobuf), signed roots, and proofs checked against a root.
#![no_main]

use assent_shared::transparency::{
    self as kt, DirectoryKeys, ROOT_VERSION, RootBody, ServerKey, SignedRoot, VrfKey,
};
use assent_shared::{Digest, Timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kt::decode_lookup(data);
    let _ = kt::decode_history(data);
    let _ = kt::decode_audit(data);
    let _ = SignedRoot::from_bytes(data);
    // A root signed by a fixed key, and the bytes as the proof checked against it.
    let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let keys = DirectoryKeys {
        signing: ServerKey(key.verifying_key().to_bytes()),
        vrf: VrfKey([9; 32]),
    };
    let root = SignedRoot::sign(
        &key,
        RootBody {
            version: ROOT_VERSION,
            epoch: 3,
            root_hash: Digest([1; 32]),
            previous: Digest([2; 32]),
            time: Timestamp(1),
        },
    );
    let _ = kt::verify_lookup(&keys, &root, "ann@example.org", data);
    let _ = kt::verify_history(&keys, &root, "ann@example.org", data);
});
