//! The real desktop window on a virtual X display, driven with the keyboard like a person
//! would, against the real server and a headless second client; screenshots of every screen
//! it shows on the way (sign-in, home, a meeting, the meeting setup, the call, the consent
//! dialog, recording, the recordings, the viewer playing, settings, the schedule form).

use std::time::Duration;

use assent_e2e::call::{LOOPBACK_ICE, Server, ServerOptions};
use assent_e2e::display::{Display, screenshot_dir};

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_signs_in_from_the_keyboard() {
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let bob = server.user("Bob", None).await;
    // In an earlier call Ann compared safety numbers with Bob and said they match: the window
    // shows him verified (on his tile, in the people panel and in the consent dialog).
    {
        let code = bob.create_meeting("Earlier");
        let mut a = ann.join(&code, LOOPBACK_ICE);
        a.event("joined", WAIT).await;
        let mut b = bob.join(&code, LOOPBACK_ICE);
        let trusted = a.event("key_trusted", WAIT).await;
        assert_eq!(trusted["compared"], false, "{trusted}");
        a.command(&format!("verified {}", trusted["peer"].as_str().unwrap()));
        a.wait("Bob verified", WAIT, |v| {
            v["event"] == "key_trusted" && v["compared"] == true
        })
        .await;
        b.leave().await;
        a.leave().await;
    }
    ann.cli(&["account", "signout"]);
    assert!(ann.cli(&["account", "show"]).contains("signed in    no"));

    let display = Display::start(1280, 720);
    let window = ann.open_window(&display.name);
    // Signed out: the sign-in form, with the server and email of the last account filled in
    // and the password field holding the keyboard.
    display.wait_for_window("Assent — sign in", WAIT);
    let tmp = tempfile::tempdir().unwrap();
    let shots = screenshot_dir(&tmp);
    let colours = display.screenshot(&shots.join("sign-in.png"));
    assert!(
        colours > 16,
        "the sign-in screen looks blank ({colours} colours)"
    );

    display.focus("Assent — sign in");
    display.type_text(assent_e2e::call::PASSWORD);
    display.keys(&["Return"]);
    // Signed in: Home.
    display.wait_for_window("Assent", WAIT);
    let colours = display.screenshot(&shots.join("home.png"));
    assert!(
        colours > 16,
        "the home screen looks blank ({colours} colours)"
    );

    // Joining by link: the meeting is looked up on the server and shown (and named in the
    // window's title).
    let code = bob.create_meeting("Standup");
    display.type_text(&format!("assent://join/{code}"));
    display.keys(&["Return"]);
    display.wait_for_window("Assent — Standup", WAIT);
    let colours = display.screenshot(&shots.join("meeting-found.png"));
    assert!(
        colours > 16,
        "the meeting card looks blank ({colours} colours)"
    );

    // F2 switches to the dark theme: wait until the window's background is dark.
    let path = shots.join("meeting-found.png");
    display.screenshot(&path);
    let (r, g, b) = Display::pixel(&path, 5, 5);
    assert!(
        r > 200 && g > 200 && b > 200,
        "light theme first: {:?}",
        (r, g, b)
    );
    display.keys(&["F2"]);
    display.wait_for_pixel(
        &shots.join("meeting-found-dark.png"),
        (5, 5),
        |(r, g, b)| r < 80 && g < 80 && b < 80,
        "F2 did not switch to the dark theme",
        WAIT,
    );

    // Enter again: the meeting setup, previewing the window's camera (the test picture: a
    // ball on black) and microphone.
    display.keys(&["F2"]); // back to the light theme
    display.keys(&["Return"]);
    display.wait_for_window("Assent — Standup — getting ready", WAIT);
    display.wait_for_pixel(
        &shots.join("setup.png"),
        (300, 300),
        |(r, g, b)| r < 30 && g < 30 && b < 30,
        "no preview in the setup",
        WAIT,
    );
    // Enter: into the call. Bob joins headless; the window and Bob connect end to end and Bob
    // receives the window's video and audio.
    display.keys(&["Return"]);
    display.wait_for_window("Assent — Standup — in call with 0", WAIT);
    let mut b = bob.join(&code, LOOPBACK_ICE);
    b.event("joined", WAIT).await;
    display.wait_for_window("Assent — Standup — in call with 1", WAIT);
    b.wait_media("Ann", 30, 500, WAIT).await;
    // Bob's video (a ball on black) reaches the window: on the light theme, the middle of his
    // tile turns black once his frames are drawn.
    display.wait_for_pixel(
        &shots.join("room.png"),
        (300, 200),
        // The picture's black (the stage and an empty tile are dark grey).
        |(r, g, b)| r < 8 && g < 8 && b < 8,
        "no video in the window",
        WAIT,
    );
    // Ctrl+Shift+P: the people, Bob's key as the directory proved it and the safety number to
    // compare (digits and a QR code); again: the chat.
    display.keys(&["ctrl+shift+p"]);
    display.wait_for_window("Assent — Standup — in call with 1 — people", WAIT);
    // Drawn: the panel (the theme's light surface) beside the dark stage.
    display.wait_for_pixel(
        &shots.join("people-keys.png"),
        (1252, 650),
        |(r, g, b)| r > 200 && g > 200 && b > 200,
        "the people panel is not shown",
        WAIT,
    );
    display.keys(&["ctrl+shift+p"]);
    display.wait_for_window("Assent — Standup — in call with 1", WAIT);

    // Bob proposes recording: the window asks (its title says so too); Alt+D declines.
    b.command("record Bob's notes");
    display.wait_for_window("Assent — Standup — in call with 1 — asked to record", WAIT);
    // Drawn: the dialog (the theme's light surface) over the middle of Bob's picture.
    display.wait_for_pixel(
        &shots.join("consent-dialog.png"),
        (372, 360),
        |(r, g, b)| r > 200 && g > 200 && b > 200,
        "the consent dialog is not shown",
        WAIT,
    );
    display.keys(&["alt+d"]);
    display.wait_for_window("Assent — Standup — in call with 1", WAIT);
    // The window proposes (Ctrl+Shift+R) and Bob agrees: it records, and the title says so.
    display.keys(&["ctrl+shift+r"]);
    b.event("consent_asked", WAIT).await;
    b.command("agree");
    display.wait_for_window("Assent — Standup — in call with 1 — recording", WAIT);
    // Drawn: the recording pill at the top turns red.
    display.wait_for_pixel(
        &shots.join("recording.png"),
        (600, 19),
        |(r, g, b)| r > 200 && g < 110 && b < 110,
        "the recording pill is not red",
        WAIT,
    );
    // Bob withdraws (it stops) and leaves; the window leaves (Ctrl+Shift+L), Escape: Home.
    b.command("withdraw");
    display.wait_for_window("Assent — Standup — in call with 1", WAIT);
    b.leave().await;
    display.keys(&["ctrl+shift+l"]);
    display.wait_for_window("Assent — Standup — call ended", WAIT);
    display.keys(&["Escape"]);
    display.wait_for_window("Assent — Standup", WAIT);

    // Ctrl+R: the recordings, with the one just made; Enter opens the first in the viewer,
    // Space plays it.
    display.keys(&["ctrl+r"]);
    display.wait_for_window("Assent — recordings (1)", WAIT);
    display.screenshot(&shots.join("recordings.png"));
    display.keys(&["Return"]);
    display.wait_for_window("Assent — recording — Standup recording", WAIT);
    display.keys(&["space"]);
    // Playing: the video tile at the top of the viewer shows a picture (not the background).
    display.wait_for_pixel(
        &shots.join("viewer.png"),
        (330, 200),
        |(r, g, b)| r < 200 || g < 200 || b < 200,
        "the viewer shows no picture",
        WAIT,
    );
    display.keys(&["space", "Escape"]);
    display.wait_for_window("Assent — recordings (1)", WAIT);
    display.keys(&["Escape", "Escape"]);
    display.wait_for_window("Assent — Standup", WAIT);

    // Ctrl+, settings; Ctrl+S the schedule form.
    display.keys(&["ctrl+comma"]);
    display.wait_for_window("Assent — settings", WAIT);
    display.screenshot(&shots.join("settings.png"));
    // A focused field takes the first Escape (it lets go of the keyboard); the second goes
    // back. At Home, Escape does nothing.
    display.keys(&["Escape", "Escape", "ctrl+s"]);
    display.wait_for_window("Assent — schedule a meeting", WAIT);
    display.screenshot(&shots.join("schedule.png"));
    display.keys(&["Escape", "Escape"]);
    display.wait_for_window("Assent — Standup", WAIT);

    drop(window);
    // The window's sign-in is the profile's: the command line sees the session.
    assert!(ann.cli(&["account", "show"]).contains("signed in    yes"));
}

/// Signing up in the window from the keyboard: the form with the password rules checked as
/// you type, the emailed code, the recovery code shown once, then Home. Then, with two-factor
/// sign-in turned on, signing in asks for the authenticator's code. Screenshots of each step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_signs_up_and_asks_for_the_second_factor() {
    use assent_e2e::call::PASSWORD;
    let server = Server::start(ServerOptions::default()).await;
    let cy = server.newcomer("Cy");
    let display = Display::start(1280, 720);
    let window = cy.open_window_env(&display.name, &[("ASSENT_SERVER", server.base())]);
    let tmp = tempfile::tempdir().unwrap();
    let shots = screenshot_dir(&tmp);
    // A fresh profile: the server is filled in and the email field has the keyboard.
    display.wait_for_window("Assent — sign in", WAIT);
    display.focus("Assent — sign in");
    display.type_text(&cy.email);
    // Ctrl+N: the sign-up form, the name field (the first empty one) taking the keyboard.
    display.keys(&["ctrl+n"]);
    display.wait_for_window("Assent — create your account", WAIT);
    display.type_text("Cy");
    display.keys(&["Tab"]);
    display.type_text("cy");
    assert!(display.screenshot(&shots.join("sign-up-rules.png")) > 16);
    // A password too short does not submit; a good one does.
    display.keys(&["Return"]);
    display.keys(&["ctrl+a"]);
    display.type_text(PASSWORD);
    assert!(display.screenshot(&shots.join("sign-up.png")) > 16);
    display.keys(&["Return"]);
    // The emailed code.
    display.wait_for_window("Assent — check your email", WAIT);
    assert!(display.screenshot(&shots.join("verify-email.png")) > 16);
    let code = server.mailed_code(&cy.email).await;
    display.type_text(&code);
    display.keys(&["Return"]);
    // The recovery code, once: Space ticks "I have stored it", Enter goes on to Home.
    display.wait_for_window("Assent — your recovery code", WAIT);
    assert!(display.screenshot(&shots.join("recovery-code.png")) > 16);
    display.keys(&["Return"]);
    display.keys(&["space", "Return"]);
    display.wait_for_window("Assent", WAIT);
    drop(window);
    assert!(cy.cli(&["account", "show"]).contains("signed in    yes"));

    // Two-factor sign-in on: the window asks for the authenticator's code after the password.
    let e: serde_json::Value =
        serde_json::from_str(cy.cli(&["account", "totp", "enrol", "--json"]).trim()).unwrap();
    let secret = e["secret"].as_str().unwrap().to_string();
    cy.cli(&["account", "totp", "confirm", &assent_e2e::totp(&secret, -1)]);
    cy.cli(&["account", "signout"]);
    let _window = cy.open_window(&display.name);
    display.wait_for_window("Assent — sign in", WAIT);
    display.focus("Assent — sign in");
    display.type_text(PASSWORD);
    display.keys(&["Return"]);
    display.wait_for_window("Assent — two-factor code", WAIT);
    assert!(display.screenshot(&shots.join("two-factor.png")) > 16);
    display.type_text(&assent_e2e::totp(&secret, 0));
    display.keys(&["Return"]);
    display.wait_for_window("Assent", WAIT);
    assert!(cy.cli(&["account", "show"]).contains("signed in    yes"));
}

/// Forgot password, in the window of a new device: Ctrl+R on the sign-in form, the address,
/// then the mailed code, the recovery code and a new password; Home follows, with the same
/// keys as before. Screenshots `forgot-password.png` and `new-password.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_recovers_a_forgotten_password() {
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let fingerprint = |u: &assent_e2e::call::User| -> Option<String> {
        let shown = u.try_cli(&["account", "show", "--json"]).ok()?;
        let v: serde_json::Value = serde_json::from_str(shown.trim()).ok()?;
        v["fingerprint"].as_str().map(str::to_string)
    };
    let before = fingerprint(&ann).expect("keys");
    let recovery = std::fs::read_to_string(ann.profile.with_extension("recovery")).unwrap();
    let desk = ann.with_profile_suffix("desk");
    let display = Display::start(1280, 720);
    let _window = desk.open_window_env(&display.name, &[("ASSENT_SERVER", server.base())]);
    let tmp = tempfile::tempdir().unwrap();
    let shots = screenshot_dir(&tmp);
    display.wait_for_window("Assent — sign in", WAIT);
    display.focus("Assent — sign in");
    display.keys(&["ctrl+r"]);
    display.wait_for_window("Assent — forgot password", WAIT);
    display.type_text(&ann.email);
    assert!(display.screenshot(&shots.join("forgot-password.png")) > 16);
    display.keys(&["Return"]);
    display.wait_for_window("Assent — new password", WAIT);
    let code = server.mailed_code_about(&ann.email, "recovery code").await;
    // The mailed code has the keyboard; Tab goes on to the recovery code, the authenticator's
    // code (empty: two-factor is off) and the new password.
    display.type_text(&code);
    display.keys(&["Tab"]);
    display.type_text(recovery.trim());
    display.keys(&["Tab", "Tab"]);
    display.type_text("a brand new password for Ann");
    assert!(display.screenshot(&shots.join("new-password.png")) > 16);
    display.keys(&["Return"]);
    display.wait_for_window("Assent", WAIT);
    assert_eq!(fingerprint(&desk).as_deref(), Some(before.as_str()));
    // The old device was signed out by the recovery.
    assert!(ann.try_cli(&["account", "sessions", "--json"]).is_err());
}

/// At 1920x1080 the window fills the screen and its screens are laid out for it (the pictures
/// are written like the others: `home-1080p.png`, `recordings-1080p.png`, `settings-1080p.png`,
/// `setup-1080p.png`, `room-1080p.png`, `camera-off-1080p.png`). Turning the camera off in the
/// call (Ctrl+E) takes the own picture away whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_at_1920x1080() {
    let server = Server::start(ServerOptions::default()).await;
    let ann = server.user("Ann", None).await;
    let display = Display::start(1920, 1080);
    let _window = ann.open_window(&display.name);
    display.wait_for_window("Assent", WAIT);
    display.resize("Assent", 1920, 1080);
    display.focus("Assent");
    let tmp = tempfile::tempdir().unwrap();
    let shots = screenshot_dir(&tmp);
    // The window covers the screen: its background reaches the far corner.
    display.wait_for_pixel(
        &shots.join("home-1080p.png"),
        (1915, 1075),
        |(r, g, b)| r > 200 && g > 200 && b > 200,
        "the window did not grow to 1920x1080",
        WAIT,
    );
    display.keys(&["ctrl+r"]);
    display.wait_for_window("Assent — recordings (0)", WAIT);
    assert!(display.screenshot(&shots.join("recordings-1080p.png")) > 16);
    display.keys(&["Escape", "Escape", "ctrl+comma"]);
    display.wait_for_window("Assent — settings", WAIT);
    assert!(display.screenshot(&shots.join("settings-1080p.png")) > 16);
    // Getting ready and the call (alone, with the own tile) at this size too.
    display.keys(&["Escape", "Escape"]);
    display.wait_for_window("Assent", WAIT);
    let code = ann.create_meeting("Planning");
    // Back from a screen nothing has the keyboard: Tab gives it to the join field.
    display.keys(&["Tab"]);
    display.get_ready_for(&code, "Planning", WAIT);
    // The preview's picture (the test ball on black) fills the middle of the left side.
    display.wait_for_pixel(
        &shots.join("setup-1080p.png"),
        (600, 500),
        |(r, g, b)| r < 30 && g < 30 && b < 30,
        "no preview at 1920x1080",
        WAIT,
    );
    display.keys(&["Return"]);
    display.wait_for_window("Assent — Planning — in call with 0", WAIT);
    // Nothing of the last screen stays behind: where the preview's left edge was, the call's
    // screen shows its stage (the renderer once left a one-pixel line there; the preview's
    // picture is black, the stage a dark grey).
    let near = |want: (u8, u8, u8)| {
        move |(r, g, b): (u8, u8, u8)| {
            r.abs_diff(want.0) <= 3 && g.abs_diff(want.1) <= 3 && b.abs_diff(want.2) <= 3
        }
    };
    let (stage, tile) = ((14, 16, 20), (31, 35, 43));
    display.wait_for_pixel(
        &shots.join("room-1080p.png"),
        (22, 500),
        near(stage),
        "a line of the previous screen stayed behind",
        WAIT,
    );
    assert!(display.screenshot(&shots.join("room-1080p.png")) > 16);
    // The own tile shows the picture sent (black around the test ball); Ctrl+E turns the
    // camera off and the picture goes whole, edges included: the tile shows its own colour
    // (and the initials) from one side to the other.
    let black = |(r, g, b): (u8, u8, u8)| r < 8 && g < 8 && b < 8;
    let path = shots.join("camera-off-1080p.png");
    display.wait_for_pixel(&path, (1500, 500), black, "no own picture", WAIT);
    // The tile's sides on that line: the first and last pixels that are not the stage.
    let row = Display::row(&path, 500);
    let left = row.iter().position(|p| !near(stage)(*p)).expect("a tile");
    let right = row.iter().rposition(|p| !near(stage)(*p)).expect("a tile");
    assert!(
        left > 100 && right < 1820 && right - left > 1500,
        "the tile spans {left}..{right}"
    );
    // Inside the outline (the one speaking is outlined, 3 pixels), the picture's edges.
    let edges = [
        left + 4,
        left + 5,
        left + 6,
        right - 6,
        right - 5,
        right - 4,
    ];
    for x in edges {
        assert!(black(row[x]), "the picture at x {x}: {:?}", row[x]);
    }
    display.keys(&["ctrl+e"]);
    display.wait_for_pixel(&path, (1500, 500), near(tile), "the picture stayed", WAIT);
    for x in edges {
        let rgb = Display::pixel(&path, x as u32, 500);
        assert!(
            near(tile)(rgb),
            "a line of the picture stayed at x {x}: {rgb:?}"
        );
    }
}
