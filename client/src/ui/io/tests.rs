//! The window's IO against a real profile on disk.

use super::*;
use assent_engine::store::RecordingRow;

fn recording(profile: &Path, id: &str) -> PathBuf {
    let dir = library::root(profile).join(id);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("segment-000000.age"), b"ciphertext").unwrap();
    let store = store(profile).unwrap();
    store
        .add_recording(&RecordingRow {
            id: id.into(),
            title: "Weekly sync".into(),
            dir: dir.to_string_lossy().into_owned(),
            call_id: "c".into(),
            started_at: 1,
            ended_at: Some(2),
            participants: vec![],
            tags: vec![],
            size: 10,
            segments: 1,
            state: "complete".into(),
            scope: "local".into(),
            retention_days: 30,
            cloud_state: "none".into(),
            uploaded_bytes: 0,
        })
        .unwrap();
    dir
}

/// Sounds in calls are on until turned off, and the setting is kept in the profile.
#[tokio::test(flavor = "multi_thread")]
async fn call_sounds_setting_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    assert!(sounds_on(&store(&dir).unwrap()));
    set_sounds(dir.clone(), false).await.unwrap();
    assert!(!sounds_on(&store(&dir).unwrap()));
    // Turned off, a sound is not played (and waiting for it costs nothing).
    chime(dir.clone(), assent_engine::media::chime::Chime::Asked, None).await;
    set_sounds(dir.clone(), true).await.unwrap();
    assert!(sounds_on(&store(&dir).unwrap()));
}

/// Deleting the local copy removes its files and its row; a recording whose recorder
/// holds the lock is refused and left whole.
#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_local_copy_respects_the_recorders_lock() {
    let profile = tempfile::tempdir().unwrap();
    let p = profile.path().to_path_buf();
    let busy = recording(&p, "busy");
    let lock = library::lock(&library::root(&p), "busy").unwrap();
    let err = delete_recording(p.clone(), "busy".into(), true, false)
        .await
        .unwrap_err();
    assert!(err.contains("in use"), "{err}");
    assert!(busy.join("segment-000000.age").exists());
    drop(lock);

    let done = recording(&p, "done");
    delete_recording(p.clone(), "done".into(), true, false)
        .await
        .unwrap();
    assert!(!done.exists());
    let ids: Vec<String> = store(&p)
        .unwrap()
        .recordings()
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, ["busy"]);
    let err = delete_recording(p, "done".into(), true, false)
        .await
        .unwrap_err();
    assert!(err.contains("not on this device"), "{err}");
}
