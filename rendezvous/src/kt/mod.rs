//! The key directory as an auditable key directory (`akd`): every verified account's email maps
//! to the digest of its identity bundle, in a Merkle tree whose root is signed once per epoch.
//!
//! - **Changes** (an email verified, a key published, an account deleted) are queued in
//!   `kt_pending` in the same database transaction as the change itself; the publisher turns
//!   what is queued into one epoch at most every `epoch_interval` (batched), signs its root with
//!   the directory key and stores it in `kt_roots`, chained to the epoch before.
//! - **Proofs**: lookups (an email's current key), key history (one's own email), append-only
//!   proofs between consecutive epochs (auditors), and the signed roots themselves.
//! - **Freshness**: while nothing changes, the newest epoch's root is re-signed with the current
//!   time on request (at most every [`HEAD_REFRESH_MS`]), so clients can refuse a stale root.
//! - **Keys**: the root-signing key (Ed25519) and the VRF key are derived from the server's
//!   secret (`server.key`) with HKDF under labels of their own: created once, kept with the
//!   server's other secrets, never a fixed key.

pub mod storage;
mod store;

use assent_shared::api::ErrorCode;
use std::sync::Arc;
use std::time::Duration;

use akd::ecvrf::{VRFKeyStorage, VRFPrivateKey, VRFPublicKey, VrfError};
use akd::storage::StorageManager;
use assent_shared::transparency::{
    self as kt, Config, DirectoryKeys, ROOT_VERSION, RootBody, ServerKey, SignedRoot, VrfKey,
};
use assent_shared::{Digest, PublicIdentity, Timestamp};
use async_trait::async_trait;
use rusqlite::Connection;
use zeroize::Zeroizing;

use crate::clock::Clock;
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use storage::SqliteDirectory;

/// How often the newest root is re-signed with a fresh time when nothing changes.
pub const HEAD_REFRESH_MS: u64 = 30_000;
/// Most label changes in one epoch (more wait for the next).
pub const MAX_BATCH: usize = 100_000;
/// Most roots in one `roots` answer.
pub const MAX_ROOTS: usize = 1000;

type Dir = akd::Directory<Config, SqliteDirectory, VrfSecret>;

/// The VRF private key, kept for the life of the process (as `akd` recommends).
#[derive(Clone)]
pub struct VrfSecret(Arc<Zeroizing<[u8; 32]>>);

impl VrfSecret {
    pub fn from_seed(seed: [u8; 32]) -> VrfSecret {
        VrfSecret(Arc::new(Zeroizing::new(seed)))
    }

    pub fn public(&self) -> VrfKey {
        let private = VRFPrivateKey::try_from(&self.0[..]);
        match private {
            Ok(k) => VrfKey(VRFPublicKey::from(&k).to_bytes()),
            // 32 bytes always make a key.
            Err(_) => VrfKey([0; 32]),
        }
    }
}

#[async_trait]
impl VRFKeyStorage for VrfSecret {
    async fn retrieve(&self) -> Result<Vec<u8>, VrfError> {
        Ok(self.0.to_vec())
    }
}

fn derive(secret: &[u8; 32], label: &[u8]) -> Zeroizing<[u8; 32]> {
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(None, secret);
    let mut out = Zeroizing::new([0u8; 32]);
    // 32 bytes is always a valid HKDF-SHA256 output length.
    let _ = hk.expand(label, out.as_mut());
    out
}

fn kt_error(e: akd::errors::AkdError) -> ApiError {
    ApiError::Internal(format!("key directory: {e}"))
}

fn not_in_directory() -> ApiError {
    ApiError::new(
        ErrorCode::NotInDirectory,
        "this email address has no key in the directory (yet)",
    )
}

/// The server's key directory.
pub struct KeyDirectory {
    db: Db,
    clock: Arc<dyn Clock>,
    signer: ed25519_dalek::SigningKey,
    vrf: VrfSecret,
    keys: DirectoryKeys,
    dir: tokio::sync::OnceCell<Dir>,
    /// Publishing takes it exclusively; proofs share it, so a proof and its root always
    /// describe the same epoch.
    lock: tokio::sync::RwLock<()>,
    head: std::sync::Mutex<Option<SignedRoot>>,
    wake: tokio::sync::Notify,
}

impl std::fmt::Debug for KeyDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyDirectory({:?})", self.keys)
    }
}

/// Queue `email`'s new directory value (in the caller's transaction). The newest value queued
/// for a label wins.
pub fn enqueue(c: &Connection, email: &str, value: Digest, now: Timestamp) -> rusqlite::Result<()> {
    store::enqueue(c, &kt::label(email).0, value, now)
}

/// Queue `identity` as `email`'s key.
pub fn enqueue_identity(
    c: &Connection,
    email: &str,
    identity: &PublicIdentity,
    now: Timestamp,
) -> rusqlite::Result<()> {
    enqueue(c, email, kt::value(identity), now)
}

impl KeyDirectory {
    pub fn new(db: Db, clock: Arc<dyn Clock>, secret: &[u8; 32]) -> KeyDirectory {
        let signing_seed = derive(secret, b"assent/rendezvous/directory-signing/v1");
        let signer = ed25519_dalek::SigningKey::from_bytes(&signing_seed);
        let vrf = VrfSecret::from_seed(*derive(secret, b"assent/rendezvous/directory-vrf/v1"));
        let keys = DirectoryKeys {
            signing: ServerKey(signer.verifying_key().to_bytes()),
            vrf: vrf.public(),
        };
        KeyDirectory {
            db,
            clock,
            signer,
            vrf,
            keys,
            dir: tokio::sync::OnceCell::new(),
            lock: tokio::sync::RwLock::new(()),
            head: std::sync::Mutex::new(None),
            wake: tokio::sync::Notify::new(),
        }
    }

    /// The public keys clients pin.
    pub fn keys(&self) -> DirectoryKeys {
        self.keys
    }

    /// Something was queued: publish soon.
    pub fn changed(&self) {
        self.wake.notify_one();
    }

    async fn dir(&self) -> ApiResult<&Dir> {
        self.dir
            .get_or_try_init(|| async {
                let storage = StorageManager::new_no_cache(SqliteDirectory::new(self.db.clone()));
                let dir = Dir::new(
                    storage,
                    self.vrf.clone(),
                    akd::AzksParallelismConfig::default(),
                )
                .await
                .map_err(kt_error)?;
                self.ensure_root(&dir).await?;
                Ok(dir)
            })
            .await
    }

    /// Sign and store the root of the directory's current epoch if it has none (a fresh
    /// directory's epoch 0, or an epoch published just before a crash).
    async fn ensure_root(&self, dir: &Dir) -> ApiResult<SignedRoot> {
        let akd::EpochHash(epoch, hash) = dir.get_epoch_hash().await.map_err(kt_error)?;
        let signer = self.signer.clone();
        let now = self.clock.now();
        self.db
            .run(move |c| -> ApiResult<SignedRoot> {
                if let Some(r) = store::root(c, epoch)? {
                    return Ok(r);
                }
                let previous = match epoch {
                    0 => Digest([0; 32]),
                    e => store::root(c, e - 1)?
                        .map(|r| r.body.root_hash)
                        .ok_or_else(|| {
                            ApiError::Internal(format!("the root of epoch {} is missing", e - 1))
                        })?,
                };
                let root = SignedRoot::sign(
                    &signer,
                    RootBody {
                        version: ROOT_VERSION,
                        epoch,
                        root_hash: Digest(hash),
                        previous,
                        time: now,
                    },
                );
                store::insert_root(c, &root)?;
                tracing::info!(epoch, "key directory epoch signed");
                Ok(root)
            })
            .await
    }

    /// Publish what is queued as one epoch. Returns the new epoch's root, or `None` when
    /// nothing changed.
    pub async fn publish_pending(&self) -> ApiResult<Option<SignedRoot>> {
        let dir = self.dir().await?;
        let _guard = self.lock.write().await;
        let pending = self
            .db
            .run(|c| -> ApiResult<Vec<store::Pending>> { Ok(store::pending(c, MAX_BATCH as i64)?) })
            .await?;
        if pending.is_empty() {
            return Ok(None);
        }
        let before = dir.get_epoch_hash().await.map_err(kt_error)?.0;
        let updates: Vec<(akd::AkdLabel, akd::AkdValue)> = pending
            .iter()
            .map(|(l, v)| (akd::AkdLabel(l.clone()), akd::AkdValue(v.clone())))
            .collect();
        let started = std::time::Instant::now();
        let akd::EpochHash(epoch, _) = dir.publish(updates).await.map_err(kt_error)?;
        let root = if epoch > before {
            Some(self.ensure_root(dir).await?)
        } else {
            None
        };
        // Only what was published leaves the queue (a newer value queued meanwhile stays).
        self.db
            .run(move |c| -> ApiResult<()> { Ok(store::dequeue(c, &pending)?) })
            .await?;
        if let Some(r) = &root {
            tracing::info!(
                epoch,
                ms = started.elapsed().as_millis() as u64,
                "key directory epoch published"
            );
            *self.head.lock().unwrap_or_else(|p| p.into_inner()) = Some(*r);
        }
        Ok(root)
    }

    /// The newest epoch's root, signed no more than [`HEAD_REFRESH_MS`] ago.
    pub async fn head(&self) -> ApiResult<SignedRoot> {
        self.dir().await?;
        let _guard = self.lock.read().await;
        self.head_locked().await
    }

    async fn head_locked(&self) -> ApiResult<SignedRoot> {
        let now = self.clock.now();
        if let Some(h) = *self.head.lock().unwrap_or_else(|p| p.into_inner())
            && now.millis_since(h.body.time) < HEAD_REFRESH_MS
            && h.body.time <= now
        {
            return Ok(h);
        }
        let newest = self
            .db
            .run(|c| -> ApiResult<Option<SignedRoot>> { Ok(store::newest_root(c)?) })
            .await?
            .ok_or_else(|| ApiError::Internal("the key directory has no root".into()))?;
        let fresh = SignedRoot::sign(
            &self.signer,
            RootBody {
                time: now,
                ..newest.body
            },
        );
        *self.head.lock().unwrap_or_else(|p| p.into_inner()) = Some(fresh);
        Ok(fresh)
    }

    /// A lookup proof of `email`'s current value, the fresh root it verifies against, and the
    /// value.
    pub async fn lookup(&self, email: &str) -> ApiResult<(SignedRoot, Vec<u8>, Digest)> {
        let dir = self.dir().await?;
        let _guard = self.lock.read().await;
        let label = kt::label(email);
        if !self.has_label(&label).await? {
            return Err(not_in_directory());
        }
        let (proof, akd::EpochHash(epoch, _)) = dir.lookup(label).await.map_err(kt_error)?;
        let root = self.head_locked().await?;
        if root.body.epoch != epoch {
            return Err(ApiError::Internal("lookup and root disagree".into()));
        }
        let value: [u8; 32] = proof
            .value
            .0
            .as_slice()
            .try_into()
            .map_err(|_| ApiError::Internal("a directory value is not 32 bytes".into()))?;
        Ok((root, kt::encode_lookup(&proof), Digest(value)))
    }

    async fn has_label(&self, label: &akd::AkdLabel) -> ApiResult<bool> {
        let l = label.0.clone();
        self.db
            .run(move |c| -> ApiResult<bool> { Ok(store::has_label(c, &l)?) })
            .await
    }

    /// The complete key history proof of `email`, its root, and the values newest first.
    pub async fn history(&self, email: &str) -> ApiResult<(SignedRoot, Vec<u8>, Vec<Digest>)> {
        let dir = self.dir().await?;
        let _guard = self.lock.read().await;
        let label = kt::label(email);
        if !self.has_label(&label).await? {
            return Err(not_in_directory());
        }
        let (proof, akd::EpochHash(epoch, _)) = dir
            .key_history(&label, akd::HistoryParams::Complete)
            .await
            .map_err(kt_error)?;
        let root = self.head_locked().await?;
        if root.body.epoch != epoch {
            return Err(ApiError::Internal("history and root disagree".into()));
        }
        let values = proof
            .update_proofs
            .iter()
            .filter_map(|u| u.value.0.as_slice().try_into().ok().map(Digest))
            .collect();
        Ok((root, kt::encode_history(&proof), values))
    }

    /// The append-only proof from epoch `start` to `start + 1`, with both signed roots.
    pub async fn audit(&self, start: u64) -> ApiResult<(SignedRoot, SignedRoot, Vec<u8>)> {
        let dir = self.dir().await?;
        let _guard = self.lock.read().await;
        let (a, b) = self
            .db
            .run(
                move |c| -> ApiResult<(Option<SignedRoot>, Option<SignedRoot>)> {
                    Ok((store::root(c, start)?, store::root(c, start + 1)?))
                },
            )
            .await?;
        let (Some(a), Some(b)) = (a, b) else {
            return Err(ApiError::new(
                ErrorCode::NoSuchEpoch,
                "the directory has no such epoch yet",
            ));
        };
        let proof = dir.audit(start, start + 1).await.map_err(kt_error)?;
        Ok((a, b, kt::encode_audit(&proof)))
    }

    /// The stored root of each epoch from `from`, at most `limit`.
    pub async fn roots(&self, from: u64, limit: usize) -> ApiResult<Vec<SignedRoot>> {
        self.dir().await?;
        let limit = limit.clamp(1, MAX_ROOTS) as i64;
        self.db
            .run(move |c| -> ApiResult<Vec<SignedRoot>> { Ok(store::roots(c, from, limit)?) })
            .await
    }

    /// Publish queued changes as they come, at most one epoch per `interval`.
    pub fn spawn_publisher(self: Arc<Self>, interval: Duration) {
        tokio::spawn(async move {
            loop {
                match self.publish_pending().await {
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "key directory publish failed"),
                }
                // Wait for a change (or a periodic look, in case a wake was missed), then let
                // the interval pass so that changes batch into one epoch.
                let _ = tokio::time::timeout(interval * 10, self.wake.notified()).await;
                tokio::time::sleep(interval).await;
            }
        });
    }
}
