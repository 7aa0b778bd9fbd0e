//! The desktop window (iced 0.14, tiny-skia). Each screen is a component with its own
//! `Message`, `update` (returning what the user asked for as an `Event`) and `view`; the app
//! turns events into engine requests run as `Task`s ([`io`]) and hands the results back to the
//! screen. No IO happens inside `update`.

pub mod auth;
pub mod home;
mod io;
pub mod recordings;
pub mod room;
pub mod schedule;
pub mod settings;
pub mod setup;
pub mod style;
mod time;
mod trust;
pub mod viewer;

use std::path::PathBuf;

use assent_engine::account::Account;
use iced::keyboard::{self, key};
use iced::widget::operation;
use iced::{Element, Subscription, Task, Theme};
use jiff::tz::TimeZone;

use auth::Auth;
use home::{Home, MeetingCard};
use recordings::Recordings;
use room::Room;
use schedule::Schedule;
use settings::Settings;

pub fn run(profile: PathBuf, link: Option<String>) -> iced::Result {
    iced::application(
        move || App::new(profile.clone(), link.clone()),
        App::update,
        App::view,
    )
    .title(App::title)
    .theme(App::theme)
    .style(App::style)
    .subscription(App::subscription)
    .window(window_settings())
    .run()
}

/// 1280x720, centred, with the app's icon and the X11 class / Wayland app id `assent` that the
/// desktop entry names (`StartupWMClass`), so docks group the window under its launcher.
fn window_settings() -> iced::window::Settings {
    const ICON: &[u8] = include_bytes!("../../../assets/icons/hicolor/64x64/apps/assent.png");
    iced::window::Settings {
        size: iced::Size::new(1280.0, 720.0),
        position: iced::window::Position::Centered,
        icon: iced::window::icon::from_file_data(ICON, None).ok(),
        platform_specific: iced::window::settings::PlatformSpecific {
            application_id: "assent".into(),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[derive(Debug)]
pub enum Screen {
    /// Finding out whether this profile is signed in.
    Loading,
    Auth(Auth),
    Home(Home),
    /// The schedule form, over the home screen it returns to.
    Schedule {
        form: Schedule,
        home: Home,
    },
    /// The recordings list, over the home screen it returns to.
    Recordings {
        list: Recordings,
        home: Home,
    },
    /// One recording, over the recordings list it returns to.
    Viewer {
        viewer: viewer::Viewer,
        list: Recordings,
        home: Home,
    },
    /// The settings, over the home screen they return to.
    Settings {
        page: Settings,
        home: Home,
    },
    /// Getting ready to join (the preview once it has started), over the home screen it
    /// returns to. `generation` counts the previews asked for: a late answer to an older
    /// request is dropped.
    Setup {
        setup: setup::Setup,
        preview: Option<io::PreviewLink>,
        generation: u64,
        home: Home,
    },
    /// In a call (the link once it has started), over the home screen it returns to.
    Room {
        room: Room,
        call: Option<io::CallLink>,
        home: Home,
    },
}

#[derive(Debug, Clone)]
pub enum Message {
    Loaded(Option<Account>, Option<(String, String)>),
    Auth(auth::Message),
    Home(home::Message),
    SignedIn(Result<Account, io::SignInError>),
    /// The recovery mail was asked for.
    RecoverySent(Result<(), String>),
    SignedUp(Result<zeroize::Zeroizing<String>, String>),
    Verified(Result<(), String>),
    CodeSent(Result<(), String>),
    SignedOut(Result<(), String>),
    Meeting(Result<MeetingCard, String>),
    Schedule(schedule::Message),
    Scheduled(Result<MeetingCard, String>),
    Overview(Result<io::Overview, String>),
    /// Time to list the meetings again and re-check the key directory (on the home screen).
    OverviewTick,
    Setup(setup::Message),
    Devices(Result<setup::Devices, String>),
    PreviewStarted(u64, Result<io::PreviewLink, String>),
    CallStarted(Result<io::CallLink, String>),
    Call(assent_engine::call::CallEvent),
    /// A call's sound has played.
    Chimed,
    Room(room::Message),
    Recordings(recordings::Message),
    RecordingsLoaded(Result<(Vec<recordings::Item>, Option<String>), String>),
    /// A recordings action finished: what to tell the user, then the list is reloaded.
    RecordingsDone(Result<String, String>),
    Viewer(viewer::Message),
    RecordingOpened(Result<viewer::Opened, String>),
    MediaLoaded(Result<std::sync::Arc<assent_engine::recorder::player::Player>, String>),
    Exported(Result<String, String>),
    Settings(settings::Message),
    SettingsLoaded(Result<settings::Loaded, String>),
    /// A settings request finished (then what the screen shows is reloaded).
    SettingsDone(settings::Section, Result<String, String>),
    TotpEnrolled(Result<(zeroize::Zeroizing<String>, String), String>),
    AccountDeleted(Result<(), String>),
    /// Time to show the newest video frames.
    Frame,
    /// Time to ask the call for its statistics (connection quality).
    StatsTick,
    Stats(Option<std::sync::Arc<assent_engine::call::CallStats>>),
    MeetingInfo(Result<assent_shared::api::Meeting, String>),
    FocusNext,
    FocusPrevious,
    ToggleTheme,
    /// A keyboard shortcut, acted on according to the screen.
    Shortcut(Shortcut),
}

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
    /// Ctrl+Shift+P: the people panel (everyone's key and safety number) / the chat.
    People,
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

#[derive(Debug)]
pub struct App {
    profile: PathBuf,
    /// For a fresh profile's sign-in form (`ASSENT_SERVER`).
    default_server: String,
    /// The user's time zone (read once at start).
    tz: TimeZone,
    screen: Screen,
    dark: bool,
    /// The server of the account signed in (for the settings).
    server: String,
    /// A meeting code from an `assent://` link the window was opened with: shown once the
    /// profile is signed in.
    link: Option<String>,
    /// How many times the screen has changed (see [`App::style`]).
    screen_changes: u64,
}

impl App {
    pub fn new(profile: PathBuf, link: Option<String>) -> (App, Task<Message>) {
        let app = App {
            profile: profile.clone(),
            default_server: std::env::var("ASSENT_SERVER").unwrap_or_default(),
            tz: TimeZone::system(),
            screen: Screen::Loading,
            dark: false,
            server: String::new(),
            link,
            screen_changes: 0,
        };
        let load = Task::perform(
            async move {
                let current = io::current(profile.clone()).await;
                let last = io::last_account(profile).await;
                (current, last)
            },
            |(current, last)| Message::Loaded(current, last),
        );
        (app, load)
    }

    pub fn title(&self) -> String {
        match &self.screen {
            Screen::Auth(auth) => match auth.step() {
                auth::Step::SignIn => "Assent — sign in",
                auth::Step::SignUp => "Assent — create your account",
                auth::Step::VerifyEmail => "Assent — check your email",
                auth::Step::Totp => "Assent — two-factor code",
                auth::Step::Recovery => "Assent — your recovery code",
                auth::Step::Forgot => "Assent — forgot password",
                auth::Step::Reset => "Assent — new password",
            }
            .into(),
            Screen::Home(home) => {
                let alarm = if home.alarms() { " — key alarm" } else { "" };
                match home.meeting() {
                    Some(m) => format!("Assent — {}{alarm}", m.title),
                    None => format!("Assent{alarm}"),
                }
            }
            Screen::Schedule { .. } => "Assent — schedule a meeting".into(),
            Screen::Setup { setup, .. } => format!("Assent — {} — getting ready", setup.title()),
            Screen::Recordings { list, .. } => match list.count() {
                Some(n) => format!("Assent — recordings ({n})"),
                None => "Assent — recordings".into(),
            },
            Screen::Settings { .. } => "Assent — settings".into(),
            Screen::Viewer { viewer, .. } => format!("Assent — recording — {}", viewer.title()),
            Screen::Room { room, .. } => match room.ended() {
                Some(_) => format!("Assent — {} — call ended", room.title()),
                None => format!(
                    "Assent — {} — in call with {}{}{}",
                    room.title(),
                    room.connected(),
                    match room.recording_state() {
                        _ if room.asking() => " — asked to record",
                        Some(assent_shared::consent::StatusKind::Recording) => " — recording",
                        _ => "",
                    },
                    if room.showing_people() {
                        " — people"
                    } else {
                        ""
                    }
                ),
            },
            Screen::Loading => "Assent — starting".into(),
        }
    }

    pub fn theme(&self) -> Theme {
        if self.dark { Theme::Dark } else { Theme::Light }
    }

    /// The theme's background and text, with the background one step of blue apart on every
    /// other screen change. The software renderer redraws only what changed between frames,
    /// and it leaves the anti-aliased edge pixels of an image or of text that went away (a
    /// one-pixel line of the last screen's picture, a faded word); a new background colour
    /// makes it redraw the whole window. A difference of 1/255 cannot be seen.
    pub fn style(&self, theme: &Theme) -> iced::theme::Style {
        let mut style = iced::theme::Base::base(theme);
        if self.screen_changes % 2 == 1 {
            let b = &mut style.background_color.b;
            *b = if *b >= 1.0 / 255.0 {
                *b - 1.0 / 255.0
            } else {
                *b + 1.0 / 255.0
            };
        }
        style
    }

    /// Home for `account`, and the request for its upcoming meetings and call history.
    fn enter_home(&mut self, account: &Account) -> Task<Message> {
        self.server = account.server.clone();
        self.screen = Screen::Home(Home::new(
            account.display_name.clone(),
            account.email.clone(),
            self.tz.clone(),
        ));
        let mut tasks = vec![
            operation::focus(home::JOIN),
            Task::perform(io::overview(self.profile.clone()), Message::Overview),
        ];
        // Opened from a link: look its meeting up as if it had been pasted.
        if let Some(code) = self.link.take() {
            tasks.push(self.handle(Message::Home(home::Message::JoinInput(format!(
                "assent://join/{code}"
            )))));
            tasks.push(self.handle(Message::Home(home::Message::Join)));
        }
        Task::batch(tasks)
    }

    pub fn update(&mut self, message: Message) -> Task<Message> {
        let before = std::mem::discriminant(&self.screen);
        let title = self.title();
        let task = self.handle(message);
        // A new screen, or a new state of this one that its title names (a dialog, a panel,
        // the recording): the whole window is redrawn.
        if std::mem::discriminant(&self.screen) != before || self.title() != title {
            self.screen_changes += 1;
        }
        task
    }

    fn handle(&mut self, message: Message) -> Task<Message> {
        let dir = self.profile.clone();
        match message {
            Message::Loaded(current, last) => match current {
                Some(account) => self.enter_home(&account),
                None => {
                    // A fresh profile: the server from `ASSENT_SERVER`, if set.
                    let (server, email) =
                        last.unwrap_or_else(|| (self.default_server.clone(), String::new()));
                    // The first empty field has the keyboard.
                    let auth = Auth::new(server, email);
                    let first = auth.first_empty();
                    self.screen = Screen::Auth(auth);
                    operation::focus(first)
                }
            },
            Message::Auth(msg) => {
                let Screen::Auth(auth) = &mut self.screen else {
                    return Task::none();
                };
                let show = matches!(msg, auth::Message::Show(_));
                match auth.update(msg) {
                    // Another step: its first empty field has the keyboard.
                    None if show => operation::focus(auth.first_empty()),
                    None => Task::none(),
                    Some(auth::Event::SignIn {
                        server,
                        email,
                        password,
                        totp,
                    }) => Task::perform(
                        io::sign_in(dir, server, email, password, totp),
                        Message::SignedIn,
                    ),
                    Some(auth::Event::SignUp {
                        server,
                        email,
                        name,
                        password,
                    }) => Task::perform(
                        io::sign_up(dir, server, email, name, password),
                        Message::SignedUp,
                    ),
                    Some(auth::Event::VerifyEmail { code }) => {
                        Task::perform(io::verify_email(dir, code), Message::Verified)
                    }
                    Some(auth::Event::ResendCode) => {
                        Task::perform(io::resend_code(dir), Message::CodeSent)
                    }
                    Some(auth::Event::StartRecovery { server, email }) => {
                        Task::perform(io::start_recovery(server, email), Message::RecoverySent)
                    }
                    Some(auth::Event::Recover {
                        server,
                        email,
                        email_code,
                        recovery_code,
                        totp,
                        password,
                    }) => Task::perform(
                        io::recover(
                            dir,
                            io::Recovery {
                                server,
                                email,
                                email_code,
                                recovery_code,
                                totp,
                                password,
                            },
                        ),
                        Message::SignedIn,
                    ),
                    Some(auth::Event::RecoveryStored {
                        server,
                        email,
                        password,
                    }) => Task::perform(
                        io::sign_in(dir, server, email, password, None),
                        Message::SignedIn,
                    ),
                }
            }
            Message::SignedIn(result) => {
                match (result, &mut self.screen) {
                    (Ok(account), _) => return self.enter_home(&account),
                    (Err(io::SignInError::TotpRequired), Screen::Auth(auth)) => {
                        return operation::focus(auth.on_totp_required());
                    }
                    (Err(io::SignInError::Other(e)), Screen::Auth(auth)) => auth.on_error(e),
                    _ => {}
                }
                Task::none()
            }
            Message::SignedUp(result) => {
                if let Screen::Auth(auth) = &mut self.screen {
                    match result {
                        Ok(recovery) => {
                            auth.on_signed_up(recovery);
                            return operation::focus(auth::CODE);
                        }
                        Err(e) => auth.on_error(e),
                    }
                }
                Task::none()
            }
            Message::Verified(result) => {
                if let Screen::Auth(auth) = &mut self.screen {
                    match result {
                        Ok(()) => auth.on_verified(),
                        Err(e) => auth.on_error(e),
                    }
                }
                Task::none()
            }
            Message::RecoverySent(result) => {
                if let Screen::Auth(auth) = &mut self.screen {
                    match result {
                        Ok(()) => {
                            auth.on_recovery_sent();
                            return operation::focus(auth.first_empty());
                        }
                        Err(e) => auth.on_error(e),
                    }
                }
                Task::none()
            }
            Message::CodeSent(result) => {
                if let Screen::Auth(auth) = &mut self.screen {
                    match result {
                        Ok(()) => auth.on_code_sent(),
                        Err(e) => auth.on_error(e),
                    }
                }
                Task::none()
            }
            Message::Home(msg) => {
                let Screen::Home(home) = &mut self.screen else {
                    return Task::none();
                };
                match home.update(msg) {
                    None => Task::none(),
                    Some(home::Event::NewMeeting) => {
                        Task::perform(io::new_meeting(dir), Message::Meeting)
                    }
                    Some(home::Event::Join(code)) => {
                        Task::perform(io::find_meeting(dir, code), Message::Meeting)
                    }
                    Some(home::Event::PersonalRoom) => {
                        Task::perform(io::personal_room(dir), Message::Meeting)
                    }
                    Some(home::Event::Schedule) => {
                        let Screen::Home(home) =
                            std::mem::replace(&mut self.screen, Screen::Loading)
                        else {
                            return Task::none();
                        };
                        let now = assent_shared::Timestamp::now().0;
                        self.screen = Screen::Schedule {
                            form: Schedule::new(now, self.tz.clone()),
                            home,
                        };
                        operation::focus(schedule::TITLE)
                    }
                    Some(home::Event::Enter(card)) => {
                        let Screen::Home(home) =
                            std::mem::replace(&mut self.screen, Screen::Loading)
                        else {
                            return Task::none();
                        };
                        self.screen = Screen::Setup {
                            setup: setup::Setup::new(card),
                            preview: None,
                            generation: 0,
                            home,
                        };
                        Task::perform(io::devices(dir), Message::Devices)
                    }
                    Some(home::Event::Recordings) => {
                        let Screen::Home(home) =
                            std::mem::replace(&mut self.screen, Screen::Loading)
                        else {
                            return Task::none();
                        };
                        self.screen = Screen::Recordings {
                            list: Recordings::new(self.tz.clone()),
                            home,
                        };
                        Task::batch([
                            operation::focus(recordings::SEARCH),
                            Task::perform(io::recordings(dir), Message::RecordingsLoaded),
                        ])
                    }
                    Some(home::Event::Settings) => {
                        let Screen::Home(home) =
                            std::mem::replace(&mut self.screen, Screen::Loading)
                        else {
                            return Task::none();
                        };
                        let page = Settings::new(
                            home.name().to_string(),
                            home.email().to_string(),
                            self.server.clone(),
                            self.tz.clone(),
                        );
                        self.screen = Screen::Settings { page, home };
                        Task::batch([
                            operation::focus(settings::CURRENT),
                            Task::perform(io::settings(dir), Message::SettingsLoaded),
                        ])
                    }
                    Some(home::Event::SignOut) => {
                        Task::perform(io::sign_out(dir), Message::SignedOut)
                    }
                }
            }
            Message::Meeting(result) => {
                if let Screen::Home(home) = &mut self.screen {
                    match result {
                        Ok(card) => home.on_meeting(card),
                        Err(e) => home.on_error(e),
                    }
                }
                Task::none()
            }
            Message::Recordings(msg) => {
                let Screen::Recordings { list, .. } = &mut self.screen else {
                    return Task::none();
                };
                let edit = matches!(msg, recordings::Message::EditTags(_));
                match list.update(msg) {
                    // The tags field opened: it takes the keyboard.
                    None if edit => operation::focus(recordings::TAGS),
                    None => Task::none(),
                    Some(recordings::Event::Back) => {
                        self.back_home();
                        Task::none()
                    }
                    Some(recordings::Event::Refresh) => {
                        Task::perform(io::recordings(dir), Message::RecordingsLoaded)
                    }
                    Some(recordings::Event::Open { dir: recording, .. }) => {
                        list.on_notice("Opening…".into());
                        Task::perform(io::open_recording(dir, recording), Message::RecordingOpened)
                    }
                    Some(recordings::Event::Upload(id)) => {
                        list.on_notice("Uploading…".into());
                        Task::perform(io::upload_recording(dir, id), Message::RecordingsDone)
                    }
                    Some(recordings::Event::Download(id)) => {
                        list.on_notice("Downloading…".into());
                        Task::perform(io::download_recording(dir, id), Message::RecordingsDone)
                    }
                    Some(recordings::Event::Delete { id, local, cloud }) => Task::perform(
                        io::delete_recording(dir, id, local, cloud),
                        Message::RecordingsDone,
                    ),
                    Some(recordings::Event::SetTags { id, tags }) => {
                        Task::perform(io::set_tags(dir, id, tags), Message::RecordingsDone)
                    }
                }
            }
            Message::RecordingsLoaded(result) => {
                if let Screen::Recordings { list, .. } = &mut self.screen {
                    match result {
                        Ok((items, cloud_error)) => list.on_loaded(items, cloud_error),
                        Err(e) => list.on_error(e),
                    }
                }
                Task::none()
            }
            Message::RecordingsDone(result) => {
                let Screen::Recordings { list, .. } = &mut self.screen else {
                    return Task::none();
                };
                match result {
                    Ok(notice) => list.on_notice(notice),
                    Err(e) => list.on_notice(e),
                }
                Task::perform(io::recordings(dir), Message::RecordingsLoaded)
            }
            Message::RecordingOpened(result) => {
                match (result, std::mem::replace(&mut self.screen, Screen::Loading)) {
                    (Ok(opened), Screen::Recordings { list, home }) => {
                        let (recording, manifest) = (opened.dir.clone(), opened.manifest.clone());
                        self.screen = Screen::Viewer {
                            viewer: viewer::Viewer::new(opened, self.tz.clone()),
                            list,
                            home,
                        };
                        return Task::perform(
                            io::load_media(dir, recording, manifest),
                            Message::MediaLoaded,
                        );
                    }
                    (Err(e), Screen::Recordings { mut list, home }) => {
                        list.on_notice(e);
                        self.screen = Screen::Recordings { list, home };
                    }
                    (_, other) => self.screen = other,
                }
                Task::none()
            }
            Message::Viewer(msg) => {
                let Screen::Viewer { viewer, .. } = &mut self.screen else {
                    return Task::none();
                };
                match viewer.update(msg) {
                    None => Task::none(),
                    Some(viewer::Event::Export {
                        dir: recording,
                        track,
                    }) => Task::perform(
                        io::export_recording(dir, recording, track),
                        Message::Exported,
                    ),
                    Some(viewer::Event::Back) => {
                        if let Screen::Viewer { list, home, .. } =
                            std::mem::replace(&mut self.screen, Screen::Loading)
                        {
                            self.screen = Screen::Recordings { list, home };
                        }
                        Task::perform(io::recordings(dir), Message::RecordingsLoaded)
                    }
                }
            }
            Message::MediaLoaded(result) => {
                if let Screen::Viewer { viewer, .. } = &mut self.screen {
                    viewer.on_media(result);
                }
                Task::none()
            }
            Message::Exported(result) => {
                if let Screen::Viewer { viewer, .. } = &mut self.screen {
                    viewer.on_exported(result);
                }
                Task::none()
            }
            Message::Settings(msg) => {
                let Screen::Settings { page, .. } = &mut self.screen else {
                    return Task::none();
                };
                use settings::{Event as E, Section as S};
                let done = |section: S| move |r| Message::SettingsDone(section, r);
                match page.update(msg) {
                    None => Task::none(),
                    Some(E::Back) => {
                        self.back_home();
                        Task::none()
                    }
                    Some(E::ChangePassword { current, new }) => {
                        Task::perform(io::change_password(dir, current, new), done(S::Password))
                    }
                    Some(E::EnrolTotp) => Task::perform(io::enrol_totp(dir), Message::TotpEnrolled),
                    Some(E::ConfirmTotp(code)) => {
                        Task::perform(io::confirm_totp(dir, code), done(S::TwoFactor))
                    }
                    Some(E::DisableTotp(code)) => {
                        Task::perform(io::disable_totp(dir, code), done(S::TwoFactor))
                    }
                    Some(E::Revoke(id)) => {
                        Task::perform(io::revoke_session(dir, id), done(S::Sessions))
                    }
                    Some(E::DeleteAccount(password)) => {
                        Task::perform(io::delete_account(dir, password), Message::AccountDeleted)
                    }
                    Some(E::Sounds(on)) => Task::perform(io::set_sounds(dir, on), done(S::Calls)),
                }
            }
            Message::SettingsLoaded(result) => {
                if let Screen::Settings { page, .. } = &mut self.screen {
                    match result {
                        Ok(loaded) => page.on_loaded(loaded),
                        Err(e) => page.on_done(settings::Section::Sessions, Err(e)),
                    }
                }
                Task::none()
            }
            Message::SettingsDone(section, result) => {
                let Screen::Settings { page, .. } = &mut self.screen else {
                    return Task::none();
                };
                page.on_done(section, result);
                Task::perform(io::settings(dir), Message::SettingsLoaded)
            }
            Message::TotpEnrolled(result) => {
                if let Screen::Settings { page, .. } = &mut self.screen {
                    match result {
                        Ok((secret, uri)) => page.on_enrolment(secret, &uri),
                        Err(e) => page.on_done(settings::Section::TwoFactor, Err(e)),
                    }
                }
                Task::none()
            }
            Message::AccountDeleted(result) => match result {
                // Signed out with nothing to sign in to: back to the start.
                Ok(()) => {
                    let (app, task) = App::new(self.profile.clone(), None);
                    self.screen = app.screen;
                    task
                }
                Err(e) => {
                    if let Screen::Settings { page, .. } = &mut self.screen {
                        page.on_done(settings::Section::Delete, Err(e));
                    }
                    Task::none()
                }
            },
            Message::Schedule(msg) => {
                let Screen::Schedule { form, .. } = &mut self.screen else {
                    return Task::none();
                };
                match form.update(msg) {
                    None => Task::none(),
                    Some(schedule::Event::Cancel) => {
                        self.back_home();
                        Task::none()
                    }
                    Some(schedule::Event::Schedule(request)) => {
                        Task::perform(io::schedule(dir, request), Message::Scheduled)
                    }
                }
            }
            Message::Scheduled(result) => match result {
                Ok(card) => {
                    self.back_home();
                    if let Screen::Home(home) = &mut self.screen {
                        home.on_meeting(card);
                    }
                    Task::perform(io::overview(dir), Message::Overview)
                }
                Err(e) => {
                    if let Screen::Schedule { form, .. } = &mut self.screen {
                        form.on_error(e);
                    }
                    Task::none()
                }
            },
            Message::OverviewTick => Task::perform(io::overview(dir), Message::Overview),
            Message::Overview(result) => {
                if let (
                    Ok(o),
                    Screen::Home(home)
                    | Screen::Schedule { home, .. }
                    | Screen::Setup { home, .. }
                    | Screen::Room { home, .. }
                    | Screen::Recordings { home, .. }
                    | Screen::Settings { home, .. }
                    | Screen::Viewer { home, .. },
                ) = (result, &mut self.screen)
                {
                    home.on_overview(o.upcoming, o.history);
                    home.on_alarms(o.alarms);
                }
                Task::none()
            }
            Message::Devices(result) => {
                let Screen::Setup { setup, .. } = &mut self.screen else {
                    return Task::none();
                };
                let event = match result {
                    Ok(devices) => Some(setup.on_devices(devices)),
                    Err(e) => setup.on_devices_failed(e),
                };
                self.on_setup(event)
            }
            Message::PreviewStarted(n, result) => {
                if let Screen::Setup {
                    setup,
                    preview,
                    generation,
                    ..
                } = &mut self.screen
                    && n == *generation
                {
                    match result {
                        Ok(p) => *preview = Some(p),
                        Err(e) => setup.on_preview_failed(e),
                    }
                }
                // Otherwise a newer preview was asked for (or the setup is over): this one is
                // dropped here, letting go of its devices.
                Task::none()
            }
            Message::Setup(msg) => {
                let Screen::Setup { setup, .. } = &mut self.screen else {
                    return Task::none();
                };
                let event = setup.update(msg);
                self.on_setup(event)
            }
            Message::CallStarted(result) => {
                let Screen::Room { call, room, .. } = &mut self.screen else {
                    return Task::none();
                };
                match result {
                    Ok(link) => {
                        let events = io::call_events(&link);
                        *call = Some(link);
                        let code = room.code().to_string();
                        Task::batch([
                            Task::run(events, Message::Call),
                            Task::perform(io::meeting_info(dir, code), Message::MeetingInfo),
                        ])
                    }
                    Err(e) => {
                        self.back_home();
                        if let Screen::Home(home) = &mut self.screen {
                            home.on_error(format!("Could not join: {e}"));
                        }
                        Task::none()
                    }
                }
            }
            Message::Call(event) => {
                let Screen::Room { room, call, .. } = &mut self.screen else {
                    return Task::none();
                };
                let chime = room::chime_for(&event);
                room.on_call_event(event);
                match (chime, call.as_ref()) {
                    (Some(c), Some(link)) => {
                        Task::perform(io::chime(dir, c, link.speaker.clone()), |_| Message::Chimed)
                    }
                    _ => Task::none(),
                }
            }
            Message::Chimed => Task::none(),
            Message::Frame => {
                if let Screen::Setup {
                    setup,
                    preview: Some(p),
                    ..
                } = &mut self.screen
                {
                    setup.on_preview(&p.0);
                }
                if let Screen::Room {
                    room,
                    call: Some(link),
                    ..
                } = &mut self.screen
                {
                    room.on_frames(&link.handle.media.frames(), &link.handle.media.levels());
                }
                if let Screen::Viewer { viewer, .. } = &mut self.screen {
                    viewer.on_frame();
                }
                Task::none()
            }
            Message::StatsTick => match &self.screen {
                Screen::Room {
                    call: Some(link), ..
                } => {
                    let handle = link.handle.clone();
                    Task::perform(
                        async move { handle.stats().await.map(std::sync::Arc::new) },
                        Message::Stats,
                    )
                }
                _ => Task::none(),
            },
            Message::MeetingInfo(result) => {
                if let (Ok(m), Screen::Room { room, .. }) = (result, &mut self.screen) {
                    room.on_meeting(m);
                }
                Task::none()
            }
            Message::Stats(stats) => {
                if let (Some(stats), Screen::Room { room, .. }) = (stats, &mut self.screen) {
                    room.on_stats(&stats);
                }
                Task::none()
            }
            Message::Room(msg) => {
                let Screen::Room { room, call, .. } = &mut self.screen else {
                    return Task::none();
                };
                use assent_engine::call::Command;
                match (room.update(msg), call.as_ref()) {
                    (Some(room::Event::SetMedia(state)), Some(link)) => {
                        link.handle.send(Command::SetMedia(state))
                    }
                    (Some(room::Event::Chat(text)), Some(link)) => {
                        link.handle.send(Command::Chat(text))
                    }
                    (Some(room::Event::Leave), _) if room.ended().is_some() || call.is_none() => {
                        self.back_home();
                        return Task::perform(io::overview(dir), Message::Overview);
                    }
                    (Some(room::Event::Leave), Some(link)) => link.handle.send(Command::Leave),
                    (Some(room::Event::Host(action)), _) => {
                        let code = room.code().to_string();
                        let again = code.clone();
                        let d2 = dir.clone();
                        return Task::perform(io::host_action(dir, code, action), |r| {
                            Message::Room(room::Message::Noted(r.err()))
                        })
                        .chain(Task::perform(
                            io::meeting_info(d2, again),
                            Message::MeetingInfo,
                        ));
                    }
                    (Some(room::Event::KeyCompared(peer)), Some(link)) => {
                        link.handle.send(Command::AcceptKey(peer))
                    }
                    (Some(room::Event::MarkVerified(peer)), Some(link)) => {
                        link.handle.send(Command::MarkVerified(peer))
                    }
                    (Some(room::Event::Record { title }), Some(link)) => {
                        link.handle.send(Command::Record {
                            title,
                            scope: assent_shared::consent::Scope::LocalAndCloud,
                            retention_days: 30,
                        })
                    }
                    (Some(room::Event::Agree), Some(link)) => {
                        link.handle.send(Command::AgreeRecording)
                    }
                    (Some(room::Event::Decline), Some(link)) => {
                        link.handle.send(Command::DeclineRecording)
                    }
                    (Some(room::Event::Withdraw), Some(link)) => {
                        link.handle.send(Command::WithdrawConsent)
                    }
                    _ => {}
                }
                Task::none()
            }
            Message::SignedOut(result) => match result {
                Ok(()) => {
                    let (app, task) = App::new(self.profile.clone(), None);
                    self.screen = app.screen;
                    task
                }
                Err(e) => {
                    if let Screen::Home(home) = &mut self.screen {
                        home.on_error(e);
                    }
                    Task::none()
                }
            },
            Message::FocusNext => operation::focus_next(),
            Message::FocusPrevious => operation::focus_previous(),
            Message::Shortcut(s) => {
                let message = match (s, &self.screen) {
                    (Shortcut::Back, Screen::Recordings { .. }) => {
                        Message::Recordings(recordings::Message::Back)
                    }
                    (Shortcut::Back, Screen::Settings { .. }) => {
                        Message::Settings(settings::Message::Back)
                    }
                    (Shortcut::Back, Screen::Schedule { .. }) => {
                        Message::Schedule(schedule::Message::Cancel)
                    }
                    (Shortcut::Back, Screen::Viewer { .. }) => {
                        Message::Viewer(viewer::Message::Back)
                    }
                    (Shortcut::Recordings, Screen::Home(_)) => {
                        Message::Home(home::Message::Recordings)
                    }
                    (Shortcut::Settings, Screen::Home(_)) => Message::Home(home::Message::Settings),
                    (Shortcut::NewMeeting, Screen::Home(_)) => {
                        Message::Home(home::Message::NewMeeting)
                    }
                    (Shortcut::Schedule, Screen::Home(_)) => Message::Home(home::Message::Schedule),
                    // Signing in from the keyboard: Ctrl+N opens the sign-up form (and back);
                    // on the recovery code, Space ticks the box and Enter goes on.
                    (Shortcut::NewMeeting, Screen::Auth(auth)) => match auth.step() {
                        auth::Step::SignIn => {
                            Message::Auth(auth::Message::Show(auth::Step::SignUp))
                        }
                        auth::Step::SignUp => {
                            Message::Auth(auth::Message::Show(auth::Step::SignIn))
                        }
                        _ => return Task::none(),
                    },
                    // Ctrl+R: forgot the password; Escape goes back to signing in.
                    (Shortcut::Recordings, Screen::Auth(auth))
                        if auth.step() == auth::Step::SignIn =>
                    {
                        Message::Auth(auth::Message::Show(auth::Step::Forgot))
                    }
                    (Shortcut::Back, Screen::Auth(auth))
                        if matches!(auth.step(), auth::Step::Forgot | auth::Step::Reset) =>
                    {
                        Message::Auth(auth::Message::Show(auth::Step::SignIn))
                    }
                    (Shortcut::PlayPause, Screen::Auth(auth))
                        if auth.step() == auth::Step::Recovery =>
                    {
                        Message::Auth(auth::Message::StoredRecovery(!auth.stored_recovery()))
                    }
                    (Shortcut::Confirm, Screen::Auth(_)) => Message::Auth(auth::Message::Submit),
                    (Shortcut::Back, Screen::Setup { .. }) => Message::Setup(setup::Message::Back),
                    (Shortcut::Confirm, Screen::Setup { .. }) => {
                        Message::Setup(setup::Message::Join)
                    }
                    (Shortcut::Mic, Screen::Setup { setup, .. }) => {
                        Message::Setup(setup::Message::ToggleMic(!setup.mic_on()))
                    }
                    (Shortcut::Camera, Screen::Setup { setup, .. }) => {
                        Message::Setup(setup::Message::ToggleCamera(!setup.camera_on()))
                    }
                    (Shortcut::Leave, Screen::Room { .. }) => Message::Room(room::Message::Leave),
                    // After the call: Escape goes home.
                    (Shortcut::Back, Screen::Room { room, .. }) if room.ended().is_some() => {
                        Message::Room(room::Message::Leave)
                    }
                    (Shortcut::Mic, Screen::Room { .. }) => Message::Room(room::Message::ToggleMic),
                    (Shortcut::Camera, Screen::Room { .. }) => {
                        Message::Room(room::Message::ToggleCamera)
                    }
                    (Shortcut::Record, Screen::Room { .. }) => Message::Room(room::Message::Record),
                    (Shortcut::Screen, Screen::Room { .. }) => {
                        Message::Room(room::Message::ToggleScreen)
                    }
                    (Shortcut::Hand, Screen::Room { .. }) => {
                        Message::Room(room::Message::ToggleHand)
                    }
                    (Shortcut::People, Screen::Room { .. }) => {
                        Message::Room(room::Message::TogglePeople)
                    }
                    (Shortcut::Agree, Screen::Room { .. }) => Message::Room(room::Message::Agree),
                    (Shortcut::Decline, Screen::Room { .. }) => {
                        Message::Room(room::Message::Decline)
                    }
                    (Shortcut::PlayPause, Screen::Viewer { .. }) => {
                        Message::Viewer(viewer::Message::PlayPause)
                    }
                    _ => return Task::none(),
                };
                self.handle(message)
            }
            Message::ToggleTheme => {
                self.dark = !self.dark;
                Task::none()
            }
        }
    }

    /// What the meeting setup asks for.
    fn on_setup(&mut self, event: Option<setup::Event>) -> Task<Message> {
        match event {
            None => Task::none(),
            Some(setup::Event::Preview(sources)) => self.preview(sources),
            Some(setup::Event::Back) => {
                self.back_home();
                Task::none()
            }
            Some(setup::Event::Join(joining)) => {
                let Screen::Setup { home, .. } =
                    std::mem::replace(&mut self.screen, Screen::Loading)
                else {
                    return Task::none();
                };
                // The preview is dropped with the setup: the call opens the devices.
                self.screen = Screen::Room {
                    room: Room::new(
                        joining.card.title.clone(),
                        joining.card.code.clone(),
                        joining.initial,
                    ),
                    call: None,
                    home,
                };
                Task::perform(
                    io::start_call(self.profile.clone(), joining),
                    Message::CallStarted,
                )
            }
        }
    }

    /// Start previewing `sources` in the meeting setup (the preview shown until now is let go
    /// of first: the new one may need the same camera).
    fn preview(&mut self, sources: setup::Sources) -> Task<Message> {
        let Screen::Setup {
            preview,
            generation,
            ..
        } = &mut self.screen
        else {
            return Task::none();
        };
        *preview = None;
        *generation += 1;
        let n = *generation;
        Task::perform(io::start_preview(sources), move |r| {
            Message::PreviewStarted(n, r)
        })
    }

    /// Leave the schedule form for the home screen under it.
    fn back_home(&mut self) {
        match std::mem::replace(&mut self.screen, Screen::Loading) {
            Screen::Schedule { home, .. }
            | Screen::Setup { home, .. }
            | Screen::Room { home, .. }
            | Screen::Recordings { home, .. }
            | Screen::Settings { home, .. }
            | Screen::Viewer { home, .. } => self.screen = Screen::Home(home),
            other => self.screen = other,
        }
    }

    pub fn view(&self) -> Element<'_, Message> {
        match &self.screen {
            Screen::Schedule { form, .. } => form.view().map(Message::Schedule),
            Screen::Setup { setup, .. } => setup.view().map(Message::Setup),
            Screen::Recordings { list, .. } => list.view().map(Message::Recordings),
            Screen::Settings { page, .. } => page.view().map(Message::Settings),
            Screen::Viewer { viewer, .. } => viewer.view().map(Message::Viewer),
            Screen::Room { room, .. } => room.view().map(Message::Room),
            Screen::Loading => iced::widget::center(iced::widget::text("Assent")).into(),
            Screen::Auth(auth) => auth.view().map(Message::Auth),
            Screen::Home(home) => home.view().map(Message::Home),
        }
    }

    /// Keyboard: Tab / Shift+Tab move between fields, F2 switches light and dark.
    pub fn subscription(&self) -> Subscription<Message> {
        let keys = keyboard::listen().filter_map(|event| match event {
            keyboard::Event::KeyPressed { key, modifiers, .. } => match key.as_ref() {
                keyboard::Key::Named(key::Named::Tab) => Some(if modifiers.shift() {
                    Message::FocusPrevious
                } else {
                    Message::FocusNext
                }),
                keyboard::Key::Named(key::Named::F2) => Some(Message::ToggleTheme),
                _ => shortcut(&key, modifiers).map(Message::Shortcut),
            },
            _ => None,
        });
        match &self.screen {
            // Video at the display's pace: new frames are picked up 30 times a second.
            Screen::Room { call: Some(_), .. } => Subscription::batch([
                keys,
                iced::time::every(std::time::Duration::from_millis(33)).map(|_| Message::Frame),
                // Connection quality, from the call's statistics every two seconds.
                iced::time::every(std::time::Duration::from_secs(2)).map(|_| Message::StatsTick),
            ]),
            // Getting ready: the preview's picture and level at the display's pace.
            Screen::Setup {
                preview: Some(_), ..
            } => Subscription::batch([
                keys,
                iced::time::every(std::time::Duration::from_millis(33)).map(|_| Message::Frame),
            ]),
            // A recording playing: its pictures at the display's pace.
            Screen::Viewer { viewer, .. } if viewer.has_player() => Subscription::batch([
                keys,
                iced::time::every(std::time::Duration::from_millis(33)).map(|_| Message::Frame),
            ]),
            // Upload progress: the list is reloaded every two seconds while a copy uploads.
            Screen::Recordings { list, .. } if list.uploading() => Subscription::batch([
                keys,
                iced::time::every(std::time::Duration::from_secs(2))
                    .map(|_| Message::Recordings(recordings::Message::Refresh)),
            ]),
            // Home: the meetings listed again, and the key directory re-checked, every few
            // minutes (a key published in our name shows while the window stays open).
            Screen::Home(_) => Subscription::batch([
                keys,
                iced::time::every(std::time::Duration::from_secs(300))
                    .map(|_| Message::OverviewTick),
            ]),
            _ => keys,
        }
    }
}

#[cfg(test)]
mod tests {
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
        let _ = app.update(Message::SignedIn(Ok(Account {
            server: "http://127.0.0.1:1".into(),
            email: "ada@example.org".into(),
            user_id: UserId::random(),
            display_name: "Ada".into(),
        })));
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
        let _ = app.update(Message::SignedIn(Ok(Account {
            server: "http://127.0.0.1:1".into(),
            email: "ada@example.org".into(),
            user_id: UserId::random(),
            display_name: "Ada".into(),
        })));
        assert!(app.link.is_none(), "used once");
        {
            let Screen::Home(home) = &app.screen else {
                panic!("home after signing in")
            };
            let mut ui = iced_test::simulator(home.view());
            assert!(ui.find("assent://join/abc-defg-hij").is_ok());
        }
        let _ = app.update(Message::Meeting(Ok(MeetingCard {
            code: "abc-defg-hij".into(),
            title: "Planning".into(),
            created: false,
        })));
        assert_eq!(app.title(), "Assent — Planning");
    }

    /// Click `label` on the window's current screen; its messages go through the app.
    fn click(app: &mut App, label: &str) {
        let messages: Vec<Message> = {
            let mut ui = iced_test::Simulator::with_size(
                iced::Settings::default(),
                (1280.0, 900.0),
                app.view(),
            );
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
        let _ = app.update(Message::SignedUp(Ok(zeroize::Zeroizing::new(
            "RCVR-CODE".into(),
        ))));
        assert_eq!(app.title(), "Assent — check your email");
        let _ = app.update(Message::Auth(auth::Message::Code("123456".into())));
        click(&mut app, "Verify");
        let _ = app.update(Message::Verified(Ok(())));
        assert_eq!(app.title(), "Assent — your recovery code");
        click(&mut app, "I have stored my recovery code");
        click(&mut app, "Continue");
        let _ = app.update(Message::SignedIn(Ok(Account {
            server: "http://127.0.0.1:1".into(),
            email: "ada@example.org".into(),
            user_id: UserId::random(),
            display_name: "Ada".into(),
        })));
        assert_eq!(app.title(), "Assent");
        click(&mut app, "New meeting");
        let _ = app.update(Message::Meeting(Ok(MeetingCard {
            code: "abc-defg-hij".into(),
            title: "Ada's meeting".into(),
            created: true,
        })));
        click(&mut app, "Join now");
        assert_eq!(app.title(), "Assent — Ada's meeting — getting ready");
        let _ = app.update(Message::Devices(Ok(setup::Devices::default())));
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
        let _ = app.update(Message::Meeting(Ok(MeetingCard {
            code: "abc-defg-hij".into(),
            title: "Planning".into(),
            created: false,
        })));
        let _ = app.update(Message::Home(home::Message::Enter));
        assert_eq!(app.title(), "Assent — Planning — getting ready");
        let _ = app.update(Message::Shortcut(Shortcut::Back));
        assert_eq!(app.title(), "Assent — Planning");
        let _ = app.update(Message::Home(home::Message::Enter));
        let choice = |label: &str, spec: &str| setup::Choice {
            label: label.into(),
            spec: spec.into(),
        };
        let _ = app.update(Message::Devices(Ok(setup::Devices {
            cameras: vec![choice("test picture (ball)", "test")],
            microphones: vec![choice("test tone (440 Hz)", "test")],
            speakers: vec![choice("System default", "")],
            last: setup::Chosen::default(),
        })));
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
        let _ = app.update(Message::SignedIn(Err(io::SignInError::TotpRequired)));
        assert!(matches!(&app.screen, Screen::Auth(a) if a.step() == auth::Step::Totp));
        let _ = app.update(Message::SignedIn(Err(io::SignInError::Other(
            "wrong code".into(),
        ))));
        {
            let Screen::Auth(auth) = &app.screen else {
                panic!("still signing in")
            };
            let mut ui = iced_test::simulator(auth.view());
            assert!(ui.find("wrong code").is_ok());
        }
        let _ = app.update(Message::SignedIn(Ok(Account {
            server: "http://127.0.0.1:1".into(),
            email: "ada@example.org".into(),
            user_id: UserId::random(),
            display_name: "Ada".into(),
        })));
        {
            let Screen::Home(home) = &app.screen else {
                panic!("home after signing in")
            };
            let mut ui = iced_test::simulator(home.view());
            assert!(ui.find("Hello, Ada").is_ok());
        }
        assert_eq!(app.title(), "Assent");
        assert_eq!(app.theme(), Theme::Light);
        let _ = app.update(Message::ToggleTheme);
        assert_eq!(app.theme(), Theme::Dark);
    }

    /// Recordings opens over Home, shows what the engine loaded (and why the cloud part is
    /// missing, when it is), and Back returns to Home as it was.
    #[test]
    fn recordings_open_over_home_and_return() {
        let mut app = signed_in();
        let _ = app.update(Message::Home(home::Message::Recordings));
        assert_eq!(app.title(), "Assent — recordings");
        let _ = app.update(Message::RecordingsLoaded(Ok((
            vec![recordings::Item {
                id: "r1".into(),
                title: "Weekly sync".into(),
                started_at: 1_795_000_000_000,
                duration_ms: Some(60_000),
                participants: vec!["Ada".into(), "Grace".into()],
                tags: vec!["team".into()],
                size: 1_000_000,
                local: Some(("/p/recordings/r1".into(), "complete".into())),
                cloud: Some(recordings::Cloud::NotKept),
                keep_until: None,
                can_delete_cloud: false,
            }],
            Some("server unreachable".into()),
        ))));
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
        let _ = app.update(Message::AccountDeleted(Err(
            "invalid credentials (invalid_credentials)".into(),
        )));
        assert_eq!(app.title(), "Assent — settings");
        let _ = app.update(Message::Settings(settings::Message::Back));
        assert_eq!(app.title(), "Assent");
        let _ = app.update(Message::Home(home::Message::Settings));
        let _ = app.update(Message::AccountDeleted(Ok(())));
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
        let _ = app.update(Message::SignedIn(Ok(Account {
            server: "http://127.0.0.1:1".into(),
            email: "ada@example.org".into(),
            user_id: UserId::random(),
            display_name: "Ada".into(),
        })));
        let _ = app.update(Message::Shortcut(Shortcut::Recordings));
        assert_eq!(app.title(), "Assent — recordings");
        let _ = app.update(Message::Shortcut(Shortcut::Settings));
        assert_eq!(app.title(), "Assent — recordings", "only from Home");
        let _ = app.update(Message::RecordingsLoaded(Ok((Vec::new(), None))));
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
        let _ = app.update(Message::Scheduled(Err("server says no".into())));
        assert!(
            matches!(&app.screen, Screen::Schedule { .. }),
            "stays to be corrected"
        );
        let _ = app.update(Message::Scheduled(Ok(MeetingCard {
            code: "abc-defg-hij".into(),
            title: "Planning".into(),
            created: true,
        })));
        assert_eq!(app.title(), "Assent — Planning");
    }
}
