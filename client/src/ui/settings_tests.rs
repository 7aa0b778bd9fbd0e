//! The settings screen, in the simulator.

use super::*;
use iced_test::simulator;

fn settings(totp: bool) -> Settings {
    let mut s = Settings::new(
        "Ada".into(),
        "ada@example.org".into(),
        "https://assent.example.org".into(),
        TimeZone::UTC,
    );
    let session = |id: &str, device: &str, current: bool| SessionInfo {
        id: id.into(),
        device: device.into(),
        created_at: 1_795_000_000_000,
        last_used_at: 1_795_000_600_000,
        expires_at: 1_797_000_000_000,
        current,
    };
    s.on_loaded(Loaded {
        totp_enabled: totp,
        sessions: vec![
            session("s1", "assent on desk", true),
            session("s2", "laptop", false),
        ],
        sounds: true,
        voice_processing: true,
        gain_control: false,
    });
    s
}

/// Click `label` on the screen as shown; the events the screen answers with.
fn click(s: &mut Settings, label: &str) -> Vec<Event> {
    let messages: Vec<Message> = {
        let mut ui =
            iced_test::Simulator::with_size(iced::Settings::default(), (1280.0, 1600.0), s.view());
        ui.click(label).unwrap();
        ui.into_messages().collect()
    };
    messages.into_iter().filter_map(|m| s.update(m)).collect()
}

fn shows(s: &Settings, what: &str) -> bool {
    simulator(s.view()).find(what).is_ok()
}

/// Sounds in calls: on by default, turned off by the box (stored for this device).
#[test]
fn call_sounds_can_be_turned_off() {
    let mut s = settings(false);
    let events = click(
        &mut s,
        "Play sounds in calls (someone joins or leaves, a request to record)",
    );
    assert_eq!(events, [Event::Sounds(false)]);
    assert!(!s.loaded.as_ref().unwrap().sounds);
    s.on_done(Section::Calls, Ok("Calls will be silent.".into()));
    let mut ui =
        iced_test::Simulator::with_size(iced::Settings::default(), (1280.0, 1600.0), s.view());
    assert!(ui.find("Calls will be silent.").is_ok());
}

/// Voice processing: on by default, turned off by its box (stored for this device); the
/// sounds stay as they were.
#[test]
fn voice_processing_can_be_turned_off() {
    let mut s = settings(false);
    let events = click(&mut s, VOICE_PROCESSING);
    assert_eq!(events, [Event::VoiceProcessing(false)]);
    let loaded = s.loaded.as_ref().unwrap();
    assert!(!loaded.voice_processing);
    assert!(loaded.sounds);
}

/// Gain control: off by default and turned on by its box; without voice processing its
/// box does nothing (it is part of the processing).
#[test]
fn gain_control_can_be_turned_on_with_voice_processing() {
    let mut s = settings(false);
    assert_eq!(click(&mut s, GAIN_CONTROL), [Event::GainControl(true)]);
    assert!(s.loaded.as_ref().unwrap().gain_control);
    assert_eq!(click(&mut s, GAIN_CONTROL), [Event::GainControl(false)]);
    assert_eq!(
        click(&mut s, VOICE_PROCESSING),
        [Event::VoiceProcessing(false)]
    );
    assert_eq!(click(&mut s, GAIN_CONTROL), []);
    assert!(!s.loaded.as_ref().unwrap().gain_control);
}

/// The new password's rules are checked as it is typed, the repetition too; only a good,
/// repeated password (and the current one) can be sent; success empties the fields.
#[test]
fn password_change_checks_the_rules_live() {
    let mut s = settings(false);
    let _ = s.update(Message::Current("a long and private passphrase".into()));
    let _ = s.update(Message::New("short".into()));
    assert!(!s.broken_rules().is_empty());
    assert_eq!(s.update(Message::ChangePassword), None);
    let _ = s.update(Message::New("another long private passphrase".into()));
    let _ = s.update(Message::Repeat("another long private passphrasf".into()));
    assert!(shows(&s, "✗ The two new passwords differ."));
    assert_eq!(s.update(Message::ChangePassword), None);
    let _ = s.update(Message::Repeat("another long private passphrase".into()));
    assert!(shows(&s, "✓ The new password meets the rules."));
    assert_eq!(
        s.update(Message::ChangePassword),
        Some(Event::ChangePassword {
            current: Zeroizing::new("a long and private passphrase".into()),
            new: Zeroizing::new("another long private passphrase".into()),
        })
    );
    assert!(shows(&s, "Changing…"));
    s.on_done(
        Section::Password,
        Err("the current password is wrong".into()),
    );
    assert!(shows(&s, "the current password is wrong"));
    assert!(!s.new.is_empty(), "kept for another try");
    s.on_done(Section::Password, Ok("Password changed.".into()));
    assert!(s.current.is_empty() && s.new.is_empty() && s.repeat.is_empty());
    assert!(shows(&s, "Password changed."));
}

/// Two-factor enrolment: set up, the QR code and the secret, a six-digit code (spaces and
/// extra characters dropped) turns it on; once on, a code turns it off.
#[test]
fn two_factor_enrolment_shows_the_code_and_confirms() {
    let mut s = settings(false);
    let messages: Vec<Message> = {
        let mut ui = simulator(s.view());
        ui.click("Set up two-factor sign-in").unwrap();
        ui.into_messages().collect()
    };
    let events: Vec<Event> = messages.into_iter().filter_map(|m| s.update(m)).collect();
    assert_eq!(events, [Event::EnrolTotp]);
    s.on_enrolment(
        Zeroizing::new("JBSWY3DPEHPK3PXP".into()),
        "otpauth://totp/Assent:ada%40example.org?secret=JBSWY3DPEHPK3PXP&issuer=Assent",
    );
    assert!(s.enrolment.as_ref().unwrap().qr.is_some(), "a QR code");
    assert!(shows(&s, "JBSWY3DPEHPK3PXP"));
    let _ = s.update(Message::TotpCode("12 34".into()));
    assert_eq!(
        s.update(Message::ConfirmTotp),
        None,
        "four digits are not a code"
    );
    let _ = s.update(Message::TotpCode("123 456 7".into()));
    assert_eq!(s.code, "123456");
    assert_eq!(
        s.update(Message::ConfirmTotp),
        Some(Event::ConfirmTotp("123456".into()))
    );
    s.on_done(Section::TwoFactor, Ok("Two-factor sign-in is on.".into()));
    s.on_loaded(Loaded {
        totp_enabled: true,
        sessions: vec![],
        sounds: true,
        voice_processing: true,
        gain_control: false,
    });
    assert!(s.enrolment.is_none());
    assert!(shows(
        &s,
        "On: signing in needs a code from your authenticator app."
    ));
    let _ = s.update(Message::TotpCode("654321".into()));
    assert_eq!(
        s.update(Message::DisableTotp),
        Some(Event::DisableTotp("654321".into()))
    );
}

/// Every device signed in is listed, this one marked; only the others can be signed out.
#[test]
fn other_devices_can_be_signed_out() {
    let mut s = settings(false);
    assert!(shows(&s, "assent on desk (this device)"));
    assert!(shows(&s, "laptop"));
    assert_eq!(s.update(Message::Revoke("s1".into())), None, "not this one");
    let messages: Vec<Message> = {
        let mut ui = simulator(s.view());
        ui.click("Sign out").unwrap();
        ui.into_messages().collect()
    };
    let events: Vec<Event> = messages.into_iter().filter_map(|m| s.update(m)).collect();
    assert_eq!(events, [Event::Revoke("s2".into())]);
}

/// Deleting needs the password and the box ticked.
#[test]
fn deleting_needs_the_password_and_the_box() {
    let mut s = settings(true);
    assert_eq!(s.update(Message::DeleteAccount), None);
    let _ = s.update(Message::DeletePassword(
        "a long and private passphrase".into(),
    ));
    assert_eq!(
        s.update(Message::DeleteAccount),
        None,
        "the box is not ticked"
    );
    let messages: Vec<Message> = {
        // Tall enough for the whole page (the box is at the bottom).
        let mut ui =
            iced_test::Simulator::with_size(iced::Settings::default(), (1280.0, 1600.0), s.view());
        ui.click("I understand this cannot be undone").unwrap();
        ui.into_messages().collect()
    };
    for m in messages {
        let _ = s.update(m);
    }
    assert!(s.delete_understood);
    assert_eq!(
        s.update(Message::DeleteAccount),
        Some(Event::DeleteAccount(Zeroizing::new(
            "a long and private passphrase".into()
        )))
    );
}
