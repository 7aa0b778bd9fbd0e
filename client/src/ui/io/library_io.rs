//! The recordings: the library and the registry, uploads and downloads, opening, exporting and playing.

use super::*;
use assent_engine::{Copies, Keys, Library, LibraryError, Player, Sound};

/// The recordings list: the local library (brought in step with the disk first, so an
/// interrupted recording shows as incomplete) and, when signed in, the server's registry. A
/// registry failure comes back beside the local list, which is shown anyway.
pub async fn recordings(dir: PathBuf) -> Result<(Vec<recordings::Item>, Option<String>), String> {
    let library = Library::new(&dir);
    let rows = library.list().map_err(say)?.rows;
    let (cloud, error) = match library.cloud(false).await {
        Ok(list) => (list, None),
        Err(LibraryError::Account(_)) => (Vec::new(), Some("not signed in".into())),
        Err(e) => (Vec::new(), Some(say(e))),
    };
    Ok((recordings::merge(rows, cloud), error))
}

/// Set a recording's tags (this device's copy and the cloud copy).
pub async fn set_tags(dir: PathBuf, id: String, tags: Vec<String>) -> Result<String, String> {
    let kept = Library::new(&dir).retag(&id, &tags).await.map_err(say)?;
    Ok(if kept.is_empty() {
        "Tags removed.".to_string()
    } else {
        format!("Tagged {}.", assent_shared::api::hashtags(&kept))
    })
}

/// Delete a recording's local copy (never one being written: its recorder holds the lock)
/// and/or its cloud copy.
pub async fn delete_recording(
    dir: PathBuf,
    id: String,
    local: bool,
    cloud: bool,
) -> Result<String, String> {
    Library::new(&dir)
        .delete(&id, Copies { local, cloud })
        .await
        .map_err(say)?;
    Ok("Deleted.".to_string())
}

/// Upload a recording's cloud copy now (the uploader resumes where it stopped).
pub async fn upload_recording(dir: PathBuf, id: String) -> Result<String, String> {
    Library::new(&dir)
        .upload(Some(&id), 3, &|_| {})
        .await
        .map_err(say)?;
    Ok("The cloud copy is complete.".to_string())
}

/// Download a cloud copy into this device's library, where it is verified and listed.
pub async fn download_recording(dir: PathBuf, id: String) -> Result<String, String> {
    let got = Library::new(&dir).download(&id, None).await.map_err(say)?;
    Ok(format!(
        "Downloaded ({}).",
        recordings::human_size(got.bytes)
    ))
}

/// Open a recording for the viewer: verify it (offline), name the signers from this device's
/// contacts, and decrypt its chat with this device's keys.
pub async fn open_recording(dir: PathBuf, recording: String) -> Result<viewer::Opened, String> {
    let opened = Library::new(&dir)
        .open(Path::new(&recording))
        .map_err(say)?;
    let names = viewer::Names {
        known: &opened.contacts,
        me: opened.me,
    };
    let chat = opened.chat.map_err(say);
    Ok(viewer::opened(&opened.report, &recording, &names, chat))
}

/// Export one track decrypted into the user's videos folder (`~/Videos/Assent`, or
/// `~/Assent exports` without one), under a name made from the title and date that does not
/// overwrite anything; the path written. A recording that does not verify is not exported.
pub async fn export_recording(
    dir: PathBuf,
    recording: String,
    track: assent_shared::container::Track,
) -> Result<String, String> {
    let got = Library::new(&dir)
        .export(Path::new(&recording), track, None, Keys::Profile, false)
        .map_err(say)?;
    Ok(got.path.display().to_string())
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
) -> Result<std::sync::Arc<Player>, String> {
    let sound = match std::env::var("ASSENT_AUDIO_OUT").as_deref() {
        Ok("none") => Sound::Discard,
        _ => Sound::Speakers,
    };
    Library::new(&dir)
        .play(Path::new(&recording), &manifest, sound)
        .map(std::sync::Arc::new)
        .map_err(say)
}
