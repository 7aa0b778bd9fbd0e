//! Sign in and sign up: server, email, password (with the password rules checked as you type),
//! the email code, the TOTP step, and the recovery code shown once after sign-up.
//!
//! A pure component: `update` changes the form and reports what the user asked for as an
//! [`Event`]; the app does the IO and hands the answers back as messages of this screen.

use assent_shared::password::{self, Rule};
use iced::widget::{
    Column, Id, TextInput, button, checkbox, column, container, row, rule, space, text, text_input,
};
use iced::{Center, Element, Fill};
use zeroize::Zeroizing;

use super::io::SignInError;
use super::theme;
use assent_engine::Account;

pub const SERVER: Id = Id::new("auth-server");
pub const EMAIL: Id = Id::new("auth-email");
pub const NAME: Id = Id::new("auth-name");
pub const PASSWORD: Id = Id::new("auth-password");
pub const CODE: Id = Id::new("auth-code");
pub const RECOVERY_CODE: Id = Id::new("auth-recovery-code");
pub const TOTP: Id = Id::new("auth-totp");

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
    /// Forgot password: the address to mail a recovery code to.
    Forgot,
    /// Forgot password: the mailed code, the recovery code (and the authenticator's code),
    /// and the new password.
    Reset,
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
    RecoveryCode(String),
    Totp(String),
    // The answers to what the app asked for.
    SignedIn(Result<Account, SignInError>),
    /// The account exists: its recovery code, to show once.
    SignedUp(Result<Zeroizing<String>, String>),
    Verified(Result<(), String>),
    /// The recovery mail was asked for.
    RecoverySent(Result<(), String>),
    CodeSent(Result<(), String>),
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
    /// Mail a recovery code.
    StartRecovery {
        server: String,
        email: String,
    },
    /// Set a new password with the mailed code and the recovery code.
    Recover {
        server: String,
        email: String,
        email_code: String,
        recovery_code: Zeroizing<String>,
        totp: Option<String>,
        password: Zeroizing<String>,
    },
    /// The recovery code is stored: sign in with the new account.
    RecoveryStored {
        server: String,
        email: String,
        password: Zeroizing<String>,
    },
    /// Signed in: on to the account.
    SignedIn(Account),
    /// This field takes the keyboard (a new step, or the one the server asks for).
    Focus(Id),
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
    /// What the user types on the reset step.
    recovery_code: Zeroizing<String>,
    totp: String,
    busy: bool,
    error: Option<String>,
    notice: Option<String>,
}

/// A field of the form: Enter submits it.
fn input<'a>(
    placeholder: &'a str,
    id: Id,
    value: &'a str,
    on: fn(String) -> Message,
) -> TextInput<'a, Message> {
    text_input(placeholder, value)
        .id(id)
        .on_input(on)
        .on_submit(Message::Submit)
        .padding(8)
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
            recovery_code: Zeroizing::new(String::new()),
            totp: String::new(),
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
            Step::SignIn | Step::SignUp | Step::Forgot if empty(&self.server) => SERVER,
            Step::SignIn | Step::SignUp | Step::Forgot if empty(&self.email) => EMAIL,
            Step::SignUp if empty(&self.name) => NAME,
            Step::SignIn | Step::SignUp => PASSWORD,
            Step::Forgot => EMAIL,
            Step::Reset if empty(&self.code) => CODE,
            Step::Reset if empty(&self.recovery_code) => RECOVERY_CODE,
            Step::Reset => PASSWORD,
            Step::VerifyEmail | Step::Totp | Step::Recovery => CODE,
        }
    }

    pub fn stored_recovery(&self) -> bool {
        self.stored_recovery
    }

    /// The password rules the current password breaks (sign-up and a new password).
    pub fn broken_rules(&self) -> Vec<Rule> {
        password::check(&self.password, &[&self.email, &self.name])
    }

    fn code_ok(code: &str) -> bool {
        let c = code.trim();
        c.len() == 6 && c.chars().all(|d| d.is_ascii_digit())
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
            Step::VerifyEmail | Step::Totp => Self::code_ok(&self.code),
            Step::Recovery => self.stored_recovery,
            Step::Forgot => filled(&self.server) && self.email.contains('@'),
            Step::Reset => {
                Self::code_ok(&self.code)
                    && filled(&self.recovery_code)
                    && (self.totp.is_empty() || Self::code_ok(&self.totp))
                    && self.broken_rules().is_empty()
            }
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
            Message::RecoveryCode(s) => self.recovery_code = Zeroizing::new(s),
            Message::Totp(s) => {
                self.totp = s.chars().filter(char::is_ascii_digit).take(6).collect()
            }
            Message::Show(step) => {
                if step == Step::Forgot || step == Step::Reset {
                    // A new password is typed fresh; the codes too.
                    self.password = Zeroizing::new(String::new());
                    self.code.clear();
                    self.recovery_code = Zeroizing::new(String::new());
                    self.totp.clear();
                }
                self.step = step;
                self.error = None;
                self.notice = None;
                // Another step: its first empty field has the keyboard.
                return Some(Event::Focus(self.first_empty()));
            }
            Message::ResendCode => {
                self.notice = None;
                return Some(Event::ResendCode);
            }
            Message::Submit => return self.submit_event(),
            answer => return self.on_answer(answer),
        }
        None
    }

    /// Submit: what this step asks the app for, if the form is ready.
    fn submit_event(&mut self) -> Option<Event> {
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
            Step::Forgot => Event::StartRecovery { server, email },
            Step::Reset => Event::Recover {
                server,
                email,
                email_code: self.code.clone(),
                recovery_code: self.recovery_code.clone(),
                totp: (!self.totp.is_empty()).then(|| self.totp.clone()),
                password: self.password.clone(),
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
        Some(event)
    }

    /// The answer to a request: the form moves on, or says why not.
    fn on_answer(&mut self, answer: Message) -> Option<Event> {
        match answer {
            Message::SignedIn(Ok(account)) => return Some(Event::SignedIn(account)),
            Message::SignedIn(Err(SignInError::TotpRequired)) => {
                return Some(Event::Focus(self.on_totp_required()));
            }
            Message::SignedIn(Err(SignInError::Other(e)))
            | Message::SignedUp(Err(e))
            | Message::Verified(Err(e))
            | Message::RecoverySent(Err(e))
            | Message::CodeSent(Err(e)) => self.on_error(e),
            Message::SignedUp(Ok(recovery)) => {
                self.on_signed_up(recovery);
                return Some(Event::Focus(CODE));
            }
            Message::Verified(Ok(())) => self.on_verified(),
            Message::RecoverySent(Ok(())) => {
                self.on_recovery_sent();
                return Some(Event::Focus(self.first_empty()));
            }
            Message::CodeSent(Ok(())) => self.on_code_sent(),
            _ => {}
        }
        None
    }

    /// The request failed: say why and let the user correct the form.
    fn on_error(&mut self, error: String) {
        self.busy = false;
        self.error = Some(error);
    }

    /// The server wants the authenticator's code; the field that takes it has the keyboard.
    fn on_totp_required(&mut self) -> Id {
        self.busy = false;
        if self.step == Step::Reset {
            self.totp.clear();
            self.error = Some(
                "This account has two-factor sign-in: enter the code from your authenticator \
                 app too."
                    .into(),
            );
            return TOTP;
        }
        self.code.clear();
        self.step = Step::Totp;
        CODE
    }

    /// The recovery mail is on its way (if the address has an account): the reset step.
    fn on_recovery_sent(&mut self) {
        self.busy = false;
        self.step = Step::Reset;
        self.error = None;
        self.notice = Some(format!(
            "If {} has an account, a recovery code is on its way to it.",
            self.email.trim()
        ));
    }

    /// The account exists; the emailed code comes next. The recovery code is kept until shown.
    fn on_signed_up(&mut self, recovery: Zeroizing<String>) {
        self.busy = false;
        self.recovery = Some(recovery);
        self.code.clear();
        self.step = Step::VerifyEmail;
    }

    fn on_code_sent(&mut self) {
        self.notice = Some(format!(
            "A new code is on its way to {}.",
            self.email.trim()
        ));
    }

    /// The email is verified: show the recovery code (once).
    fn on_verified(&mut self) {
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
            Step::Forgot => "Forgot your password?",
            Step::Reset => "Choose a new password",
        };
        let form = column![text(title).size(theme::size::HEADING)]
            .spacing(12)
            .width(420);
        let mut form = match self.step {
            Step::SignIn | Step::SignUp => self.credentials(form),
            Step::VerifyEmail | Step::Totp => self.code_step(form),
            Step::Forgot => self.forgot(form),
            Step::Reset => self.reset(form),
            Step::Recovery => self.recovery(form),
        };
        if let Some(notice) = &self.notice {
            form = form.push(text(notice.as_str()).style(text::success));
        }
        if let Some(error) = &self.error {
            form = form.push(text(error.as_str()).style(text::danger));
        }
        if self.busy {
            form = form.push(text("Working…").style(theme::muted));
        }
        container(form).center(Fill).padding(24).into()
    }

    /// Sign in or sign up: server, email (name), password; the other way, and the keys.
    fn credentials<'a>(&'a self, mut form: Column<'a, Message>) -> Column<'a, Message> {
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
        form = form
            .push(text("Password").size(14))
            .push(input("Password", PASSWORD, &self.password, Message::Password).secure(true));
        if self.step == Step::SignUp {
            form = form.push(self.rules());
        }
        let (action, other, other_label) = if self.step == Step::SignIn {
            ("Sign in", Step::SignUp, "Create an account")
        } else {
            ("Create account", Step::SignIn, "I have an account")
        };
        let mut actions = row![
            button(text(other_label))
                .style(theme::button::quiet)
                .on_press(Message::Show(other)),
        ]
        .align_y(Center);
        if self.step == Step::SignIn {
            actions = actions.push(
                button(text("Forgot password?"))
                    .style(theme::button::quiet)
                    .on_press(Message::Show(Step::Forgot)),
            );
        }
        form = form
            .push(actions.push(space::horizontal()).push(self.submit(action)))
            .push(
                text(if self.step == Step::SignIn {
                    "Tab: next field · Ctrl+N: new account · Ctrl+R: forgot password · \
                     F2: light/dark"
                } else {
                    "Tab: next field · Ctrl+N: sign in instead · F2: light/dark"
                })
                .size(13)
                .style(theme::muted),
            );
        form
    }

    /// A 6-digit code: mailed, or from the authenticator.
    fn code_step<'a>(&'a self, mut form: Column<'a, Message>) -> Column<'a, Message> {
        let hint = if self.step == Step::VerifyEmail {
            format!("Enter the 6-digit code we sent to {}.", self.email.trim())
        } else {
            "Enter the 6-digit code from your authenticator app.".to_string()
        };
        form = form
            .push(text(hint))
            .push(input("123456", CODE, &self.code, Message::Code));
        form.push(if self.step == Step::VerifyEmail {
            self.actions("Send a new code", Message::ResendCode, "Verify")
        } else {
            self.actions("Back", Message::Show(Step::SignIn), "Continue")
        })
    }

    /// Forgot the password: where to mail the recovery code.
    fn forgot<'a>(&'a self, mut form: Column<'a, Message>) -> Column<'a, Message> {
        form = form
            .push(text(
                "With the code we mail you and the recovery code you stored when you \
                 created the account, you choose a new password and keep your keys and \
                 recordings.",
            ))
            .push(text("Server").size(14))
            .push(input(
                "https://assent.example.org",
                SERVER,
                &self.server,
                Message::Server,
            ))
            .push(text("Email").size(14))
            .push(input("you@example.org", EMAIL, &self.email, Message::Email))
            .push(self.actions("Back", Message::Show(Step::SignIn), "Send recovery code"))
            .push(
                text("Enter sends · Escape: back")
                    .size(13)
                    .style(theme::muted),
            );
        form
    }

    /// The mailed code, the recovery code (and the authenticator's), the new password.
    fn reset<'a>(&'a self, mut form: Column<'a, Message>) -> Column<'a, Message> {
        form = form
            .push(text("Code from the email").size(14))
            .push(input("123456", CODE, &self.code, Message::Code))
            .push(text("Recovery code").size(14))
            .push(
                input(
                    "XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX",
                    RECOVERY_CODE,
                    &self.recovery_code,
                    Message::RecoveryCode,
                )
                .secure(true),
            )
            .push(text("Authenticator code (only with two-factor sign-in)").size(14))
            .push(input("123456", TOTP, &self.totp, Message::Totp))
            .push(text("New password").size(14))
            .push(input("New password", PASSWORD, &self.password, Message::Password).secure(true))
            .push(self.rules())
            .push(self.actions(
                "Send a new code",
                Message::Show(Step::Forgot),
                "Set password",
            ))
            .push(
                text("Tab: next field · Enter: set the password · Escape: sign in")
                    .size(13)
                    .style(theme::muted),
            );
        form
    }

    /// The recovery code, shown once, to store before going on.
    fn recovery<'a>(&'a self, mut form: Column<'a, Message>) -> Column<'a, Message> {
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
                    .style(theme::muted),
            );
        form
    }

    /// A step's actions: another way on the left (`other`, sending `to`), submit on the right.
    fn actions<'a>(&self, other: &'a str, to: Message, action: &'a str) -> Element<'a, Message> {
        row![
            button(text(other)).style(theme::button::quiet).on_press(to),
            space::horizontal(),
            self.submit(action),
        ]
        .align_y(Center)
        .into()
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
                "{} to {} characters; not a common or easily guessed password; not your name or \
                 email.",
                password::MIN_CHARS,
                password::MAX_CHARS
            ))
            .size(13)
            .style(theme::muted)
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
mod tests;
