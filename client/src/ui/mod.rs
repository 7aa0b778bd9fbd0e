//! The desktop window (iced 0.14, tiny-skia). Each screen is a component with its own
//! `Message`, `update` (returning what the user asked for as an `Event`) and `view`; the app
//! turns events into engine requests run as `Task`s ([`io`], in [`handlers`]) and hands the
//! answers back to the screen as its own messages. Which screen shows, and over what, is
//! [`nav`]; the keyboard is [`shortcuts`]. No IO happens inside `update`.

pub mod auth;
mod handlers;
pub mod home;
mod io;
mod nav;
pub mod recordings;
pub mod room;
pub mod schedule;
pub mod settings;
pub mod setup;
pub mod shortcuts;
pub mod theme;
mod time;
mod trust;
mod video;
pub mod viewer;

use std::path::PathBuf;

use assent_engine::Account;
use iced::keyboard::{self, key};
use iced::widget::operation;
use iced::{Element, Subscription, Task, Theme};
use jiff::tz::TimeZone;

use nav::Screen;
pub use shortcuts::{Shortcut, shortcut};

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

#[derive(Debug, Clone)]
pub enum Message {
    /// The profile's account, if signed in, and the last one used (server, email).
    Loaded(Option<Account>, Option<(String, String)>),
    // Each screen's messages: what its widgets send and the answers to its requests.
    Auth(auth::Message),
    Home(home::Message),
    Schedule(schedule::Message),
    Recordings(recordings::Message),
    Viewer(viewer::Message),
    Settings(settings::Message),
    Setup(setup::Message),
    Room(room::Message),
    /// What the home screen lists (it may be under another screen when this arrives).
    Overview(Result<io::Overview, String>),
    /// Time to list the meetings again and re-check the key directory (on the home screen).
    OverviewTick,
    /// A preview started (or not), for the `n`th one asked for.
    PreviewStarted(u64, Result<io::PreviewLink, String>),
    CallStarted(Result<io::CallLink, String>),
    /// A task finished with nothing to show (a sound played, no statistics yet).
    Idle,
    /// Time to show the newest video frames.
    Frame,
    /// Time to ask the call for its statistics (connection quality).
    StatsTick,
    FocusNext,
    FocusPrevious,
    ToggleTheme,
    /// A keyboard shortcut, acted on according to the screen.
    Shortcut(Shortcut),
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
        self.screen.title()
    }

    /// How the call is laid out, when one shows.
    fn look(&self) -> Option<impl PartialEq + use<>> {
        match &self.screen {
            nav::Screen::Room { room, .. } => Some(room.look()),
            _ => None,
        }
    }

    pub fn theme(&self) -> Theme {
        if self.dark {
            theme::dark()
        } else {
            theme::light()
        }
    }

    /// The theme's background and text, with the background one step of blue apart on every
    /// other screen change. The software renderer redraws only what changed between frames,
    /// and it leaves the anti-aliased edge pixels of an image or of text that went away (a
    /// one-pixel line of the last screen's picture, a faded word); a new background colour
    /// makes it redraw the whole window. A difference of 1/255 cannot be seen.
    /// While a call shows, the background is the stage's (`surface::stage`).
    pub fn style(&self, theme: &Theme) -> iced::theme::Style {
        let mut style = iced::theme::Base::base(theme);
        if matches!(self.screen, Screen::Room { .. }) {
            style.background_color = theme::stage::BACKGROUND;
            style.text_color = theme::stage::TEXT;
        }
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

    pub fn update(&mut self, message: Message) -> Task<Message> {
        let before = std::mem::discriminant(&self.screen);
        let (title, look) = (self.title(), self.look());
        let task = self.handle(message);
        // A new screen, or a new state of this one that its title names (a dialog, a panel,
        // the recording) or that moves things about (the call's layout): the whole window is
        // redrawn.
        if std::mem::discriminant(&self.screen) != before
            || self.title() != title
            || self.look() != look
        {
            self.screen_changes += 1;
        }
        task
    }

    fn handle(&mut self, message: Message) -> Task<Message> {
        match message {
            Message::Loaded(current, last) => self.on_loaded(current, last),
            Message::Auth(msg) => self.on_auth(msg),
            Message::Home(msg) => self.on_home(msg),
            Message::Schedule(msg) => self.on_schedule(msg),
            Message::Recordings(msg) => self.on_recordings(msg),
            Message::Viewer(msg) => self.on_viewer(msg),
            Message::Settings(msg) => self.on_settings(msg),
            Message::Setup(msg) => self.on_setup(msg),
            Message::Room(msg) => self.on_room(msg),
            Message::Overview(result) => {
                self.on_overview(result);
                Task::none()
            }
            Message::OverviewTick => {
                Task::perform(io::overview(self.profile.clone()), Message::Overview)
            }
            Message::PreviewStarted(n, result) => {
                self.on_preview(n, result);
                Task::none()
            }
            Message::CallStarted(result) => self.on_call_started(result),
            Message::Frame => {
                self.on_frame();
                Task::none()
            }
            Message::StatsTick => self.ask_stats(),
            Message::Idle => Task::none(),
            Message::FocusNext => operation::focus_next(),
            Message::FocusPrevious => operation::focus_previous(),
            Message::ToggleTheme => {
                self.dark = !self.dark;
                Task::none()
            }
            Message::Shortcut(s) => match shortcuts::message(s, &self.screen) {
                Some(message) => self.handle(message),
                None => Task::none(),
            },
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
            // The call itself, while the room exists; once it runs, video at the display's
            // pace (new frames picked up 30 times a second) and the connection quality from
            // its statistics every two seconds.
            Screen::Room { request, call, .. } => {
                let call_sub =
                    Subscription::run_with(request.as_ref().clone(), io::call).map(call_update);
                let running = call.is_some().then(|| {
                    Subscription::batch([
                        iced::time::every(std::time::Duration::from_millis(33))
                            .map(|_| Message::Frame),
                        iced::time::every(std::time::Duration::from_secs(2))
                            .map(|_| Message::StatsTick),
                    ])
                });
                Subscription::batch([keys, call_sub].into_iter().chain(running))
            }
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

/// What the call's subscription reports, as the app's messages.
fn call_update(update: io::CallUpdate) -> Message {
    match update {
        io::CallUpdate::Started(result) => Message::CallStarted(result),
        io::CallUpdate::Event(e) => Message::Room(room::Message::Call(e)),
    }
}

#[cfg(test)]
mod tests;
