//! The test cameras: a folder of files the Video4Linux camera library for tests
//! (`tests/fakecam`, loaded into a client with `LD_PRELOAD`) answers for, one per camera,
//! saying its name and the colour of its picture; deleting a file unplugs that camera.

use std::path::Path;

/// Plug in the test camera `/dev/videoN` named `name`, whose picture is `rgb` (hex).
pub fn plug(dir: &Path, index: u32, name: &str, rgb: &str) {
    std::fs::write(
        dir.join(format!("video{index}")),
        format!("{name}\n{rgb}\n"),
    )
    .unwrap();
}

/// Unplug the test camera `/dev/videoN`.
pub fn unplug(dir: &Path, index: u32) {
    std::fs::remove_file(dir.join(format!("video{index}"))).unwrap();
}

/// What gives a client the test cameras of the folder `dir`.
pub fn env(dir: &Path) -> Vec<(String, String)> {
    vec![
        ("LD_PRELOAD".into(), env!("ASSENT_TEST_FAKECAM").into()),
        ("ASSENT_TEST_CAMERAS".into(), dir.display().to_string()),
    ]
}
