//! Recording consent in the room: the proposal's dialog, the indicator everyone sees, and
//! what the consent machine reports.

use assent_engine::ConsentEvent;
use assent_shared::consent::{Scope, StatusKind};
use iced::widget::{button, column, container, row, space, text};
use iced::{Center, Element, Fill};

use super::super::style;
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
            container(
                column![
                    text(format!("{} asks to record “{}”", a.proposer, a.title)).size(18),
                    text(format!(
                        "It would be {kept}, for {} days, and only the people in this call could \
                         decrypt it. It starts only when everyone has signed; you can withdraw \
                         at any time.",
                        a.retention_days
                    ))
                    .size(13),
                    text(who).size(13).style(style::muted),
                    super::super::trust::recipients(&a.recipients, &a.joined),
                    row![
                        text("Alt+A agrees, Alt+D declines.")
                            .size(13)
                            .style(style::muted),
                        space::horizontal(),
                        button(text("Decline"))
                            .style(button::secondary)
                            .padding([8, 16])
                            .on_press(Message::Decline),
                        button(text("Agree"))
                            .padding([8, 16])
                            .on_press(Message::Agree),
                    ]
                    .spacing(8),
                ]
                .spacing(8),
            )
            .padding(12)
            .width(Fill)
            .style(container::bordered_box)
            .into(),
        )
    }

    /// The recording indicator everyone sees while a recording is on or being agreed.
    pub(super) fn indicator(&self) -> Option<Element<'_, Message>> {
        let r = self.recording.as_ref()?;
        let (label, detail) = match r.state {
            StatusKind::Recording => (
                format!("● Recording “{}”", r.title),
                format!("agreed: {}", r.agreed.join(", ")),
            ),
            StatusKind::Paused => (
                format!("❚❚ Recording paused “{}”", r.title),
                format!("waiting for: {}", r.waiting_for.join(", ")),
            ),
            StatusKind::Collecting => (
                format!("Asking to record “{}”", r.title),
                format!("waiting for: {}", r.waiting_for.join(", ")),
            ),
            StatusKind::Idle => return None,
        };
        let mut line = row![
            text(label).style(iced::widget::text::danger),
            text(detail).size(13).style(style::muted),
            space::horizontal(),
        ]
        .spacing(12)
        .align_y(Center);
        // Withdrawing is for those who agreed: while we are still asked, the dialog's Decline
        // is the answer.
        if self.ask.is_none() {
            line = line.push(
                button(text("Withdraw consent"))
                    .style(button::danger)
                    .on_press(Message::Withdraw),
            );
        }
        Some(line.into())
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
