//! The recordings library: what this device recorded, kept in step with the disk, and the cloud
//! copies of the recordings its account took part in. [`Library`] is what the window and the
//! command line call: listing, tagging, deleting, uploading, downloading, verifying, opening,
//! exporting and playing, each with a [`LibraryError`] that reads as a sentence.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assent_shared::IdentityKey;
use assent_shared::api::RecordingInfo;
use assent_shared::container::{DirStore, Manifest, Report, Track, decrypt_segment};
use assent_shared::ids::RecordingId;

use crate::account::Profile;
use crate::api::{Api, ApiError};
use crate::recorder::player::{Player, Segment, Sound};
use crate::store::{CloudState, RecordingRow, Store};
use crate::upload::{Downloaded, UploadEvent, Uploader};

mod error;
mod export;
#[cfg(test)]
mod tests;

pub use crate::disk::Recovered;
use crate::disk::{lock, lock_path, recover, root, verify_witnessed};
pub use error::LibraryError;
pub use export::Exported;

use error::Result;

/// The recordings of one profile (its directory).
#[derive(Clone, Debug)]
pub struct Library {
    dir: PathBuf,
}

/// The recordings on this device, and what bringing the library in step with the disk found.
#[derive(Clone, Debug)]
pub struct Listing {
    pub rows: Vec<RecordingRow>,
    pub recovered: Recovered,
}

/// Which copies of a recording to delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Copies {
    pub local: bool,
    pub cloud: bool,
}

/// How many recordings an upload round finished and how many it gave up on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Uploads {
    pub done: usize,
    pub failed: usize,
}

/// A recording opened for reading: its verification, who is who, and its chat.
#[derive(Debug)]
pub struct Opened {
    pub report: Report,
    /// The names this device's contacts go by.
    pub contacts: BTreeMap<IdentityKey, String>,
    /// This device's identity, if it has one.
    pub me: Option<IdentityKey>,
    /// The chat's text, decrypted with this device's keys (or why it cannot be).
    pub chat: Result<Vec<u8>>,
}

/// Whose keys decrypt an export.
pub enum Keys {
    /// This profile's identity.
    Profile,
    /// An age identity given by the user (`assent recordings export --identity FILE`).
    Given(age::x25519::Identity),
}

impl Library {
    /// The library of the profile in `profile_dir` (nothing is opened yet).
    pub fn new(profile_dir: &Path) -> Library {
        Library {
            dir: profile_dir.to_path_buf(),
        }
    }

    /// Where its recordings are.
    pub fn root(&self) -> PathBuf {
        root(&self.dir)
    }

    fn store(&self) -> Result<Store> {
        std::fs::create_dir_all(&self.dir).map_err(|source| LibraryError::Dir {
            dir: self.dir.clone(),
            source,
        })?;
        Ok(Store::open(&self.dir.join("profile.db"))?)
    }

    /// The signed-in account's API client (an error when signed out).
    fn api(&self) -> Result<Api> {
        Ok(Profile::open(&self.dir)?.api()?.0)
    }

    fn identity(&self) -> Result<age::x25519::Identity> {
        Profile::open(&self.dir)?
            .identity()?
            .age_identity()
            .map_err(|_| LibraryError::Keys)
    }

    /// The recordings on this device, after bringing the library in step with the disk (an
    /// interrupted recording shows as incomplete).
    pub fn list(&self) -> Result<Listing> {
        let store = self.store()?;
        let recovered = recover(&store, &self.root())?;
        Ok(Listing {
            rows: store.recordings()?,
            recovered,
        })
    }

    /// The cloud recordings the account took part in (an organisation admin with `all`: every
    /// recording's metadata).
    pub async fn cloud(&self, all: bool) -> Result<Vec<RecordingInfo>> {
        let api = self.api()?;
        let list = if all {
            api.all_recordings().await
        } else {
            api.recordings().await
        };
        list.map_err(LibraryError::Cloud)
    }

    /// Set a recording's tags, on this device's copy and on the cloud copy (the server keeps
    /// one set for all its participants; signed out, the local copy only). The tags are
    /// normalised first (trimmed, without `#`, each once); the ones kept come back.
    pub async fn retag(&self, id: &str, tags: &[String]) -> Result<Vec<String>> {
        let tags = assent_shared::api::normalize_tags(tags).map_err(LibraryError::Tags)?;
        let local = self.store()?.set_tags(id, &tags)?;
        let cloud = match (self.api().ok(), id.parse::<RecordingId>()) {
            (Some(api), Ok(rid)) => match api.set_recording_tags(&rid, &tags).await {
                Ok(()) => true,
                // No cloud copy (or not one we may see): the local copy is all there is.
                Err(ApiError::Server { status: 404, .. }) => false,
                Err(e) if local => return Err(LibraryError::TagsOnlyHere(e)),
                Err(e) => return Err(LibraryError::Cloud(e)),
            },
            _ => false,
        };
        if !local && !cloud {
            return Err(LibraryError::Unknown(id.to_string()));
        }
        Ok(tags)
    }

    /// Delete a recording's local copy (never one being written: its recorder holds the lock)
    /// and/or its cloud copy (for everyone: its recorder or an organisation admin may).
    pub async fn delete(&self, id: &str, copies: Copies) -> Result<()> {
        if copies.cloud {
            let rid = parse_id(id)?;
            self.api()?
                .delete_recording(&rid)
                .await
                .map_err(LibraryError::CloudDelete)?;
        }
        if copies.local {
            let store = self.store()?;
            let root = self.root();
            let row = store
                .recordings()?
                .into_iter()
                .find(|r| r.id == id)
                .ok_or(LibraryError::NotHere)?;
            let lock = lock(&root, id).map_err(LibraryError::InUse)?;
            let path = PathBuf::from(&row.dir);
            if path.starts_with(&root) && path.is_dir() {
                std::fs::remove_dir_all(&path)
                    .map_err(|source| LibraryError::Delete { dir: path, source })?;
            }
            store.remove_recording(id)?;
            drop(lock);
            let _ = std::fs::remove_file(lock_path(&root, id));
        }
        Ok(())
    }

    /// Upload (or resume uploading) the cloud copies made here that are not complete yet: every
    /// one, or `only` that one; each given up after `attempts` failed tries (0: keep trying).
    /// Progress goes to `progress`.
    pub async fn upload(
        &self,
        only: Option<&str>,
        attempts: u32,
        progress: &(dyn Fn(UploadEvent) + Send + Sync),
    ) -> Result<Uploads> {
        let api = self.api()?;
        let mut todo = {
            let store = self.store()?;
            recover(&store, &self.root())?;
            crate::upload::pending(&store)?
        };
        if let Some(id) = only {
            todo.retain(|(r, _)| r == id);
            if todo.is_empty() {
                return Err(LibraryError::NothingToUpload(id.to_string()));
            }
        }
        let uploader = Uploader::new(api, self.dir.join("profile.db"));
        let mut out = Uploads::default();
        let mut last = None;
        for (_, dir) in todo {
            match uploader.sync_retrying(&dir, attempts, progress).await {
                Ok(_) => out.done += 1,
                Err(e) => {
                    out.failed += 1;
                    last = Some(e);
                }
            }
        }
        match (only, last) {
            // One asked for and not done: why.
            (Some(_), Some(e)) => Err(LibraryError::Upload(e)),
            _ => Ok(out),
        }
    }

    /// Download a cloud copy, checking every segment against its signed manifest: into `to`
    /// (empty or new), or without one into this device's library, where it is verified and
    /// listed with its cloud copy complete.
    pub async fn download(&self, id: &str, to: Option<&Path>) -> Result<Downloaded> {
        let rid = parse_id(id)?;
        let api = self.api()?;
        let root = self.root();
        let into = to.map_or_else(|| root.join(id), Path::to_path_buf);
        let got = crate::upload::download(&api, &rid, &into)
            .await
            .map_err(LibraryError::Download)?;
        if to.is_none() {
            let store = self.store()?;
            recover(&store, &root)?;
            // Its cloud copy is the one it came from.
            store.set_cloud_state(id, CloudState::Complete, got.bytes)?;
        }
        Ok(got)
    }

    /// Verify a recording's directory (any copy), compared with what this profile witnessed
    /// during the call.
    pub fn verify(&self, dir: &Path) -> Result<Report> {
        if !dir.is_dir() {
            return Err(LibraryError::NotADirectory(dir.to_path_buf()));
        }
        let copy = DirStore::open(dir).map_err(LibraryError::Open)?;
        Ok(verify_witnessed(&self.dir, &copy)?)
    }

    /// Open a recording for reading: verify it (offline), name the signers from this device's
    /// contacts, and decrypt its chat with this device's keys.
    pub fn open(&self, dir: &Path) -> Result<Opened> {
        let report = self.verify(dir)?;
        let contacts = self.store()?.contact_names()?.into_iter().collect();
        let identity = Profile::open(&self.dir).and_then(|p| p.identity());
        let me = identity.as_ref().ok().map(|i| i.key());
        let chat = match identity {
            Ok(i) => i
                .age_identity()
                .map_err(|_| LibraryError::Keys)
                .and_then(|age| chat(dir, &report.manifest, &age)),
            Err(e) => Err(e.into()),
        };
        Ok(Opened {
            report,
            contacts,
            me,
            chat,
        })
    }

    /// Decrypt one track of the recording in `dir` to a plain file: `out` (which must not
    /// exist), or by default a new file in the user's videos folder named after the title and
    /// date. A recording that does not verify is exported only with `force` (an incomplete
    /// one, cut by a crash, exports what verifies).
    pub fn export(
        &self,
        dir: &Path,
        track: Track,
        out: Option<&Path>,
        keys: Keys,
        force: bool,
    ) -> Result<Exported> {
        let report = self.verify(dir)?;
        if !report.verifies() && !force {
            return Err(LibraryError::DoesNotVerify(report.problems.len()));
        }
        let identity = match keys {
            Keys::Profile => self.identity()?,
            Keys::Given(i) => i,
        };
        let out = match out {
            Some(p) => p.to_path_buf(),
            None => export::default_path(&report, track)?,
        };
        export::track(dir, &report, &identity, &out, track)
    }

    /// Decrypt a recording's media with this device's keys, in memory, and make a player for
    /// it (paused at the start). `manifest` is the one verified when the recording was opened
    /// (each segment is still checked against it as it is decrypted).
    pub fn play(&self, dir: &Path, manifest: &Manifest, sound: Sound) -> Result<Player> {
        let copy = DirStore::open(dir).map_err(LibraryError::Open)?;
        let age = self.identity()?;
        let mut segments = Vec::new();
        for s in manifest.segments.iter().filter(|s| s.track == Track::Media) {
            let bytes =
                decrypt_segment(&copy, manifest, s.index, &age).map_err(|_| LibraryError::Keys)?;
            segments.push(Segment {
                start_ms: s.start_ms,
                duration_ms: u64::from(s.duration_ms),
                bytes,
            });
        }
        Ok(Player::new(segments, sound)?)
    }
}

fn parse_id(id: &str) -> Result<RecordingId> {
    id.parse().map_err(|_| LibraryError::BadId)
}

/// The chat's lines, from every chat segment in order.
fn chat(dir: &Path, manifest: &Manifest, age: &age::x25519::Identity) -> Result<Vec<u8>> {
    let copy = DirStore::open(dir).map_err(LibraryError::Open)?;
    let mut text = Vec::new();
    for seg in manifest.segments.iter().filter(|s| s.track == Track::Chat) {
        let bytes =
            decrypt_segment(&copy, manifest, seg.index, age).map_err(|_| LibraryError::Keys)?;
        text.extend_from_slice(&bytes);
        text.push(b'\n');
    }
    Ok(text)
}
