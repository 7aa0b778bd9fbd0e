//! The recordings: the library and the registry, uploads and downloads, opening, exporting and playing.

use super::*;

/// The recordings list: the local library (brought in step with the disk first, so an
/// interrupted recording shows as incomplete) and, when signed in, the server's registry. A
/// registry failure comes back beside the local list, which is shown anyway.
pub async fn recordings(dir: PathBuf) -> Result<(Vec<recordings::Item>, Option<String>), String> {
    async move {
        let rows = {
            let store = store(&dir)?;
            library::recover(&store, &library::root(&dir)).map_err(|e| e.to_string())?;
            store.recordings().map_err(|e| e.to_string())?
        };
        let (cloud, error) = match open(&dir).and_then(|p| p.api().map_err(|e| e.to_string())) {
            Ok((api, _)) => match api.recordings().await {
                Ok(list) => (list, None),
                Err(e) => (Vec::new(), Some(e.to_string())),
            },
            Err(_) => (Vec::new(), Some("not signed in".into())),
        };
        Ok((recordings::merge(rows, cloud), error))
    }
    .await
}

/// Set a recording's tags (this device's copy and the cloud copy).
pub async fn set_tags(dir: PathBuf, id: String, tags: Vec<String>) -> Result<String, String> {
    async move {
        let store = store(&dir)?;
        let api = open(&dir)
            .ok()
            .and_then(|p| p.api().ok())
            .map(|(api, _)| api);
        let kept = library::retag(&store, api.as_ref(), &id, &tags).await?;
        Ok(if kept.is_empty() {
            "Tags removed.".to_string()
        } else {
            format!("Tagged {}.", assent_shared::api::hashtags(&kept))
        })
    }
    .await
}

/// Delete a recording's local copy (never one being written: its recorder holds the lock)
/// and/or its cloud copy.
pub async fn delete_recording(
    dir: PathBuf,
    id: String,
    local_copy: bool,
    cloud_copy: bool,
) -> Result<String, String> {
    async move {
        if cloud_copy {
            let (api, _) = open(&dir)?.api().map_err(|e| e.to_string())?;
            let rid: assent_shared::ids::RecordingId =
                id.parse().map_err(|_| "not a recording id".to_string())?;
            api.delete_recording(&rid)
                .await
                .map_err(|e| format!("the cloud copy was not deleted: {e}"))?;
        }
        if local_copy {
            let store = store(&dir)?;
            let root = library::root(&dir);
            let row = store
                .recordings()
                .map_err(|e| e.to_string())?
                .into_iter()
                .find(|r| r.id == id)
                .ok_or("this recording is not on this device")?;
            let lock =
                library::lock(&root, &id).map_err(|e| format!("the recording is in use: {e}"))?;
            let path = PathBuf::from(&row.dir);
            if path.starts_with(&root) && path.is_dir() {
                std::fs::remove_dir_all(&path)
                    .map_err(|e| format!("cannot delete {}: {e}", path.display()))?;
            }
            store.remove_recording(&id).map_err(|e| e.to_string())?;
            drop(lock);
            let _ = std::fs::remove_file(library::lock_path(&root, &id));
        }
        Ok("Deleted.".to_string())
    }
    .await
}

/// Upload a recording's cloud copy now (the uploader resumes where it stopped).
pub async fn upload_recording(dir: PathBuf, id: String) -> Result<String, String> {
    async move {
        let (api, _) = open(&dir)?.api().map_err(|e| e.to_string())?;
        let db = dir.join("profile.db");
        let todo = {
            let store = store(&dir)?;
            assent_engine::upload::pending(&store).map_err(|e| e.to_string())?
        };
        let (_, path) = todo
            .into_iter()
            .find(|(r, _)| *r == id)
            .ok_or("nothing of this recording is waiting to be uploaded")?;
        let uploader = assent_engine::upload::Uploader::new(api, db);
        uploader
            .sync_retrying(&path, 3, &|_| {})
            .await
            .map_err(|e| format!("the upload stopped: {e}"))?;
        Ok("The cloud copy is complete.".to_string())
    }
    .await
}

/// Download a cloud copy into this device's library, where it is verified and listed.
pub async fn download_recording(dir: PathBuf, id: String) -> Result<String, String> {
    async move {
        let (api, _) = open(&dir)?.api().map_err(|e| e.to_string())?;
        let rid: assent_shared::ids::RecordingId =
            id.parse().map_err(|_| "not a recording id".to_string())?;
        let root = library::root(&dir);
        let to = root.join(&id);
        let got = assent_engine::upload::download(&api, &rid, &to)
            .await
            .map_err(|e| format!("the download failed: {e}"))?;
        let store = store(&dir)?;
        library::recover(&store, &root).map_err(|e| e.to_string())?;
        // Its cloud copy is the one it came from.
        store
            .set_cloud_state(&id, "complete", got.bytes)
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "Downloaded ({}).",
            recordings::human_size(got.bytes)
        ))
    }
    .await
}

/// Open a recording for the viewer: verify it (offline), name the signers from this device's
/// contacts, and decrypt its chat with this device's keys.
pub async fn open_recording(dir: PathBuf, recording: String) -> Result<viewer::Opened, String> {
    async move {
        use assent_shared::container::{DirStore, Track, decrypt_segment};
        let path = PathBuf::from(&recording);
        let ds = DirStore::open(&path).map_err(|e| format!("cannot open the recording: {e}"))?;
        let report = assent_engine::library::verify_witnessed(&dir, &ds)
            .map_err(|e| format!("cannot read the recording: {e}"))?;
        let known: std::collections::BTreeMap<_, _> = store(&dir)?
            .contact_names()
            .map_err(|e| e.to_string())?
            .into_iter()
            .collect();
        let identity = open(&dir)?.identity().map_err(|e| e.to_string());
        let me = identity.as_ref().ok().map(|i| i.key());
        let chat = identity.and_then(|i| {
            let age = i.age_identity().map_err(|e| e.to_string())?;
            let mut text = Vec::new();
            for seg in report
                .manifest
                .segments
                .iter()
                .filter(|s| s.track == Track::Chat)
            {
                let bytes = decrypt_segment(&ds, &report.manifest, seg.index, &age)
                    .map_err(|_| "this device's keys do not open it".to_string())?;
                text.extend_from_slice(&bytes);
                text.push(b'\n');
            }
            Ok(text)
        });
        let names = viewer::Names { known: &known, me };
        Ok(viewer::opened(&report, &recording, &names, chat))
    }
    .await
}

/// Export one track decrypted into the user's videos folder (`~/Videos/Assent`, or
/// `~/Assent exports` without one), under a name made from the title and date that does not
/// overwrite anything; the path written.
pub async fn export_recording(
    dir: PathBuf,
    recording: String,
    track: assent_shared::container::Track,
) -> Result<String, String> {
    async move {
        use assent_shared::container::{DirStore, Track};
        let path = PathBuf::from(&recording);
        let ds = DirStore::open(&path).map_err(|e| format!("cannot open the recording: {e}"))?;
        let report = assent_engine::library::verify_witnessed(&dir, &ds)
            .map_err(|e| format!("cannot read the recording: {e}"))?;
        if !report.verifies() {
            return Err("the recording does not verify: not exported".into());
        }
        let identity = open(&dir)?.identity().map_err(|e| e.to_string())?;
        let age = identity.age_identity().map_err(|e| e.to_string())?;
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .ok_or("no home directory to export to")?;
        let folder = if home.join("Videos").is_dir() {
            home.join("Videos").join("Assent")
        } else {
            home.join("Assent exports")
        };
        std::fs::create_dir_all(&folder)
            .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
        let title: String = report
            .manifest
            .epochs
            .first()
            .map(|p| p.terms.title.as_str())
            .unwrap_or("recording")
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == ' ' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let date = jiff::Timestamp::from_millisecond(report.manifest.started_at.0 as i64)
            .map(|t| t.strftime("%Y-%m-%d %H%M").to_string())
            .unwrap_or_default();
        let ext = match track {
            Track::Media => "mkv",
            Track::Chat => "txt",
        };
        let mut out = folder.join(format!("{} {date}.{ext}", title.trim()));
        let mut n = 2;
        while out.exists() {
            out = folder.join(format!("{} {date} ({n}).{ext}", title.trim()));
            n += 1;
        }
        crate::cli::recordings::export_track(&path, &report, &age, &out, track)
            .map_err(|e| format!("the export failed: {e:#}"))?;
        Ok(out.display().to_string())
    }
    .await
}

/// Decrypt a recording's media with this device's keys, in memory, and make a player for it
/// (paused at the start). Sound goes to the speakers unless `ASSENT_AUDIO_OUT=none`.
///
/// `manifest` is the one the viewer verified when it opened the recording (not verified
/// again: each segment is still checked against it as it is decrypted).
pub async fn load_media(
    dir: PathBuf,
    recording: String,
    manifest: std::sync::Arc<assent_shared::container::Manifest>,
) -> Result<std::sync::Arc<assent_engine::recorder::player::Player>, String> {
    async move {
        use assent_engine::recorder::player::{Player, Segment, Sound};
        use assent_shared::container::{DirStore, Track, decrypt_segment};
        let path = PathBuf::from(&recording);
        let ds = DirStore::open(&path).map_err(|e| format!("cannot open the recording: {e}"))?;
        let identity = open(&dir)?.identity().map_err(|e| e.to_string())?;
        let age = identity.age_identity().map_err(|e| e.to_string())?;
        let mut segments = Vec::new();
        for s in manifest.segments.iter().filter(|s| s.track == Track::Media) {
            let bytes = decrypt_segment(&ds, &manifest, s.index, &age)
                .map_err(|_| "this device's keys do not open it".to_string())?;
            segments.push(Segment {
                start_ms: s.start_ms,
                duration_ms: u64::from(s.duration_ms),
                bytes,
            });
        }
        let sound = match std::env::var("ASSENT_AUDIO_OUT").as_deref() {
            Ok("none") => Sound::Discard,
            _ => Sound::Speakers,
        };
        Player::new(segments, sound).map(std::sync::Arc::new)
    }
    .await
}
