//! Navigation: which screen shows, what it was opened over, and the moves between screens.
//! Every screen but sign-in opens over Home (the viewer over the recordings list too) and
//! goes back to what it was opened over, as it was left.

use assent_engine::Account;
use iced::Task;
use iced::widget::operation;

use super::auth::{self, Auth};
use super::home::{self, Home, MeetingCard};
use super::recordings::{self, Recordings};
use super::room::Room;
use super::schedule::{self, Schedule};
use super::settings::{self, Settings};
use super::{App, Message, io, setup, viewer};

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
    /// In a call (the link once it has started), over the home screen it returns to. The
    /// call runs as the room's subscription, for `request`, while this screen exists.
    Room {
        room: Box<Room>,
        request: Box<io::CallRequest>,
        call: Option<io::CallLink>,
        home: Home,
    },
}

impl Screen {
    /// The window's title: where the user is, and what is going on there.
    pub fn title(&self) -> String {
        match self {
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
            Screen::Room { room, .. } => Self::room_title(room),
            Screen::Loading => "Assent — starting".into(),
        }
    }

    fn room_title(room: &Room) -> String {
        if room.ended().is_some() {
            return format!("Assent — {} — call ended", room.title());
        }
        let state = match room.recording_state() {
            _ if room.asking() => " — asked to record",
            Some(assent_shared::consent::StatusKind::Recording) => " — recording",
            _ => "",
        };
        let people = if room.showing_people() {
            " — people"
        } else {
            ""
        };
        format!(
            "Assent — {} — in call with {}{state}{people}",
            room.title(),
            room.connected()
        )
    }

    /// The home screen, showing or under the screen that shows.
    pub fn home_mut(&mut self) -> Option<&mut Home> {
        match self {
            Screen::Home(home)
            | Screen::Schedule { home, .. }
            | Screen::Setup { home, .. }
            | Screen::Room { home, .. }
            | Screen::Recordings { home, .. }
            | Screen::Settings { home, .. }
            | Screen::Viewer { home, .. } => Some(home),
            Screen::Loading | Screen::Auth(_) => None,
        }
    }
}

impl App {
    /// Where a profile starts: its account's home if signed in, else the sign-in form (the
    /// server from `ASSENT_SERVER` for a fresh profile; the first empty field has the keyboard).
    pub(super) fn on_loaded(
        &mut self,
        current: Option<Account>,
        last: Option<(String, String)>,
    ) -> Task<Message> {
        if let Some(account) = current {
            return self.enter_home(&account);
        }
        let (server, email) = last.unwrap_or_else(|| (self.default_server.clone(), String::new()));
        let auth = Auth::new(server, email);
        let first = auth.first_empty();
        self.screen = Screen::Auth(auth);
        operation::focus(first)
    }

    /// Home for `account`, and the request for its upcoming meetings and call history.
    pub(super) fn enter_home(&mut self, account: &Account) -> Task<Message> {
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
            tasks.push(self.on_home(home::Message::JoinInput(format!("assent://join/{code}"))));
            tasks.push(self.on_home(home::Message::Join));
        }
        Task::batch(tasks)
    }

    /// Signed out, or the account is gone: back to the start.
    pub(super) fn restart(&mut self) -> Task<Message> {
        let (app, task) = App::new(self.profile.clone(), None);
        self.screen = app.screen;
        task
    }

    /// Open a screen over Home (from Home only).
    fn over_home(&mut self, open: impl FnOnce(&App, Home) -> Screen) -> bool {
        match std::mem::replace(&mut self.screen, Screen::Loading) {
            Screen::Home(home) => {
                self.screen = open(self, home);
                true
            }
            other => {
                self.screen = other;
                false
            }
        }
    }

    pub(super) fn open_schedule(&mut self) -> Task<Message> {
        let now = assent_shared::Timestamp::now().0;
        match self.over_home(|app, home| Screen::Schedule {
            form: Schedule::new(now, app.tz.clone()),
            home,
        }) {
            true => operation::focus(schedule::TITLE),
            false => Task::none(),
        }
    }

    /// The meeting setup for `card`, and the request for the devices.
    pub(super) fn open_setup(&mut self, card: MeetingCard) -> Task<Message> {
        match self.over_home(|_, home| Screen::Setup {
            setup: setup::Setup::new(card),
            preview: None,
            generation: 0,
            home,
        }) {
            true => Task::perform(io::devices(self.profile.clone()), setup::Message::Devices)
                .map(Message::Setup),
            false => Task::none(),
        }
    }

    pub(super) fn open_recordings(&mut self) -> Task<Message> {
        match self.over_home(|app, home| Screen::Recordings {
            list: Recordings::new(app.tz.clone()),
            home,
        }) {
            true => Task::batch([operation::focus(recordings::SEARCH), self.load_recordings()]),
            false => Task::none(),
        }
    }

    pub(super) fn open_settings(&mut self) -> Task<Message> {
        let opened = self.over_home(|app, home| Screen::Settings {
            page: Settings::new(
                home.name().to_string(),
                home.email().to_string(),
                app.server.clone(),
                app.tz.clone(),
            ),
            home,
        });
        match opened {
            true => Task::batch([
                operation::focus(settings::CURRENT),
                Task::perform(
                    io::settings(self.profile.clone()),
                    settings::Message::Loaded,
                )
                .map(Message::Settings),
            ]),
            false => Task::none(),
        }
    }

    /// The viewer for a recording opened from the list, and the request for its media.
    pub(super) fn open_viewer(&mut self, opened: viewer::Opened) -> Task<Message> {
        match std::mem::replace(&mut self.screen, Screen::Loading) {
            Screen::Recordings { list, home } => {
                let (recording, manifest) = (opened.dir.clone(), opened.manifest.clone());
                self.screen = Screen::Viewer {
                    viewer: viewer::Viewer::new(opened, self.tz.clone()),
                    list,
                    home,
                };
                let load = io::load_media(self.profile.clone(), recording, manifest);
                Task::perform(load, viewer::Message::Media).map(Message::Viewer)
            }
            other => {
                self.screen = other;
                Task::none()
            }
        }
    }

    /// From the viewer back to the recordings list, loaded again.
    pub(super) fn back_to_list(&mut self) -> Task<Message> {
        if let Screen::Viewer { list, home, .. } =
            std::mem::replace(&mut self.screen, Screen::Loading)
        {
            self.screen = Screen::Recordings { list, home };
        }
        self.load_recordings()
    }

    pub(super) fn load_recordings(&self) -> Task<Message> {
        Task::perform(
            io::recordings(self.profile.clone()),
            recordings::Message::Loaded,
        )
        .map(Message::Recordings)
    }

    /// Leave the screen that shows for the home screen under it.
    pub(super) fn back_home(&mut self) {
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

    /// Back home, with what it lists asked for again.
    pub(super) fn back_home_refreshed(&mut self) -> Task<Message> {
        self.back_home();
        Task::perform(io::overview(self.profile.clone()), Message::Overview)
    }
}
