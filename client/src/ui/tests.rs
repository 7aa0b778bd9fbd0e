//! The app's flows through its screens, driven by messages as the window would send them.

use super::auth::Auth;
use super::home::MeetingCard;
use super::*;
use assent_shared::ids::UserId;

fn signing_in() -> App {
    App {
        profile: PathBuf::from("/nonexistent"),
        default_server: String::new(),
        tz: TimeZone::UTC,
        screen: Screen::Auth(Auth::new(
            "http://127.0.0.1:1".into(),
            "ada@example.org".into(),
        )),
        dark: false,
        server: String::new(),
        link: None,
        screen_changes: 0,
    }
}

/// Signed in as Ada: Home.
fn signed_in() -> App {
    let mut app = signing_in();
    let _ = app.update(Message::Auth(auth::Message::SignedIn(Ok(Account {
        server: "http://127.0.0.1:1".into(),
        email: "ada@example.org".into(),
        user_id: UserId::random(),
        display_name: "Ada".into(),
    }))));
    app
}

/// The window carries the app's icon (decoded from the packaged PNG) and the class the
/// desktop entry names.
#[test]
fn the_window_has_the_icon_and_class() {
    let w = window_settings();
    assert!(w.icon.is_some());
    assert_eq!(w.platform_specific.application_id, "assent");
    let desktop = include_str!("../../../packaging/app/assent.desktop");
    assert!(desktop.contains("\nStartupWMClass=assent\n"));
}

/// Opened from an `assent://` link before signing in: once signed in, the link is in the
/// join field and its meeting is being looked up; the answer shows it, ready to join.
#[test]
fn a_link_is_looked_up_after_signing_in() {
    let mut app = signing_in();
    app.link = Some("abc-defg-hij".into());
    let _ = app.update(Message::Auth(auth::Message::SignedIn(Ok(Account {
        server: "http://127.0.0.1:1".into(),
        email: "ada@example.org".into(),
        user_id: UserId::random(),
        display_name: "Ada".into(),
    }))));
    assert!(app.link.is_none(), "used once");
    {
        let Screen::Home(home) = &app.screen else {
            panic!("home after signing in")
        };
        let mut ui = iced_test::simulator(home.view());
        assert!(ui.find("assent://join/abc-defg-hij").is_ok());
    }
    let _ = app.update(Message::Home(home::Message::Meeting(Ok(MeetingCard {
        code: "abc-defg-hij".into(),
        title: "Planning".into(),
        created: false,
    }))));
    assert_eq!(app.title(), "Assent — Planning");
}

/// Click `label` on the window's current screen; its messages go through the app.
fn click(app: &mut App, label: &str) {
    let messages: Vec<Message> = {
        let mut ui =
            iced_test::Simulator::with_size(iced::Settings::default(), (1280.0, 900.0), app.view());
        ui.click(label)
            .unwrap_or_else(|e| panic!("{label:?} on {}: {e:?}", app.title()));
        ui.into_messages().collect()
    };
    for m in messages {
        let _ = app.update(m);
    }
}

/// The main flow through the screens, by their buttons: sign up, verify the email, store
/// the recovery code, create a meeting, get ready, join. (The engine's answers are given
/// as the messages its tasks would bring.)
#[test]
fn sign_up_verify_create_a_meeting_and_join() {
    let mut app = signing_in();
    click(&mut app, "Create an account");
    assert_eq!(app.title(), "Assent — create your account");
    for m in [
        auth::Message::Name("Ada".into()),
        auth::Message::Password("correct horse battery staple".into()),
    ] {
        let _ = app.update(Message::Auth(m));
    }
    click(&mut app, "Create account");
    let _ = app.update(Message::Auth(auth::Message::SignedUp(Ok(
        zeroize::Zeroizing::new("RCVR-CODE".into()),
    ))));
    assert_eq!(app.title(), "Assent — check your email");
    let _ = app.update(Message::Auth(auth::Message::Code("123456".into())));
    click(&mut app, "Verify");
    let _ = app.update(Message::Auth(auth::Message::Verified(Ok(()))));
    assert_eq!(app.title(), "Assent — your recovery code");
    click(&mut app, "I have stored my recovery code");
    click(&mut app, "Continue");
    let _ = app.update(Message::Auth(auth::Message::SignedIn(Ok(Account {
        server: "http://127.0.0.1:1".into(),
        email: "ada@example.org".into(),
        user_id: UserId::random(),
        display_name: "Ada".into(),
    }))));
    assert_eq!(app.title(), "Assent");
    click(&mut app, "New meeting");
    let _ = app.update(Message::Home(home::Message::Meeting(Ok(MeetingCard {
        code: "abc-defg-hij".into(),
        title: "Ada's meeting".into(),
        created: true,
    }))));
    click(&mut app, "Join now");
    assert_eq!(app.title(), "Assent — Ada's meeting — getting ready");
    let _ = app.update(Message::Setup(setup::Message::Devices(Ok(
        setup::Devices::default(),
    ))));
    click(&mut app, "Join");
    assert_eq!(app.title(), "Assent — Ada's meeting — in call with 0");
    let Screen::Room { room, .. } = &app.screen else {
        panic!("in the room")
    };
    assert_eq!(room.code(), "abc-defg-hij");
}

/// A change of screen changes the background by one step (the whole window is redrawn);
/// staying on a screen does not.
#[test]
fn a_new_screen_is_drawn_whole() {
    let mut app = signed_in();
    let theme = app.theme();
    let bg = |app: &App| app.style(&theme).background_color;
    let first = bg(&app);
    let _ = app.update(Message::Home(home::Message::JoinInput("abc".into())));
    assert_eq!(bg(&app), first, "same screen");
    let _ = app.update(Message::Shortcut(Shortcut::Recordings));
    let second = bg(&app);
    assert_ne!(second, first);
    assert!((second.b - first.b).abs() <= 1.0 / 255.0 + f32::EPSILON);
    assert_eq!((second.r, second.g), (first.r, first.g));
    let _ = app.update(Message::Shortcut(Shortcut::Back));
    assert_eq!(bg(&app), first);
}

/// Joining goes through the meeting setup: Escape goes back, the devices found start a
/// preview (a late answer for an older one is dropped), Ctrl+D mutes, Enter joins muted.
#[test]
fn joining_goes_through_the_setup() {
    let mut app = signed_in();
    let _ = app.update(Message::Home(home::Message::Meeting(Ok(MeetingCard {
        code: "abc-defg-hij".into(),
        title: "Planning".into(),
        created: false,
    }))));
    let _ = app.update(Message::Home(home::Message::Enter));
    assert_eq!(app.title(), "Assent — Planning — getting ready");
    let _ = app.update(Message::Shortcut(Shortcut::Back));
    assert_eq!(app.title(), "Assent — Planning");
    let _ = app.update(Message::Home(home::Message::Enter));
    let choice = |label: &str, spec: &str| setup::Choice {
        label: label.into(),
        spec: spec.into(),
    };
    let _ = app.update(Message::Setup(setup::Message::Devices(Ok(
        setup::Devices {
            cameras: vec![choice("test picture (ball)", "test")],
            microphones: vec![choice("test tone (440 Hz)", "test")],
            speakers: vec![choice("System default", "")],
            last: setup::Chosen::default(),
        },
    ))));
    let Screen::Setup { generation, .. } = &app.screen else {
        panic!("the setup")
    };
    assert_eq!(*generation, 1, "a preview was asked for");
    // Ctrl+D: the preview restarts without the microphone.
    let _ = app.update(Message::Shortcut(Shortcut::Mic));
    let Screen::Setup {
        generation, setup, ..
    } = &app.screen
    else {
        panic!("the setup")
    };
    assert_eq!(*generation, 2);
    assert!(!setup.mic_on());
    // The first preview's answer comes late: dropped. The second's failure is shown.
    let _ = app.update(Message::PreviewStarted(1, Err("stale".into())));
    let _ = app.update(Message::PreviewStarted(2, Err("no camera".into())));
    {
        let Screen::Setup { setup, preview, .. } = &app.screen else {
            panic!("the setup")
        };
        assert!(preview.is_none());
        let mut ui = iced_test::simulator(setup.view());
        assert!(ui.find("Camera: no camera").is_ok());
        assert!(ui.find("Camera: stale").is_err());
    }
    // Enter joins, muted with the camera on.
    let _ = app.update(Message::Shortcut(Shortcut::Confirm));
    let Screen::Room { room, .. } = &app.screen else {
        panic!("in the room")
    };
    assert_eq!(room.code(), "abc-defg-hij");
    let mut ui = iced_test::simulator(room.view());
    assert!(ui.find("Unmute").is_ok() && ui.find("Camera off").is_ok());
}

/// The engine's answers move the screens on: a TOTP demand opens the code step, a failure
/// is shown on the form, success opens Home; F2's message switches the theme.
#[test]
fn answers_move_the_screens_on() {
    let mut app = signing_in();
    let _ = app.update(Message::Auth(auth::Message::SignedIn(Err(
        io::SignInError::TotpRequired,
    ))));
    assert!(matches!(&app.screen, Screen::Auth(a) if a.step() == auth::Step::Totp));
    let _ = app.update(Message::Auth(auth::Message::SignedIn(Err(
        io::SignInError::Other("wrong code".into()),
    ))));
    {
        let Screen::Auth(auth) = &app.screen else {
            panic!("still signing in")
        };
        let mut ui = iced_test::simulator(auth.view());
        assert!(ui.find("wrong code").is_ok());
    }
    let _ = app.update(Message::Auth(auth::Message::SignedIn(Ok(Account {
        server: "http://127.0.0.1:1".into(),
        email: "ada@example.org".into(),
        user_id: UserId::random(),
        display_name: "Ada".into(),
    }))));
    {
        let Screen::Home(home) = &app.screen else {
            panic!("home after signing in")
        };
        let mut ui = iced_test::simulator(home.view());
        assert!(ui.find("Hello, Ada").is_ok());
    }
    assert_eq!(app.title(), "Assent");
    assert_eq!(app.theme(), super::theme::light());
    let _ = app.update(Message::ToggleTheme);
    assert_eq!(app.theme(), super::theme::dark());
}

/// Recordings opens over Home, shows what the engine loaded (and why the cloud part is
/// missing, when it is), and Back returns to Home as it was.
#[test]
fn recordings_open_over_home_and_return() {
    let mut app = signed_in();
    let _ = app.update(Message::Home(home::Message::Recordings));
    assert_eq!(app.title(), "Assent — recordings");
    let _ = app.update(Message::Recordings(recordings::Message::Loaded(Ok((
        vec![recordings::Item {
            id: "r1".into(),
            title: "Weekly sync".into(),
            started_at: 1_795_000_000_000,
            duration_ms: Some(60_000),
            participants: vec!["Ada".into(), "Grace".into()],
            tags: vec!["team".into()],
            size: 1_000_000,
            local: Some((
                "/p/recordings/r1".into(),
                assent_engine::RecordingState::Complete,
            )),
            cloud: Some(recordings::Cloud::NotKept),
            keep_until: None,
            can_delete_cloud: false,
        }],
        Some("server unreachable".into()),
    )))));
    {
        let Screen::Recordings { list, .. } = &app.screen else {
            panic!("the recordings list")
        };
        let mut ui = iced_test::simulator(list.view());
        assert!(ui.find("Weekly sync").is_ok());
        assert!(
            ui.find("Cloud copies not shown: server unreachable")
                .is_ok()
        );
        assert!(ui.find("Kept on this device only").is_ok());
    }
    let _ = app.update(Message::Recordings(recordings::Message::Back));
    assert!(matches!(&app.screen, Screen::Home(_)));
    assert_eq!(app.title(), "Assent");
}

/// Settings open over Home with the account's name, email and server; a failed deletion
/// stays on the page with the reason, a done one leaves the account.
#[test]
fn settings_open_over_home_and_a_deletion_leaves() {
    let mut app = signed_in();
    let _ = app.update(Message::Home(home::Message::Settings));
    assert_eq!(app.title(), "Assent — settings");
    {
        let Screen::Settings { page, .. } = &app.screen else {
            panic!("the settings")
        };
        let mut ui = iced_test::simulator(page.view());
        assert!(ui.find("Ada <ada@example.org>").is_ok());
        assert!(ui.find("Server: http://127.0.0.1:1").is_ok());
    }
    let _ = app.update(Message::Settings(settings::Message::Deleted(Err(
        "invalid credentials (invalid_credentials)".into(),
    ))));
    assert_eq!(app.title(), "Assent — settings");
    let _ = app.update(Message::Settings(settings::Message::Back));
    assert_eq!(app.title(), "Assent");
    let _ = app.update(Message::Home(home::Message::Settings));
    let _ = app.update(Message::Settings(settings::Message::Deleted(Ok(()))));
    assert!(matches!(app.screen, Screen::Loading), "starts over");
}

/// Key presses map to shortcuts; each acts on the screen it belongs to and nowhere else.
#[test]
fn shortcuts_navigate() {
    use keyboard::{Key, Modifiers};
    let ch = |c: &str| Key::Character(c.into());
    assert_eq!(
        shortcut(&ch("r"), Modifiers::CTRL),
        Some(Shortcut::Recordings)
    );
    assert_eq!(
        shortcut(&ch("R"), Modifiers::CTRL | Modifiers::SHIFT),
        Some(Shortcut::Record)
    );
    assert_eq!(
        shortcut(&ch(","), Modifiers::CTRL),
        Some(Shortcut::Settings)
    );
    assert_eq!(shortcut(&ch("a"), Modifiers::ALT), Some(Shortcut::Agree));
    assert_eq!(
        shortcut(&ch("P"), Modifiers::CTRL | Modifiers::SHIFT),
        Some(Shortcut::People)
    );
    assert_eq!(
        shortcut(&ch("a"), Modifiers::empty()),
        None,
        "typing stays typing"
    );
    assert_eq!(
        shortcut(&Key::Named(key::Named::Escape), Modifiers::empty()),
        Some(Shortcut::Back)
    );

    let mut app = signing_in();
    let _ = app.update(Message::Shortcut(Shortcut::Recordings));
    assert!(
        matches!(app.screen, Screen::Auth(_)),
        "nothing before signing in"
    );
    let _ = app.update(Message::Auth(auth::Message::SignedIn(Ok(Account {
        server: "http://127.0.0.1:1".into(),
        email: "ada@example.org".into(),
        user_id: UserId::random(),
        display_name: "Ada".into(),
    }))));
    let _ = app.update(Message::Shortcut(Shortcut::Recordings));
    assert_eq!(app.title(), "Assent — recordings");
    let _ = app.update(Message::Shortcut(Shortcut::Settings));
    assert_eq!(app.title(), "Assent — recordings", "only from Home");
    let _ = app.update(Message::Recordings(recordings::Message::Loaded(Ok((
        Vec::new(),
        None,
    )))));
    assert_eq!(app.title(), "Assent — recordings (0)", "loaded");
    let _ = app.update(Message::Shortcut(Shortcut::Back));
    assert_eq!(app.title(), "Assent");
    let _ = app.update(Message::Shortcut(Shortcut::Settings));
    assert_eq!(app.title(), "Assent — settings");
    let _ = app.update(Message::Shortcut(Shortcut::Back));
    assert_eq!(app.title(), "Assent");
}

/// Schedule opens over Home and returns to it: on Cancel as it was, after scheduling with
/// the new meeting on show.
#[test]
fn scheduling_opens_over_home_and_returns() {
    let mut app = signed_in();
    let _ = app.update(Message::Home(home::Message::Schedule));
    assert_eq!(app.title(), "Assent — schedule a meeting");
    let _ = app.update(Message::Schedule(schedule::Message::Cancel));
    assert!(matches!(&app.screen, Screen::Home(_)));
    let _ = app.update(Message::Home(home::Message::Schedule));
    let _ = app.update(Message::Schedule(schedule::Message::Scheduled(Err(
        "server says no".into(),
    ))));
    assert!(
        matches!(&app.screen, Screen::Schedule { .. }),
        "stays to be corrected"
    );
    let _ = app.update(Message::Schedule(schedule::Message::Scheduled(Ok(
        MeetingCard {
            code: "abc-defg-hij".into(),
            title: "Planning".into(),
            created: true,
        },
    ))));
    assert_eq!(app.title(), "Assent — Planning");
}
