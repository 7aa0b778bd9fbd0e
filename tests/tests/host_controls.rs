//! A host's controls from the command line against the real server: lock, remove, end; a
//! participant is refused them.

use std::time::Duration;

use assent_e2e::call::{LOOPBACK_ICE, Server, ServerOptions};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_locks_removes_and_ends_the_meeting() {
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    let cat = server.user("Cat", None).await;
    let code = ann.create_meeting("Board");
    let mut b = bob.join(&code, LOOPBACK_ICE);
    b.event("joined", WAIT).await;

    // Only the host (or a co-host) may lock.
    let err = bob.try_cli(&["meeting", "lock", &code]).unwrap_err();
    assert!(
        err.contains("403") || err.to_lowercase().contains("forbidden"),
        "{err}"
    );
    ann.cli(&["meeting", "lock", &code]);
    // Cat tries to join (without media: the admission is what is tested).
    let cat_joins = || {
        cat.try_cli(&[
            "call",
            &code,
            "--duration",
            "1s",
            "--video",
            "none",
            "--audio",
            "none",
        ])
    };
    let err = cat_joins().unwrap_err();
    assert!(
        err.to_lowercase().contains("lock"),
        "a locked meeting refuses: {err}"
    );
    ann.cli(&["meeting", "lock", &code, "--unlock"]);

    // Removing Bob takes him out of the call.
    let show: Value = serde_json::from_str(bob.cli(&["account", "show", "--json"]).trim()).unwrap();
    let bob_id = show["user_id"].as_str().unwrap().to_string();
    ann.cli(&["meeting", "remove", &code, &bob_id]);
    b.event("closed", WAIT).await;

    // Ending it: nobody can join any more.
    ann.cli(&["meeting", "end", &code]);
    let err = cat_joins().unwrap_err();
    assert!(
        err.to_lowercase().contains("ended"),
        "an ended meeting refuses: {err}"
    );
}
