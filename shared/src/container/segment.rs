//! Segment payloads: the `age` v1 format (C2SP), one X25519 recipient per consenting
//! participant. Any participant decrypts with their own key, in Assent or with stock `age`/`rage`.

use std::io::{Read, Write};

use zeroize::Zeroizing;

use super::ContainerError;
use crate::identity::EncryptionKey;

/// Largest plaintext one segment may hold (a few seconds of media is far less).
pub const MAX_SEGMENT_PLAINTEXT: usize = 512 * 1024 * 1024;

/// Encrypt `plaintext` (in memory) to every recipient.
pub fn encrypt(recipients: &[EncryptionKey], plaintext: &[u8]) -> Result<Vec<u8>, ContainerError> {
    if plaintext.len() > MAX_SEGMENT_PLAINTEXT {
        return Err(ContainerError::TooLarge);
    }
    let parsed = recipients
        .iter()
        .map(|r| r.age_recipient().map_err(|_| ContainerError::Encrypt))
        .collect::<Result<Vec<_>, _>>()?;
    let encryptor =
        age::Encryptor::with_recipients(parsed.iter().map(|r| r as &dyn age::Recipient))
            .map_err(|_| ContainerError::Encrypt)?;
    // age adds a header (~100 bytes per recipient) and a 16-byte tag per 64 KiB chunk.
    let mut out =
        Vec::with_capacity(plaintext.len() + plaintext.len() / 4096 + 200 * parsed.len() + 256);
    let mut w = encryptor
        .wrap_output(&mut out)
        .map_err(|_| ContainerError::Encrypt)?;
    w.write_all(plaintext)
        .map_err(|_| ContainerError::Encrypt)?;
    w.finish().map_err(|_| ContainerError::Encrypt)?;
    Ok(out)
}

/// Decrypt a segment with one participant's identity.
pub fn decrypt(
    identity: &age::x25519::Identity,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, ContainerError> {
    let d = age::Decryptor::new_buffered(ciphertext).map_err(|_| ContainerError::Decrypt)?;
    let mut r = d
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|_| ContainerError::Decrypt)?;
    let mut out = Zeroizing::new(Vec::with_capacity(ciphertext.len()));
    r.read_to_end(&mut out)
        .map_err(|_| ContainerError::Decrypt)?;
    Ok(out)
}
