//! Recording consent in the room: the proposal's dialog (a modal), the recording pill
//! everyone sees at the top with the elapsed time and who agreed, and what the consent machine
//! reports.

use assent_engine::ConsentEvent;
use assent_shared::consent::{Scope, StatusKind};
use iced::widget::{button, column, container, row, space, text};
use iced::{Center, Element};

use super::super::theme::{self, Icon, icon, size, space as gap, stage, surface};
use super::tiles::with_tip;
use super::{Ask, Event, Message, Recording, Room};

impl Room {
    pub(super) fn on_consent(&mut self, c: ConsentEvent) {
        match c {
            ConsentEvent::Asked {
                title,
                proposer,
                scope,
                retention_days,
                recipients,
                joined,
                ..
            } => {
                self.toast(format!("{proposer} asks everyone to agree to a recording"));
                self.ask = Some(Ask {
                    title,
                    proposer,
                    scope,
                    retention_days,
                    recipients,
                    joined,
                })
            }
            ConsentEvent::Status {
                state,
                title,
                agreed,
                waiting_for,
            } => {
                // A new proposal or recording: the note about the last one has had its day.
                if state != StatusKind::Idle
                    && self
                        .notice
                        .as_deref()
                        .is_some_and(|n| n.starts_with("Recording stopped"))
                {
                    self.notice = None;
                }
                match state {
                    StatusKind::Recording => {
                        self.recording_since.get_or_insert(self.now);
                    }
                    StatusKind::Idle => self.recording_since = None,
                    StatusKind::Paused | StatusKind::Collecting => {}
                }
                if state == StatusKind::Idle {
                    self.show_agreed = false;
                }
                self.recording = (state != StatusKind::Idle).then_some(Recording {
                    state,
                    title,
                    agreed,
                    waiting_for,
                });
            }
            ConsentEvent::Ended { reason } => {
                self.ask = None;
                self.recording = None;
                self.recording_since = None;
                self.show_agreed = false;
                self.notice = Some(format!("Recording stopped: {reason}."));
            }
            ConsentEvent::Refused { error } => {
                self.notice = Some(format!("A consent message was refused: {error}"))
            }
        }
    }

    /// The consent dialog: who proposes what; Agree or Decline.
    pub(super) fn consent_dialog(&self) -> Option<Element<'_, Message>> {
        let a = self.ask.as_ref()?;
        let kept = match a.scope {
            Scope::Local => "kept encrypted on their device only",
            Scope::LocalAndCloud => "kept encrypted on their device and uploaded encrypted",
        };
        let mut who = String::new();
        if let Some(r) = &self.recording
            && !r.agreed.is_empty()
        {
            who = format!("Already agreed: {}.", r.agreed.join(", "));
        }
        Some(
            column![
                row![
                    icon(Icon::Record, 22.0, Some(stage::RED)),
                    text(format!("{} asks to record “{}”", a.proposer, a.title)).size(size::TITLE),
                ]
                .spacing(gap::S)
                .align_y(Center),
                text(format!(
                    "It would be {kept}, for {} days, and only the people in this call could \
                         decrypt it. It starts only when everyone has signed; you can withdraw \
                         at any time.",
                    a.retention_days
                ))
                .size(size::BODY),
                text(who).size(size::SMALL).style(theme::muted),
                super::super::trust::recipients(&a.recipients, &a.joined),
                row![
                    text("Alt+A agrees, Alt+D declines.")
                        .size(size::SMALL)
                        .style(theme::muted),
                    space::horizontal(),
                    button(text("Decline"))
                        .style(theme::button::secondary)
                        .padding([gap::S, gap::L])
                        .on_press(Message::Decline),
                    button(text("Agree"))
                        .style(theme::button::primary)
                        .padding([gap::S, gap::L])
                        .on_press(Message::Agree),
                ]
                .spacing(gap::S)
                .align_y(Center),
            ]
            .spacing(gap::M)
            .into(),
        )
    }

    /// The recording pill at the top, for everyone: red with the elapsed time while
    /// recording, amber while paused or asking (and who is awaited); who agreed on hover, and
    /// on a click below it. Beside it, withdrawing consent for those who agreed.
    pub(super) fn recording_pill(&self) -> Option<Element<'_, Message>> {
        let r = self.recording.as_ref()?;
        let elapsed = self
            .recording_since
            .map(|since| self.now.saturating_duration_since(since).as_secs())
            .unwrap_or(0);
        let (on, label) = match r.state {
            StatusKind::Recording => (
                true,
                format!("Recording {}:{:02}", elapsed / 60, elapsed % 60),
            ),
            StatusKind::Paused => (
                false,
                format!(
                    "Recording paused · waiting for {}",
                    r.waiting_for.join(", ")
                ),
            ),
            StatusKind::Collecting => (
                false,
                format!(
                    "Asking to record · waiting for {}",
                    r.waiting_for.join(", ")
                ),
            ),
            StatusKind::Idle => return None,
        };
        let color = if on {
            iced::Color::WHITE
        } else {
            stage::BACKGROUND
        };
        let pill = button(
            row![
                icon(Icon::Record, 16.0, Some(color)),
                text(label).size(size::SMALL)
            ]
            .spacing(gap::XS)
            .align_y(Center),
        )
        .padding([gap::XS, gap::M])
        .style(move |theme: &iced::Theme, _status| {
            let s = surface::recording(on)(theme);
            iced::widget::button::Style {
                background: s.background,
                text_color: color,
                border: s.border,
                ..Default::default()
            }
        })
        .on_press(Message::ToggleAgreed);
        let agreed = match r.agreed.as_slice() {
            [] => "Nobody has agreed yet".to_string(),
            names => format!("Agreed: {}", names.join(", ")),
        };
        let mut line = row![with_tip(pill.into(), agreed)]
            .spacing(gap::S)
            .align_y(Center);
        // Withdrawing is for those who agreed: while we are still asked, the dialog's Decline
        // is the answer.
        if self.ask.is_none() {
            line = line.push(
                button(text("Withdraw consent").size(size::SMALL))
                    .padding([gap::XS, gap::M])
                    .style(theme::button::control(theme::button::Control::Normal))
                    .on_press(Message::Withdraw),
            );
        }
        Some(line.into())
    }

    /// Who agreed to the recording, and its title, under the pill once it is clicked.
    pub(super) fn agreed_card(&self) -> Option<Element<'_, Message>> {
        let r = self.recording.as_ref().filter(|_| self.show_agreed)?;
        let mut c = column![
            text(format!("“{}”", r.title))
                .size(size::BODY)
                .style(theme::on_stage),
            text(format!("Agreed: {}", r.agreed.join(", ")))
                .size(size::SMALL)
                .style(theme::on_stage_soft),
        ]
        .spacing(gap::XS)
        .align_x(Center);
        if !r.waiting_for.is_empty() {
            c = c.push(
                text(format!("Waiting for: {}", r.waiting_for.join(", ")))
                    .size(size::SMALL)
                    .style(theme::on_stage_soft),
            );
        }
        Some(
            container(container(c).padding([gap::S, gap::L]).style(surface::label))
                .center_x(iced::Fill)
                .into(),
        )
    }

    /// Proposing a recording, answering a proposal, withdrawing consent.
    pub(super) fn on_recording(&mut self, message: Message) -> Option<Event> {
        match message {
            Message::Record => {
                if self.recording.is_some() {
                    return None;
                }
                Some(Event::Record {
                    title: format!("{} recording", self.title),
                })
            }
            Message::Agree => self.ask.take().map(|_| Event::Agree),
            Message::Decline => self.ask.take().map(|_| Event::Decline),
            Message::Withdraw => self.recording.as_ref().map(|_| Event::Withdraw),
            _ => None,
        }
    }
}
