//! The window's keyboard shortcuts: which key means what, and what each does on the screen
//! that shows (the same messages its buttons send).

use iced::keyboard::{self, key};

use super::nav::Screen;
use super::{Message, auth, home, recordings, room, schedule, settings, setup, viewer};

/// The window's keyboard shortcuts (when no field takes the key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shortcut {
    /// Escape: back to where this screen was opened from.
    Back,
    /// Ctrl+R: the recordings.
    Recordings,
    /// Ctrl+,: the settings.
    Settings,
    /// Ctrl+N: a new meeting.
    NewMeeting,
    /// Ctrl+S: schedule a meeting.
    Schedule,
    /// Ctrl+Shift+L: leave the call.
    Leave,
    /// Ctrl+D: microphone on/off (in a call).
    Mic,
    /// Ctrl+E: camera on/off (in a call).
    Camera,
    /// Ctrl+Shift+R: propose recording the call.
    Record,
    /// Ctrl+Shift+E: share the screen / stop.
    Screen,
    /// Ctrl+Alt+H: raise / lower the hand.
    Hand,
    /// Ctrl+Shift+P: the people panel (everyone's key and safety number), open or closed.
    People,
    /// Ctrl+Shift+C: the chat panel, open or closed.
    Chat,
    /// Ctrl+Shift+V: the speaker view or the grid.
    Layout,
    /// Alt+A / Alt+D: agree to / decline the recording proposed.
    Agree,
    Decline,
    /// Space: play or pause the recording in the viewer.
    PlayPause,
    /// Enter: join, in the meeting setup.
    Confirm,
}

/// The shortcut a key press means, if any (a plain function: subscriptions cannot capture).
pub fn shortcut(key: &keyboard::Key, modifiers: keyboard::Modifiers) -> Option<Shortcut> {
    use keyboard::Key;
    let ctrl = modifiers.command();
    match key.as_ref() {
        Key::Named(key::Named::Escape) => Some(Shortcut::Back),
        Key::Named(key::Named::Enter) if modifiers.is_empty() => Some(Shortcut::Confirm),
        Key::Named(key::Named::Space) if modifiers.is_empty() => Some(Shortcut::PlayPause),
        Key::Character(c) => {
            let c = c.to_lowercase();
            match (c.as_str(), ctrl, modifiers.shift(), modifiers.alt()) {
                ("r", true, true, false) => Some(Shortcut::Record),
                ("e", true, true, false) => Some(Shortcut::Screen),
                ("h", true, false, true) => Some(Shortcut::Hand),
                ("p", true, true, false) => Some(Shortcut::People),
                ("c", true, true, false) => Some(Shortcut::Chat),
                ("v", true, true, false) => Some(Shortcut::Layout),
                ("r", true, false, false) => Some(Shortcut::Recordings),
                (",", true, _, false) => Some(Shortcut::Settings),
                ("n", true, false, false) => Some(Shortcut::NewMeeting),
                ("s", true, false, false) => Some(Shortcut::Schedule),
                ("l", true, true, false) => Some(Shortcut::Leave),
                ("d", true, false, false) => Some(Shortcut::Mic),
                ("e", true, false, false) => Some(Shortcut::Camera),
                ("a", false, false, true) => Some(Shortcut::Agree),
                ("d", false, false, true) => Some(Shortcut::Decline),
                _ => None,
            }
        }
        _ => None,
    }
}

/// What `s` does on `screen`, if anything: the message its button would send.
pub fn message(s: Shortcut, screen: &Screen) -> Option<Message> {
    Some(match (s, screen) {
        (Shortcut::Back, Screen::Recordings { .. }) => {
            Message::Recordings(recordings::Message::Back)
        }
        (Shortcut::Back, Screen::Settings { .. }) => Message::Settings(settings::Message::Back),
        (Shortcut::Back, Screen::Schedule { .. }) => Message::Schedule(schedule::Message::Cancel),
        (Shortcut::Back, Screen::Viewer { .. }) => Message::Viewer(viewer::Message::Back),
        (Shortcut::Recordings, Screen::Home(_)) => Message::Home(home::Message::Recordings),
        (Shortcut::Settings, Screen::Home(_)) => Message::Home(home::Message::Settings),
        (Shortcut::NewMeeting, Screen::Home(_)) => Message::Home(home::Message::NewMeeting),
        (Shortcut::Schedule, Screen::Home(_)) => Message::Home(home::Message::Schedule),
        // Signing in from the keyboard: Ctrl+N opens the sign-up form (and back);
        // on the recovery code, Space ticks the box and Enter goes on.
        (Shortcut::NewMeeting, Screen::Auth(auth)) => match auth.step() {
            auth::Step::SignIn => Message::Auth(auth::Message::Show(auth::Step::SignUp)),
            auth::Step::SignUp => Message::Auth(auth::Message::Show(auth::Step::SignIn)),
            _ => return None,
        },
        // Ctrl+R: forgot the password; Escape goes back to signing in.
        (Shortcut::Recordings, Screen::Auth(auth)) if auth.step() == auth::Step::SignIn => {
            Message::Auth(auth::Message::Show(auth::Step::Forgot))
        }
        (Shortcut::Back, Screen::Auth(auth))
            if matches!(auth.step(), auth::Step::Forgot | auth::Step::Reset) =>
        {
            Message::Auth(auth::Message::Show(auth::Step::SignIn))
        }
        (Shortcut::PlayPause, Screen::Auth(auth)) if auth.step() == auth::Step::Recovery => {
            Message::Auth(auth::Message::StoredRecovery(!auth.stored_recovery()))
        }
        (Shortcut::Confirm, Screen::Auth(_)) => Message::Auth(auth::Message::Submit),
        (Shortcut::Back, Screen::Setup { .. }) => Message::Setup(setup::Message::Back),
        (Shortcut::Confirm, Screen::Setup { .. }) => Message::Setup(setup::Message::Join),
        (Shortcut::Mic, Screen::Setup { setup, .. }) => {
            Message::Setup(setup::Message::ToggleMic(!setup.mic_on()))
        }
        (Shortcut::Camera, Screen::Setup { setup, .. }) => {
            Message::Setup(setup::Message::ToggleCamera(!setup.camera_on()))
        }
        (Shortcut::Leave, Screen::Room { .. }) => Message::Room(room::Message::Leave),
        // After the call: Escape goes home.
        (Shortcut::Back, Screen::Room { room, .. })
            if room.showing_people() || room.showing_chat() =>
        {
            Message::Room(room::Message::ClosePanel)
        }
        (Shortcut::Back, Screen::Room { room, .. }) if room.ended().is_some() => {
            Message::Room(room::Message::Leave)
        }
        (Shortcut::Mic, Screen::Room { .. }) => Message::Room(room::Message::ToggleMic),
        (Shortcut::Camera, Screen::Room { .. }) => Message::Room(room::Message::ToggleCamera),
        (Shortcut::Record, Screen::Room { .. }) => Message::Room(room::Message::Record),
        (Shortcut::Screen, Screen::Room { .. }) => Message::Room(room::Message::ToggleScreen),
        (Shortcut::Hand, Screen::Room { .. }) => Message::Room(room::Message::ToggleHand),
        (Shortcut::People, Screen::Room { .. }) => Message::Room(room::Message::TogglePeople),
        (Shortcut::Chat, Screen::Room { .. }) => Message::Room(room::Message::ToggleChat),
        (Shortcut::Layout, Screen::Room { .. }) => Message::Room(room::Message::ToggleLayout),
        (Shortcut::Agree, Screen::Room { .. }) => Message::Room(room::Message::Agree),
        (Shortcut::Decline, Screen::Room { .. }) => Message::Room(room::Message::Decline),
        (Shortcut::PlayPause, Screen::Viewer { .. }) => Message::Viewer(viewer::Message::PlayPause),
        _ => return None,
    })
}
