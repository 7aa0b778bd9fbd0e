//! The desktop window (iced 0.14, tiny-skia). Each screen is a component with its own
//! `Message`, `update` (returning what the user asked for as an `Event`) and `view`; the app
//! turns events into engine requests run as `Task`s ([`io`]) and hands the results back to the
//! screen. No IO happens inside `update`.

pub mod auth;
pub mod home;
mod io;
pub mod style;

use std::path::PathBuf;

use assent_client::account::Account;
use iced::keyboard::{self, key};
use iced::widget::operation;
use iced::{Element, Subscription, Task, Theme};

use auth::Auth;
use home::{Home, MeetingCard};

pub fn run(profile: PathBuf) -> iced::Result {
    iced::application(move || App::new(profile.clone()), App::update, App::view)
        .title(App::title)
        .theme(App::theme)
        .subscription(App::subscription)
        .window_size((1280.0, 720.0))
        .centered()
        .run()
}

#[derive(Debug)]
pub enum Screen {
    /// Finding out whether this profile is signed in.
    Loading,
    Auth(Auth),
    Home(Home),
}

#[derive(Debug, Clone)]
pub enum Message {
    Loaded(Option<Account>, Option<(String, String)>),
    Auth(auth::Message),
    Home(home::Message),
    SignedIn(Result<Account, io::SignInError>),
    SignedUp(Result<zeroize::Zeroizing<String>, String>),
    Verified(Result<(), String>),
    CodeSent(Result<(), String>),
    SignedOut(Result<(), String>),
    Meeting(Result<MeetingCard, String>),
    FocusNext,
    FocusPrevious,
    ToggleTheme,
}

#[derive(Debug)]
pub struct App {
    profile: PathBuf,
    /// For a fresh profile's sign-in form (`ASSENT_SERVER`).
    default_server: String,
    screen: Screen,
    dark: bool,
}

impl App {
    pub fn new(profile: PathBuf) -> (App, Task<Message>) {
        let app = App {
            profile: profile.clone(),
            default_server: std::env::var("ASSENT_SERVER").unwrap_or_default(),
            screen: Screen::Loading,
            dark: false,
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
            Screen::Auth(auth) if auth.step() == auth::Step::SignUp => {
                "Assent — create your account".into()
            }
            Screen::Auth(_) => "Assent — sign in".into(),
            Screen::Home(home) => match home.meeting() {
                Some(m) => format!("Assent — {}", m.title),
                None => "Assent".into(),
            },
            Screen::Loading => "Assent".into(),
        }
    }

    pub fn theme(&self) -> Theme {
        if self.dark { Theme::Dark } else { Theme::Light }
    }

    fn home(account: &Account) -> Screen {
        Screen::Home(Home::new(
            account.display_name.clone(),
            account.email.clone(),
        ))
    }

    pub fn update(&mut self, message: Message) -> Task<Message> {
        let dir = self.profile.clone();
        match message {
            Message::Loaded(current, last) => match current {
                Some(account) => {
                    self.screen = Self::home(&account);
                    operation::focus(home::JOIN)
                }
                None => {
                    // A fresh profile: the server from `ASSENT_SERVER`, if set.
                    let (server, email) =
                        last.unwrap_or_else(|| (self.default_server.clone(), String::new()));
                    // The first empty field has the keyboard.
                    let first = if server.is_empty() {
                        auth::SERVER
                    } else if email.is_empty() {
                        auth::EMAIL
                    } else {
                        auth::PASSWORD
                    };
                    self.screen = Screen::Auth(Auth::new(server, email));
                    operation::focus(first)
                }
            },
            Message::Auth(msg) => {
                let Screen::Auth(auth) = &mut self.screen else {
                    return Task::none();
                };
                match auth.update(msg) {
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
                    (Ok(account), _) => {
                        self.screen = Self::home(&account);
                        return operation::focus(home::JOIN);
                    }
                    (Err(io::SignInError::TotpRequired), Screen::Auth(auth)) => {
                        auth.on_totp_required();
                        return operation::focus(auth::CODE);
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
            Message::SignedOut(result) => match result {
                Ok(()) => {
                    let (app, task) = App::new(self.profile.clone());
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
            Message::ToggleTheme => {
                self.dark = !self.dark;
                Task::none()
            }
        }
    }

    pub fn view(&self) -> Element<'_, Message> {
        match &self.screen {
            Screen::Loading => iced::widget::center(iced::widget::text("Assent")).into(),
            Screen::Auth(auth) => auth.view().map(Message::Auth),
            Screen::Home(home) => home.view().map(Message::Home),
        }
    }

    /// Keyboard: Tab / Shift+Tab move between fields, F2 switches light and dark.
    pub fn subscription(&self) -> Subscription<Message> {
        keyboard::listen().filter_map(|event| match event {
            keyboard::Event::KeyPressed { key, modifiers, .. } => match key.as_ref() {
                keyboard::Key::Named(key::Named::Tab) => Some(if modifiers.shift() {
                    Message::FocusPrevious
                } else {
                    Message::FocusNext
                }),
                keyboard::Key::Named(key::Named::F2) => Some(Message::ToggleTheme),
                _ => None,
            },
            _ => None,
        })
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
            screen: Screen::Auth(Auth::new(
                "http://127.0.0.1:1".into(),
                "ada@example.org".into(),
            )),
            dark: false,
        }
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
}
