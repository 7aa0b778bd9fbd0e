//! Sign in and sign up: server, email, password (with the password rules checked as you type),
//! the email code, the TOTP step, and the recovery code shown once after sign-up.
//!
//! A pure component: `update` changes the form and reports what the user asked for as an
//! [`Event`]; the app does the IO and reports back through the `on_*` methods.

use assent_shared::password::{self, Rule};
use iced::widget::{Id, button, checkbox, column, container, row, rule, space, text, text_input};
use iced::{Center, Element, Fill};
use zeroize::Zeroizing;

use super::style;

pub const SERVER: Id = Id::new("auth-server");
pub const EMAIL: Id = Id::new("auth-email");
pub const NAME: Id = Id::new("auth-name");
pub const PASSWORD: Id = Id::new("auth-password");
pub const CODE: Id = Id::new("auth-code");

/// Which step of the form is showing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    SignIn,
    SignUp,
    /// The 6-digit code mailed at sign-up.
    VerifyEmail,
    /// The account has two-factor authentication: the authenticator's code.
    Totp,
    /// The recovery code, shown once.
    Recovery,
}

#[derive(Debug, Clone)]
pub enum Message {
    Server(String),
    Email(String),
    Name(String),
    Password(String),
    Code(String),
    Submit,
    Show(Step),
    StoredRecovery(bool),
    ResendCode,
}

/// What the user asked for (the app carries it out).
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    SignIn {
        server: String,
        email: String,
        password: Zeroizing<String>,
        totp: Option<String>,
    },
    SignUp {
        server: String,
        email: String,
        name: String,
        password: Zeroizing<String>,
    },
    VerifyEmail {
        code: String,
    },
    ResendCode,
    /// The recovery code is stored: sign in with the new account.
    RecoveryStored {
        server: String,
        email: String,
        password: Zeroizing<String>,
    },
}

#[derive(Debug)]
pub struct Auth {
    step: Step,
    server: String,
    email: String,
    name: String,
    password: Zeroizing<String>,
    code: String,
    recovery: Option<Zeroizing<String>>,
    stored_recovery: bool,
    busy: bool,
    error: Option<String>,
    notice: Option<String>,
}

impl Auth {
    pub fn new(server: String, email: String) -> Auth {
        Auth {
            step: Step::SignIn,
            server,
            email,
            name: String::new(),
            password: Zeroizing::new(String::new()),
            code: String::new(),
            recovery: None,
            stored_recovery: false,
            busy: false,
            error: None,
            notice: None,
        }
    }

    pub fn step(&self) -> Step {
        self.step
    }

    /// The field that should have the keyboard: the first empty one of this step.
    pub fn first_empty(&self) -> Id {
        let empty = |s: &str| s.trim().is_empty();
        match self.step {
            Step::SignIn | Step::SignUp if empty(&self.server) => SERVER,
            Step::SignIn | Step::SignUp if empty(&self.email) => EMAIL,
            Step::SignUp if empty(&self.name) => NAME,
            Step::SignIn | Step::SignUp => PASSWORD,
            Step::VerifyEmail | Step::Totp | Step::Recovery => CODE,
        }
    }

    pub fn stored_recovery(&self) -> bool {
        self.stored_recovery
    }

    /// The password rules the current password breaks (sign-up only).
    pub fn broken_rules(&self) -> Vec<Rule> {
        password::check(&self.password, &[&self.email, &self.name])
    }

    fn can_submit(&self) -> bool {
        if self.busy {
            return false;
        }
        let filled = |s: &str| !s.trim().is_empty();
        match self.step {
            Step::SignIn => filled(&self.server) && filled(&self.email) && filled(&self.password),
            Step::SignUp => {
                filled(&self.server)
                    && self.email.contains('@')
                    && filled(&self.name)
                    && self.broken_rules().is_empty()
            }
            Step::VerifyEmail | Step::Totp => {
                let c = self.code.trim();
                c.len() == 6 && c.chars().all(|d| d.is_ascii_digit())
            }
            Step::Recovery => self.stored_recovery,
        }
    }

    pub fn update(&mut self, message: Message) -> Option<Event> {
        match message {
            Message::Server(s) => self.server = s,
            Message::Email(s) => self.email = s,
            Message::Name(s) => self.name = s,
            Message::Password(s) => self.password = Zeroizing::new(s),
            Message::Code(s) => {
                self.code = s.chars().filter(char::is_ascii_digit).take(6).collect()
            }
            Message::StoredRecovery(b) => self.stored_recovery = b,
            Message::Show(step) => {
                self.step = step;
                self.error = None;
                self.notice = None;
            }
            Message::ResendCode => {
                self.notice = None;
                return Some(Event::ResendCode);
            }
            Message::Submit => {
                if !self.can_submit() {
                    return None;
                }
                self.error = None;
                self.notice = None;
                let server = self.server.trim().to_string();
                let email = self.email.trim().to_string();
                let event = match self.step {
                    Step::SignIn => Event::SignIn {
                        server,
                        email,
                        password: self.password.clone(),
                        totp: None,
                    },
                    Step::Totp => Event::SignIn {
                        server,
                        email,
                        password: self.password.clone(),
                        totp: Some(self.code.clone()),
                    },
                    Step::SignUp => Event::SignUp {
                        server,
                        email,
                        name: self.name.trim().to_string(),
                        password: self.password.clone(),
                    },
                    Step::VerifyEmail => Event::VerifyEmail {
                        code: self.code.clone(),
                    },
                    Step::Recovery => {
                        // Shown once: gone from memory as soon as the user has stored it.
                        self.recovery = None;
                        Event::RecoveryStored {
                            server,
                            email,
                            password: self.password.clone(),
                        }
                    }
                };
                self.busy = !matches!(self.step, Step::Recovery);
                return Some(event);
            }
        }
        None
    }

    /// The request failed: say why and let the user correct the form.
    pub fn on_error(&mut self, error: String) {
        self.busy = false;
        self.error = Some(error);
    }

    /// The server wants the authenticator's code.
    pub fn on_totp_required(&mut self) {
        self.busy = false;
        self.code.clear();
        self.step = Step::Totp;
    }

    /// The account exists; the emailed code comes next. The recovery code is kept until shown.
    pub fn on_signed_up(&mut self, recovery: Zeroizing<String>) {
        self.busy = false;
        self.recovery = Some(recovery);
        self.code.clear();
        self.step = Step::VerifyEmail;
    }

    pub fn on_code_sent(&mut self) {
        self.notice = Some(format!(
            "A new code is on its way to {}.",
            self.email.trim()
        ));
    }

    /// The email is verified: show the recovery code (once).
    pub fn on_verified(&mut self) {
        self.busy = false;
        self.stored_recovery = false;
        self.step = Step::Recovery;
    }

    pub fn view(&self) -> Element<'_, Message> {
        let title = match self.step {
            Step::SignIn => "Sign in to Assent",
            Step::SignUp => "Create your Assent account",
            Step::VerifyEmail => "Check your email",
            Step::Totp => "Two-factor authentication",
            Step::Recovery => "Your recovery code",
        };
        let mut form = column![text(title).size(26)].spacing(12).width(420);
        let input = |placeholder: &'static str, id: Id, value: &str, on: fn(String) -> Message| {
            text_input(placeholder, value)
                .id(id)
                .on_input(on)
                .on_submit(Message::Submit)
                .padding(8)
        };
        match self.step {
            Step::SignIn | Step::SignUp => {
                form = form
                    .push(text("Server").size(14))
                    .push(input(
                        "https://assent.example.org",
                        SERVER,
                        &self.server,
                        Message::Server,
                    ))
                    .push(text("Email").size(14))
                    .push(input("you@example.org", EMAIL, &self.email, Message::Email));
                if self.step == Step::SignUp {
                    form = form.push(text("Your name").size(14)).push(input(
                        "Ada Lovelace",
                        NAME,
                        &self.name,
                        Message::Name,
                    ));
                }
                form = form.push(text("Password").size(14)).push(
                    input("Password", PASSWORD, &self.password, Message::Password).secure(true),
                );
                if self.step == Step::SignUp {
                    form = form.push(self.rules());
                }
                let (action, other, other_label) = if self.step == Step::SignIn {
                    ("Sign in", Step::SignUp, "Create an account")
                } else {
                    ("Create account", Step::SignIn, "I have an account")
                };
                form = form
                    .push(
                        row![
                            button(text(other_label))
                                .style(button::text)
                                .on_press(Message::Show(other)),
                            space::horizontal(),
                            self.submit(action),
                        ]
                        .align_y(Center),
                    )
                    .push(
                        text(format!(
                            "Tab: next field · Ctrl+N: {} · F2: light/dark",
                            if self.step == Step::SignIn {
                                "new account"
                            } else {
                                "sign in instead"
                            }
                        ))
                        .size(13)
                        .style(style::muted),
                    );
            }
            Step::VerifyEmail | Step::Totp => {
                let hint = if self.step == Step::VerifyEmail {
                    format!("Enter the 6-digit code we sent to {}.", self.email.trim())
                } else {
                    "Enter the 6-digit code from your authenticator app.".to_string()
                };
                form = form
                    .push(text(hint))
                    .push(input("123456", CODE, &self.code, Message::Code));
                let back = if self.step == Step::VerifyEmail {
                    button(text("Send a new code"))
                        .style(button::text)
                        .on_press(Message::ResendCode)
                } else {
                    button(text("Back"))
                        .style(button::text)
                        .on_press(Message::Show(Step::SignIn))
                };
                let action = if self.step == Step::VerifyEmail {
                    "Verify"
                } else {
                    "Continue"
                };
                form =
                    form.push(row![back, space::horizontal(), self.submit(action)].align_y(Center));
            }
            Step::Recovery => {
                let code = self
                    .recovery
                    .as_ref()
                    .map(|c| c.as_str())
                    .unwrap_or("(already shown)");
                form = form
                    .push(text(
                        "Write this code down and keep it somewhere safe. With it (and your email) you \
                         can recover your keys if you forget your password. Without it, a forgotten \
                         password means your old recordings can no longer be decrypted. It is shown \
                         only this once.",
                    ))
                    .push(
                        container(text(code).size(20).font(iced::Font::MONOSPACE))
                            .padding(12)
                            .width(Fill)
                            .style(container::bordered_box),
                    )
                    .push(
                        checkbox(self.stored_recovery)
                            .label("I have stored my recovery code")
                            .on_toggle(Message::StoredRecovery),
                    )
                    .push(row![space::horizontal(), self.submit("Continue")])
                    .push(
                        text("Space ticks the box; Enter continues.")
                            .size(13)
                            .style(style::muted),
                    );
            }
        }
        if let Some(notice) = &self.notice {
            form = form.push(text(notice.as_str()).style(text::success));
        }
        if let Some(error) = &self.error {
            form = form.push(text(error.as_str()).style(text::danger));
        }
        if self.busy {
            form = form.push(text("Working…").style(style::muted));
        }
        container(form).center(Fill).padding(24).into()
    }

    fn submit<'a>(&self, label: &'a str) -> Element<'a, Message> {
        button(text(label))
            .padding([8, 16])
            .on_press_maybe(self.can_submit().then_some(Message::Submit))
            .into()
    }

    /// Live password rules: what still has to change, or that it is good.
    fn rules(&self) -> Element<'_, Message> {
        let broken = self.broken_rules();
        if self.password.is_empty() {
            return text(format!(
                "{} to {} characters; not a common password; not your name or email.",
                password::MIN_CHARS,
                password::MAX_CHARS
            ))
            .size(13)
            .style(style::muted)
            .into();
        }
        if broken.is_empty() {
            return text("✓ This password meets the rules.")
                .size(13)
                .style(text::success)
                .into();
        }
        let mut list = column![].spacing(2);
        for r in broken {
            list = list.push(
                text(format!("✗ {}", r.message()))
                    .size(13)
                    .style(text::danger),
            );
        }
        column![list, rule::horizontal(1)].spacing(6).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_test::simulator;

    /// Click a field (focusing it) and type into it; the events the form reports.
    fn type_into(auth: &mut Auth, id: Id, s: &str) -> Vec<Event> {
        let mut ui = simulator(auth.view());
        ui.click(id).expect("the field is on screen");
        let _ = ui.typewrite(s);
        let messages: Vec<Message> = ui.into_messages().collect();
        messages
            .into_iter()
            .filter_map(|m| auth.update(m))
            .collect()
    }

    fn click(auth: &mut Auth, label: &str) -> Vec<Event> {
        let mut ui = simulator(auth.view());
        ui.click(label).expect("the control is on screen");
        let messages: Vec<Message> = ui.into_messages().collect();
        messages
            .into_iter()
            .filter_map(|m| auth.update(m))
            .collect()
    }

    fn shows(auth: &Auth, s: &str) -> bool {
        let mut ui = simulator(auth.view());
        ui.find(s).is_ok()
    }

    #[test]
    fn sign_up_checks_the_password_as_you_type() {
        let mut auth = Auth::new("http://127.0.0.1:1".into(), String::new());
        assert!(click(&mut auth, "Create an account").is_empty());
        assert_eq!(auth.step(), Step::SignUp);
        type_into(&mut auth, EMAIL, "lovelace@example.org");
        type_into(&mut auth, NAME, "Ada");
        type_into(&mut auth, PASSWORD, "short");
        assert!(shows(&auth, "✗ Use at least 8 characters."));
        // Not acceptable yet: the button does nothing.
        assert!(click(&mut auth, "Create account").is_empty());
        auth.update(Message::Password(String::new()));
        type_into(&mut auth, PASSWORD, "lovelace-42");
        assert!(shows(&auth, "✗ Don't use your name or email address."));
        auth.update(Message::Password(String::new()));
        type_into(&mut auth, PASSWORD, "correct horse battery staple");
        assert!(shows(&auth, "✓ This password meets the rules."));
        let events = click(&mut auth, "Create account");
        assert_eq!(
            events,
            [Event::SignUp {
                server: "http://127.0.0.1:1".into(),
                email: "lovelace@example.org".into(),
                name: "Ada".into(),
                password: Zeroizing::new("correct horse battery staple".into()),
            }]
        );
        // Busy until the app reports back: a second click sends nothing.
        assert!(click(&mut auth, "Create account").is_empty());
        auth.on_error("email_taken".into());
        assert!(shows(&auth, "email_taken"));
    }

    #[test]
    fn sign_in_asks_for_the_authenticator_code_when_the_server_wants_it() {
        let mut auth = Auth::new("http://127.0.0.1:1".into(), "ada@example.org".into());
        // The remembered email is filled in.
        assert!(shows(&auth, "ada@example.org"));
        type_into(&mut auth, PASSWORD, "hunter22");
        let events = click(&mut auth, "Sign in");
        assert!(matches!(
            events.as_slice(),
            [Event::SignIn { totp: None, email, .. }] if email == "ada@example.org"
        ));
        auth.on_totp_required();
        assert_eq!(auth.step(), Step::Totp);
        // Only digits, at most six.
        type_into(&mut auth, CODE, "12a34567");
        assert!(shows(&auth, "123456"));
        let events = click(&mut auth, "Continue");
        assert!(matches!(
            events.as_slice(),
            [Event::SignIn { totp: Some(code), password, .. }]
                if code == "123456" && password.as_str() == "hunter22"
        ));
    }

    #[test]
    fn the_recovery_code_is_shown_once_and_must_be_acknowledged() {
        let mut auth = Auth::new("http://127.0.0.1:1".into(), String::new());
        auth.update(Message::Show(Step::SignUp));
        auth.on_signed_up(Zeroizing::new("ABCD-EFGH-IJKL-MNOP".into()));
        assert_eq!(auth.step(), Step::VerifyEmail);
        assert!(
            !shows(&auth, "ABCD-EFGH-IJKL-MNOP"),
            "not before the email is verified"
        );
        type_into(&mut auth, CODE, "654321");
        assert_eq!(
            click(&mut auth, "Verify"),
            [Event::VerifyEmail {
                code: "654321".into()
            }]
        );
        auth.on_verified();
        assert_eq!(auth.step(), Step::Recovery);
        assert!(shows(&auth, "ABCD-EFGH-IJKL-MNOP"));
        // Continue does nothing until the user says the code is stored.
        assert!(click(&mut auth, "Continue").is_empty());
        click(&mut auth, "I have stored my recovery code");
        assert!(matches!(
            click(&mut auth, "Continue").as_slice(),
            [Event::RecoveryStored { .. }]
        ));
        assert!(!shows(&auth, "ABCD-EFGH-IJKL-MNOP"), "shown only once");
    }
}
