//! Server-side secrets: the Argon2id verifier of each account's authentication secret, random
//! tokens stored only as hashes, and short email codes.

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use data_encoding::BASE64URL_NOPAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

fn argon() -> Argon2<'static> {
    // OWASP's Argon2id recommendation (19 MiB, 2 passes, 1 lane). The input is already a
    // 256-bit secret derived on the client with a costlier Argon2id.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// At most this many Argon2 computations run at once, each on a thread of its own that lives
/// as long as the server (each holds 19 MiB while it hashes; the allocator keeps that much per
/// thread, so a handful of long-lived threads bound the memory where a thread per request
/// would not)...
fn argon_slots() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 8)
}
/// ... and at most this many wait for a slot; more are told to come back (`busy`).
pub const ARGON_QUEUE: usize = 64;

type ArgonJob = Box<dyn FnOnce() + Send>;

fn argon_pool() -> &'static std::sync::mpsc::SyncSender<ArgonJob> {
    static POOL: std::sync::OnceLock<std::sync::mpsc::SyncSender<ArgonJob>> =
        std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<ArgonJob>(ARGON_QUEUE + 16);
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for n in 0..argon_slots() {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    loop {
                        let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start an Argon2 thread");
            }
        }
        tx
    })
}

/// Run Argon2 work `f` on the Argon2 threads: memory stays at most [`argon_slots`] × 19 MiB
/// however many requests arrive at once; beyond [`ARGON_QUEUE`] waiting, `busy`.
pub async fn argon_bounded<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static QUEUED: AtomicUsize = AtomicUsize::new(0);
    if QUEUED.fetch_add(1, Ordering::SeqCst) >= ARGON_QUEUE {
        QUEUED.fetch_sub(1, Ordering::SeqCst);
        return Err(ApiError::Busy);
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: ArgonJob = Box::new(move || {
        let _ = tx.send(f());
        QUEUED.fetch_sub(1, Ordering::SeqCst);
    });
    if argon_pool().try_send(job).is_err() {
        QUEUED.fetch_sub(1, Ordering::SeqCst);
        return Err(ApiError::Busy);
    }
    rx.await
        .map_err(|_| ApiError::Internal("argon2 thread".into()))
}

std::thread_local! {
    /// This thread's Argon2 memory, reused from hash to hash: a fresh 19 MiB allocation each
    /// time is kept by the allocator afterwards (glibc raises its mmap threshold), so memory
    /// would grow with the number of hashes instead of the number of threads.
    static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Argon2id of `secret` with `salt` into `out`, in this thread's reused memory (wiped after).
fn raw_hash(
    a: &Argon2<'_>,
    secret: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    BLOCKS.with(|cell| {
        let mut blocks = cell.borrow_mut();
        let n = a.params().block_count();
        if blocks.len() < n {
            blocks.resize(n, argon2::Block::default());
        }
        let r = a.hash_password_into_with_memory(secret, salt, out, &mut blocks[..n]);
        blocks
            .iter_mut()
            .for_each(|b| *b = argon2::Block::default());
        r
    })
}

/// Hash an authentication secret for storage (blocking: run off the async threads). The
/// result is a standard PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash_verifier(secret: &[u8]) -> Result<String, ApiError> {
    let fail = |e: String| ApiError::Internal(format!("argon2: {e}"));
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut salt_buf)
        .map_err(|e| fail(e.to_string()))?;
    let a = argon();
    let output = argon2::password_hash::Output::init_with(32, |out| {
        raw_hash(&a, secret, salt_bytes, out).map_err(|_| argon2::password_hash::Error::Crypto)
    })
    .map_err(|e| fail(e.to_string()))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: argon2::password_hash::ParamsString::try_from(a.params())
            .map_err(|e| fail(e.to_string()))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// Check an authentication secret against a stored verifier (blocking; constant time in the
/// comparison).
pub fn check_verifier(stored: &str, secret: &[u8]) -> bool {
    let Ok(h) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(expected), Some(salt)) = (h.hash, h.salt) else {
        return false;
    };
    if h.algorithm != Algorithm::Argon2id.ident() {
        return false;
    }
    let Ok(params) = Params::try_from(&h) else {
        return false;
    };
    // Only the parameters this server writes (a verifier cannot ask for unbounded memory).
    if params.m_cost() > 64 * 1024 || params.t_cost() > 8 || params.p_cost() > 4 {
        return false;
    }
    let mut salt_buf = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let a = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    argon2::password_hash::Output::init_with(expected.len(), |out| {
        raw_hash(&a, secret, salt_bytes, out).map_err(|_| argon2::password_hash::Error::Crypto)
    })
    .is_ok_and(|got| got == expected)
}

/// A verifier for no account, checked against when the email is unknown so that the response
/// time does not reveal whether an account exists.
pub fn dummy_verifier() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_verifier(&[0u8; 32]).unwrap_or_default())
}

/// A fresh random token (returned once to the client) and its stored hash.
pub fn new_token() -> (String, Vec<u8>) {
    let mut raw = zeroize::Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(raw.as_mut());
    let token = BASE64URL_NOPAD.encode(raw.as_ref());
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A six-digit email code.
pub fn new_code() -> String {
    let n = rand::rngs::OsRng.next_u32() % 1_000_000;
    format!("{n:06}")
}

pub fn code_hash(user: &[u8], purpose: &str, code: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"assent/v1/email-code");
    h.update(user);
    h.update(purpose.as_bytes());
    h.update(code.as_bytes());
    h.finalize().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_round_trip() {
        let v = hash_verifier(&[7; 32]).unwrap();
        assert!(v.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(check_verifier(&v, &[7; 32]));
        assert!(!check_verifier(&v, &[8; 32]));
        assert!(!check_verifier("garbage", &[7; 32]));
    }

    #[test]
    fn codes_and_tokens() {
        assert_eq!(new_code().len(), 6);
        let (t, h) = new_token();
        assert_eq!(token_hash(&t), h);
        assert_eq!(t.len(), 43);
    }

    /// The reused-memory hashing writes and checks the same PHC strings as the argon2 crate's
    /// own API: verifiers stored before still verify, and the crate accepts ours.
    #[test]
    fn verifiers_match_the_argon2_crate() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let secret = [7u8; 32];
        let ours = hash_verifier(&secret).unwrap();
        let h = PasswordHash::new(&ours).unwrap();
        assert!(argon().verify_password(&secret, &h).is_ok());
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let theirs = argon().hash_password(&secret, &salt).unwrap().to_string();
        assert!(check_verifier(&theirs, &secret));
        assert!(!check_verifier(&theirs, &[9u8; 32]));
        // A stored string cannot ask for unbounded memory.
        assert!(!check_verifier(
            "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
            &secret
        ));
        assert!(!check_verifier("not a hash", &secret));
    }
}
