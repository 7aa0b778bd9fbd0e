//! Identity bundles from the directory, secret identities from the keyring, key backups from
//! the server.
#![no_main]

use assent_shared::backup::KeyBackup;
use assent_shared::{PublicIdentity, SecretIdentity};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = PublicIdentity::from_bytes(data);
    let _ = SecretIdentity::from_bytes(data);
    let _ = KeyBackup::from_bytes(data);
});
