//! Settings: the account (who, where), the password change with live rules, two-factor sign-in
//! (enrolment with a QR code and the secret for manual entry, confirmation, turning it off),
//! the devices signed in (revoke any other), and deleting the account.

use assent_shared::api::SessionInfo;
use assent_shared::password::{self, Rule};
use iced::widget::{
    button, checkbox, column, container, qr_code, row, rule, scrollable, space, text, text_input,
};
use iced::{Center, Element, Fill};
use jiff::tz::TimeZone;
use zeroize::Zeroizing;

use super::{theme, time};

/// The voice processing switch.
pub const VOICE_PROCESSING: &str =
    "Cancel echo and noise on my microphone (others do not hear themselves through your speakers)";

/// The gain control switch.
pub const GAIN_CONTROL: &str = "Raise my microphone's level automatically (for a headset: with \
    speakers, others hear more of themselves)";

/// The current-password field's id (focused when the screen opens).
pub const CURRENT: &str = "settings-current-password";

/// What the server says about the account (`GET /v1/me` and `GET /v1/sessions`).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub totp_enabled: bool,
    pub sessions: Vec<SessionInfo>,
    /// Sounds in calls (someone came or left, a request to record).
    pub sounds: bool,
    /// Echo cancellation and noise suppression on the microphone.
    pub voice_processing: bool,
    /// Automatic gain control on the microphone (off unless turned on).
    pub gain_control: bool,
}

/// A started TOTP enrolment: shown as a QR code and as text.
#[derive(Debug)]
struct Enrolment {
    secret: Zeroizing<String>,
    qr: Option<qr_code::Data>,
}

/// Which part of the screen an answer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Calls,
    Password,
    TwoFactor,
    Sessions,
    Delete,
}

#[derive(Debug, Clone)]
pub enum Message {
    Current(String),
    New(String),
    Repeat(String),
    ChangePassword,
    StartTotp,
    TotpCode(String),
    ConfirmTotp,
    CancelTotp,
    DisableTotp,
    Revoke(String),
    DeletePassword(String),
    DeleteUnderstood(bool),
    DeleteAccount,
    Sounds(bool),
    VoiceProcessing(bool),
    GainControl(bool),
    Back,
    // The answers to what the app asked for.
    /// What the server says about the account (or why it could not be asked).
    Loaded(Result<Loaded, String>),
    /// A section's request finished (what the screen shows is then loaded again).
    Done(Section, Result<String, String>),
    /// Two-factor enrolment started: the secret and its `otpauth://` URI.
    Enrolled(Result<(Zeroizing<String>, String), String>),
    /// The account was deleted (or why not).
    Deleted(Result<(), String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    ChangePassword {
        current: Zeroizing<String>,
        new: Zeroizing<String>,
    },
    EnrolTotp,
    ConfirmTotp(String),
    DisableTotp(String),
    Revoke(String),
    DeleteAccount(Zeroizing<String>),
    /// Sounds in calls on or off (this device).
    Sounds(bool),
    /// Echo cancellation and noise suppression on or off (this device).
    VoiceProcessing(bool),
    /// Automatic gain control on or off (this device).
    GainControl(bool),
    Back,
    /// Load what the screen shows again.
    Reload,
    /// The account is gone: back to the start.
    Deleted,
}

#[derive(Debug)]
pub struct Settings {
    name: String,
    email: String,
    server: String,
    loaded: Option<Loaded>,
    current: Zeroizing<String>,
    new: Zeroizing<String>,
    repeat: Zeroizing<String>,
    enrolment: Option<Enrolment>,
    code: String,
    delete_password: Zeroizing<String>,
    delete_understood: bool,
    /// The section waiting for the engine, if any.
    busy: Option<Section>,
    /// The last answer: which section, and whether it is an error.
    notice: Option<(Section, String, bool)>,
    tz: TimeZone,
}

impl Settings {
    pub fn new(name: String, email: String, server: String, tz: TimeZone) -> Settings {
        Settings {
            name,
            email,
            server,
            loaded: None,
            current: Zeroizing::default(),
            new: Zeroizing::default(),
            repeat: Zeroizing::default(),
            enrolment: None,
            code: String::new(),
            delete_password: Zeroizing::default(),
            delete_understood: false,
            busy: None,
            notice: None,
            tz,
        }
    }

    fn on_loaded(&mut self, loaded: Loaded) {
        self.loaded = Some(loaded);
    }

    /// The server's answer to a section's request.
    fn on_done(&mut self, section: Section, result: Result<String, String>) {
        self.busy = None;
        match result {
            Ok(notice) => {
                match section {
                    Section::Password => {
                        self.current = Zeroizing::default();
                        self.new = Zeroizing::default();
                        self.repeat = Zeroizing::default();
                    }
                    Section::TwoFactor => {
                        self.enrolment = None;
                        self.code.clear();
                    }
                    Section::Delete => self.delete_password = Zeroizing::default(),
                    Section::Sessions | Section::Calls => {}
                }
                self.notice = Some((section, notice, false));
            }
            Err(e) => self.notice = Some((section, e, true)),
        }
    }

    /// Enrolment started: the secret and its `otpauth://` URI.
    fn on_enrolment(&mut self, secret: Zeroizing<String>, uri: &str) {
        self.busy = None;
        self.enrolment = Some(Enrolment {
            secret,
            qr: qr_code::Data::new(uri).ok(),
        });
        self.code.clear();
    }

    /// Whether two-factor sign-in is on (once loaded).
    pub fn totp_enabled(&self) -> Option<bool> {
        self.loaded.as_ref().map(|l| l.totp_enabled)
    }

    /// What the new password still breaks, the repetition included.
    pub fn broken_rules(&self) -> Vec<String> {
        let mut out: Vec<String> = password::check(&self.new, &[&self.email, &self.name])
            .into_iter()
            .map(|r: Rule| r.message().to_string())
            .collect();
        if !self.repeat.is_empty() && *self.repeat != *self.new {
            out.push("The two new passwords differ.".into());
        }
        out
    }

    fn can_change_password(&self) -> bool {
        self.busy.is_none()
            && !self.current.is_empty()
            && !self.new.is_empty()
            && *self.repeat == *self.new
            && self.broken_rules().is_empty()
    }

    fn code_ok(&self) -> bool {
        let c = self.code.trim();
        c.len() == 6 && c.chars().all(|ch| ch.is_ascii_digit())
    }

    pub fn update(&mut self, message: Message) -> Option<Event> {
        match message {
            Message::Current(s) => self.current = Zeroizing::new(s),
            Message::New(s) => self.new = Zeroizing::new(s),
            Message::Repeat(s) => self.repeat = Zeroizing::new(s),
            Message::ChangePassword => {
                if !self.can_change_password() {
                    return None;
                }
                self.busy = Some(Section::Password);
                self.notice = None;
                return Some(Event::ChangePassword {
                    current: self.current.clone(),
                    new: self.new.clone(),
                });
            }
            Message::StartTotp
            | Message::TotpCode(_)
            | Message::ConfirmTotp
            | Message::CancelTotp
            | Message::DisableTotp => return self.two_factor(message),
            Message::Revoke(id) => {
                let other = self
                    .loaded
                    .as_ref()
                    .is_some_and(|l| l.sessions.iter().any(|s| s.id == id && !s.current));
                if self.busy.is_some() || !other {
                    return None;
                }
                self.busy = Some(Section::Sessions);
                return Some(Event::Revoke(id));
            }
            Message::DeletePassword(s) => self.delete_password = Zeroizing::new(s),
            Message::DeleteUnderstood(b) => self.delete_understood = b,
            Message::Sounds(on) => {
                if let Some(l) = &mut self.loaded {
                    l.sounds = on;
                }
                return Some(Event::Sounds(on));
            }
            Message::VoiceProcessing(on) => {
                if let Some(l) = &mut self.loaded {
                    l.voice_processing = on;
                }
                return Some(Event::VoiceProcessing(on));
            }
            Message::GainControl(on) => {
                if let Some(l) = &mut self.loaded {
                    l.gain_control = on;
                }
                return Some(Event::GainControl(on));
            }
            Message::DeleteAccount => {
                if self.busy.is_some() || !self.delete_understood || self.delete_password.is_empty()
                {
                    return None;
                }
                self.busy = Some(Section::Delete);
                return Some(Event::DeleteAccount(self.delete_password.clone()));
            }
            Message::Back => return Some(Event::Back),
            Message::Loaded(Ok(loaded)) => self.on_loaded(loaded),
            Message::Loaded(Err(e)) => self.on_done(Section::Sessions, Err(e)),
            Message::Done(section, result) => {
                self.on_done(section, result);
                return Some(Event::Reload);
            }
            Message::Enrolled(Ok((secret, uri))) => self.on_enrolment(secret, &uri),
            Message::Enrolled(Err(e)) => self.on_done(Section::TwoFactor, Err(e)),
            Message::Deleted(Ok(())) => return Some(Event::Deleted),
            Message::Deleted(Err(e)) => self.on_done(Section::Delete, Err(e)),
        }
        None
    }

    /// Two-factor sign-in: enrol (a secret, then a code from the app to confirm it), or turn it
    /// off with a current code.
    fn two_factor(&mut self, message: Message) -> Option<Event> {
        let busy = self.busy.is_some();
        match message {
            Message::StartTotp if !busy => {
                self.notice = None;
                self.busy = Some(Section::TwoFactor);
                Some(Event::EnrolTotp)
            }
            Message::TotpCode(s) => {
                self.code = s.chars().filter(|c| !c.is_whitespace()).take(6).collect();
                None
            }
            Message::ConfirmTotp if !busy && self.enrolment.is_some() && self.code_ok() => {
                self.busy = Some(Section::TwoFactor);
                Some(Event::ConfirmTotp(self.code.clone()))
            }
            Message::CancelTotp => {
                self.enrolment = None;
                self.code.clear();
                None
            }
            Message::DisableTotp
                if !busy && self.code_ok() && self.totp_enabled() == Some(true) =>
            {
                self.busy = Some(Section::TwoFactor);
                Some(Event::DisableTotp(self.code.clone()))
            }
            _ => None,
        }
    }

    pub fn view(&self) -> Element<'_, Message> {
        let header = row![
            button(text("← Home"))
                .style(theme::button::secondary)
                .on_press(Message::Back),
            text("Settings").size(theme::size::HEADING),
        ]
        .spacing(16)
        .align_y(Center);
        let account = section(
            "Account",
            column![
                text(format!("{} <{}>", self.name, self.email)),
                text(format!("Server: {}", self.server))
                    .size(13)
                    .style(theme::muted),
            ]
            .spacing(4),
        );
        let body = column![
            header,
            account,
            section("Password", self.password_view()),
            section("Two-factor sign-in", self.totp_view()),
            section("Signed-in devices", self.sessions_view()),
            section("Calls on this device", self.calls_view()),
            section("Delete the account", self.delete_view()),
        ]
        .spacing(16)
        .width(720);
        container(scrollable(container(body).center_x(Fill).padding(24)))
            .height(Fill)
            .into()
    }

    fn notice(&self, of: Section) -> Option<Element<'_, Message>> {
        let (section, message, error) = self.notice.as_ref()?;
        (*section == of).then(|| {
            text(message.as_str())
                .size(13)
                .style(if *error { text::danger } else { text::success })
                .into()
        })
    }

    fn calls_view(&self) -> Element<'_, Message> {
        let on = self.loaded.as_ref().is_none_or(|l| l.sounds);
        let voice = self.loaded.as_ref().is_none_or(|l| l.voice_processing);
        let gain = self.loaded.as_ref().is_some_and(|l| l.gain_control);
        let mut c = column![
            checkbox(on)
                .label("Play sounds in calls (someone joins or leaves, a request to record)")
                .on_toggle(Message::Sounds),
            checkbox(voice)
                .label(VOICE_PROCESSING)
                .on_toggle(Message::VoiceProcessing),
            // Part of the processing: it has no effect without it.
            checkbox(gain)
                .label(GAIN_CONTROL)
                .on_toggle_maybe(voice.then_some(Message::GainControl)),
        ]
        .spacing(8);
        if let Some(n) = self.notice(Section::Calls) {
            c = c.push(n);
        }
        c.into()
    }

    fn password_view(&self) -> Element<'_, Message> {
        let mut c = column![
            text(
                "Your keys and your recovery code stay the same; your other devices are signed out."
            )
            .size(13)
            .style(theme::muted),
            text_input("Current password", &self.current)
                .id(CURRENT)
                .secure(true)
                .on_input(Message::Current)
                .padding(8),
            text_input("New password", &self.new)
                .secure(true)
                .on_input(Message::New)
                .padding(8),
            text_input("New password again", &self.repeat)
                .secure(true)
                .on_input(Message::Repeat)
                .on_submit(Message::ChangePassword)
                .padding(8),
        ]
        .spacing(8);
        if !self.new.is_empty() {
            let broken = self.broken_rules();
            if broken.is_empty() && *self.repeat == *self.new {
                c = c.push(
                    text("✓ The new password meets the rules.")
                        .size(13)
                        .style(text::success),
                );
            }
            for b in broken {
                c = c.push(text(format!("✗ {b}")).size(13).style(text::danger));
            }
        }
        if let Some(n) = self.notice(Section::Password) {
            c = c.push(n);
        }
        c = c.push(row![
            space::horizontal(),
            button(text(if self.busy == Some(Section::Password) {
                "Changing…"
            } else {
                "Change password"
            }))
            .on_press_maybe(
                self.can_change_password()
                    .then_some(Message::ChangePassword)
            ),
        ]);
        c.into()
    }

    fn totp_view(&self) -> Element<'_, Message> {
        let idle = self.busy.is_none();
        let code_input = || {
            text_input("6-digit code", &self.code)
                .on_input(Message::TotpCode)
                .width(160)
                .padding(8)
        };
        let mut c = column![].spacing(8);
        match (self.totp_enabled(), &self.enrolment) {
            (None, _) => c = c.push(text("Loading…").style(theme::muted)),
            (Some(_), Some(e)) => {
                c = c.push(text(
                    "Scan this with your authenticator app (or type the secret), then enter the \
                     code it shows.",
                ));
                let mut pair = row![].spacing(16).align_y(Center);
                if let Some(qr) = &e.qr {
                    pair = pair.push(qr_code(qr).cell_size(4));
                }
                pair = pair.push(
                    column![
                        text("Secret").size(13).style(theme::muted),
                        text(e.secret.as_str()).font(iced::Font::MONOSPACE),
                    ]
                    .spacing(4),
                );
                c = c.push(pair);
                c = c.push(
                    row![
                        code_input().on_submit(Message::ConfirmTotp),
                        button(text("Turn on")).on_press_maybe(
                            (idle && self.code_ok()).then_some(Message::ConfirmTotp)
                        ),
                        button(text("Cancel"))
                            .style(theme::button::secondary)
                            .on_press(Message::CancelTotp),
                    ]
                    .spacing(8)
                    .align_y(Center),
                );
            }
            (Some(true), None) => {
                c = c.push(text(
                    "On: signing in needs a code from your authenticator app.",
                ));
                c = c.push(
                    row![
                        code_input().on_submit(Message::DisableTotp),
                        button(text("Turn off"))
                            .style(theme::button::danger)
                            .on_press_maybe(
                                (idle && self.code_ok()).then_some(Message::DisableTotp)
                            ),
                    ]
                    .spacing(8)
                    .align_y(Center),
                );
            }
            (Some(false), None) => {
                c = c.push(text(
                    "Off. With it on, a stolen password alone does not get into your account.",
                ));
                c = c.push(
                    button(text("Set up two-factor sign-in"))
                        .on_press_maybe(idle.then_some(Message::StartTotp)),
                );
            }
        }
        if let Some(n) = self.notice(Section::TwoFactor) {
            c = c.push(n);
        }
        c.into()
    }

    fn sessions_view(&self) -> Element<'_, Message> {
        let mut c = column![].spacing(6);
        let Some(loaded) = &self.loaded else {
            return text("Loading…").style(theme::muted).into();
        };
        for s in &loaded.sessions {
            let when = format!(
                "signed in {} · last used {}",
                time::when(s.created_at, &self.tz),
                time::when(s.last_used_at, &self.tz)
            );
            let mut line = row![
                column![
                    text(if s.current {
                        format!("{} (this device)", s.device)
                    } else {
                        s.device.clone()
                    }),
                    text(when).size(13).style(theme::muted),
                ]
                .spacing(2),
                space::horizontal(),
            ]
            .align_y(Center);
            if !s.current {
                line = line.push(
                    button(text("Sign out"))
                        .style(theme::button::secondary)
                        .on_press_maybe(self.busy.is_none().then(|| Message::Revoke(s.id.clone()))),
                );
            }
            c = c.push(line);
        }
        if let Some(n) = self.notice(Section::Sessions) {
            c = c.push(n);
        }
        c.into()
    }

    fn delete_view(&self) -> Element<'_, Message> {
        let mut c = column![
            text(
                "Your account, your meetings and the cloud copies of recordings you made are \
                 deleted from the server. Recordings on this device, and the keys that open them, \
                 stay here."
            )
            .size(13),
            text_input("Password", &self.delete_password)
                .secure(true)
                .on_input(Message::DeletePassword)
                .padding(8),
            checkbox(self.delete_understood)
                .label("I understand this cannot be undone")
                .on_toggle(Message::DeleteUnderstood),
        ]
        .spacing(8);
        if let Some(n) = self.notice(Section::Delete) {
            c = c.push(n);
        }
        let ready =
            self.busy.is_none() && self.delete_understood && !self.delete_password.is_empty();
        c = c.push(row![
            space::horizontal(),
            button(text("Delete my account"))
                .style(theme::button::danger)
                .on_press_maybe(ready.then_some(Message::DeleteAccount)),
        ]);
        c.into()
    }
}

fn section<'a>(title: &'a str, content: impl Into<Element<'a, Message>>) -> Element<'a, Message> {
    theme::card(column![text(title).size(18), rule::horizontal(1), content.into()].spacing(8))
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
