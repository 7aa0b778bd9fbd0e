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
    let mut out = Vec::new();
    encrypt_into(recipients, plaintext, &mut out)?;
    Ok(out)
}

/// Encrypt into `out`, replacing its contents and reusing its allocation (a recorder keeps one
/// buffer for every segment).
pub fn encrypt_into(
    recipients: &[EncryptionKey],
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), ContainerError> {
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
    out.clear();
    // age adds a header (~100 bytes per recipient) and a 16-byte tag per 64 KiB chunk.
    out.reserve(plaintext.len() + plaintext.len() / 4096 + 200 * parsed.len() + 256);
    let mut w = encryptor
        .wrap_output(out)
        .map_err(|_| ContainerError::Encrypt)?;
    w.write_all(plaintext)
        .map_err(|_| ContainerError::Encrypt)?;
    w.finish().map_err(|_| ContainerError::Encrypt)?;
    Ok(())
}

/// Decrypt a segment with one participant's identity, into memory (zeroized on drop).
pub fn decrypt(
    identity: &age::x25519::Identity,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, ContainerError> {
    // Reserved up front so the plaintext is never reallocated (which would leave copies behind).
    let mut out = Zeroizing::new(Vec::with_capacity(ciphertext.len()));
    decrypt_to(identity, ciphertext, &mut *out)?;
    Ok(out)
}

/// Decrypt a segment with one participant's identity, streaming the plaintext into `sink`
/// (an export file, a media pipeline) without holding all of it in memory. Returns the number of
/// plaintext bytes. On error, what was written before it must be discarded by the caller: age
/// authenticates each 64 KiB chunk, so nothing unauthenticated is ever written.
pub fn decrypt_to(
    identity: &age::x25519::Identity,
    ciphertext: &[u8],
    mut sink: impl Write,
) -> Result<u64, ContainerError> {
    let d = age::Decryptor::new_buffered(ciphertext).map_err(|_| ContainerError::Decrypt)?;
    let mut r = d
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|_| ContainerError::Decrypt)?;
    let mut buf = Zeroizing::new(vec![0u8; 64 * 1024]);
    let mut total = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(ContainerError::Decrypt),
        };
        sink.write_all(&buf[..n]).map_err(ContainerError::Io)?;
        total += n as u64;
    }
}
