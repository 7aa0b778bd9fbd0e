//! Builds the test camera (`fakecam/fakecam.c`): a shared library the camera tests load into
//! the client with `LD_PRELOAD`, so that nokhwa finds a Video4Linux camera on a machine without
//! one. Its path reaches the tests as `ASSENT_TEST_FAKECAM`.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let source = "fakecam/fakecam.c";
    println!("cargo::rerun-if-changed={source}");
    let out =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("libassent_fakecam.so");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args([
            "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", "-o",
        ])
        .arg(&out)
        .arg(source)
        .arg("-ldl")
        .status()
        .unwrap_or_else(|e| panic!("{cc} (needed for the test camera): {e}"));
    assert!(status.success(), "{cc} could not build {source}");
    println!("cargo::rustc-env=ASSENT_TEST_FAKECAM={}", out.display());
}
