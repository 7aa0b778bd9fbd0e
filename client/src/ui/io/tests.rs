//! The window's IO against a real profile on disk.

use super::*;

/// Sounds in calls are on until turned off, and the setting is kept in the profile.
#[tokio::test(flavor = "multi_thread")]
async fn call_sounds_setting_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let sounds = |dir: &Path| settings_of(dir).unwrap().sounds();
    assert!(sounds(&dir));
    set_sounds(dir.clone(), false).await.unwrap();
    assert!(!sounds(&dir));
    // Turned off, a sound is not played (and waiting for it costs nothing).
    chime(dir.clone(), assent_engine::Chime::Asked, None).await;
    set_sounds(dir.clone(), true).await.unwrap();
    assert!(sounds(&dir));
}
