//! The people in the call: arrivals, departures and connections, what is known of their
//! keys (proven, compared, changed), and the panel listing them with the host's controls.

use assent_engine::CallMachineEvent;
use assent_shared::call::MediaState;
use iced::widget::{button, column, row, rule, scrollable, space, text};
use iced::{Element, Fill};

use super::super::theme;
use super::{Event, HostAction, KeyChange, KeyState, Message, Person, Room};

impl Room {
    /// What the call says of someone's key: proven by the directory (and compared or not), or
    /// changed since this device last met them; or the server caught equivocating.
    pub(super) fn on_key(&mut self, e: CallMachineEvent) {
        use CallMachineEvent as E;
        match e {
            E::KeyTrusted {
                peer,
                compared,
                safety_number,
            } => {
                if let Some(p) = self.people.get_mut(&peer) {
                    p.key = KeyState::Proven { compared };
                    let digits: String =
                        safety_number.chars().filter(char::is_ascii_digit).collect();
                    p.qr = iced::widget::qr_code::Data::new(digits).ok();
                    p.safety_number = Some(safety_number);
                    // The consent dialog shows it too.
                    if let Some(a) = self.ask.as_mut() {
                        for r in a.recipients.iter_mut().filter(|r| r.email == p.email) {
                            r.proven = true;
                            r.verified = compared;
                        }
                    }
                }
            }
            E::Equivocation { .. } => {
                self.equivocation = true;
            }
            E::KeyChanged {
                peer,
                email,
                name,
                safety_number,
            } => {
                if let Some(p) = self.people.get_mut(&peer) {
                    p.key = KeyState::Changed;
                }
                self.key_changes.retain(|k| k.peer != peer);
                self.key_changes.push(KeyChange {
                    peer,
                    name,
                    email,
                    safety_number,
                });
            }
            _ => {}
        }
    }

    /// Someone arrived, left, connected, failed or changed what they send.
    pub(super) fn on_participant(&mut self, e: CallMachineEvent) {
        use CallMachineEvent as E;
        match e {
            E::ParticipantJoined {
                peer,
                name,
                user,
                email,
                arrived,
            } => {
                if arrived {
                    self.toast(format!("{name} joined"));
                }
                self.people.insert(
                    peer,
                    Person {
                        name,
                        email,
                        key: KeyState::Checking,
                        safety_number: None,
                        qr: None,
                        user,
                        connected: false,
                        media: MediaState {
                            audio: true,
                            video: true,
                            screen: false,
                            hand: false,
                        },
                        failed: None,
                        frame: None,
                        quality: None,
                    },
                );
            }
            E::ParticipantLeft { peer, .. } => {
                if let Some(p) = self.people.remove(&peer) {
                    self.toast(format!("{} left", p.name));
                }
                if self.last_speaker == Some(peer) {
                    self.last_speaker = None;
                }
            }
            E::Connected { peer } => {
                if let Some(p) = self.people.get_mut(&peer) {
                    p.connected = true;
                    p.failed = None;
                }
            }
            E::PeerFailed { peer, reason } => {
                if let Some(p) = self.people.get_mut(&peer) {
                    p.connected = false;
                    p.failed = Some(reason);
                }
            }
            E::RemoteMedia { peer, state } => {
                if let Some(p) = self.people.get_mut(&peer) {
                    p.media = state;
                }
            }
            _ => {}
        }
    }

    /// Keys that changed since the last meeting: the safety number to compare, over another
    /// channel, before trusting the call with that person.
    pub(super) fn key_warnings(&self) -> Option<Element<'_, Message>> {
        if self.key_changes.is_empty() {
            return None;
        }
        let mut c = column![].spacing(10);
        for k in &self.key_changes {
            c = c.push(
                column![
                    text(format!(
                        "⚠ {} ({})'s key has changed since you last met",
                        k.name, k.email
                    ))
                    .size(18)
                    .style(text::warning),
                    text(format!(
                        "Compare this safety number with {} in person or over another channel \
                         (a phone call). If it matches, this call is encrypted end to end with \
                         them and nobody in between; if not, leave the call. Until then, \
                         nothing is sent to them or recorded with them.",
                        k.name
                    ))
                    .size(13),
                    text(k.safety_number.as_str())
                        .font(iced::Font::MONOSPACE)
                        .size(16),
                    row![
                        space::horizontal(),
                        button(text("It does not match: leave"))
                            .style(theme::button::danger)
                            .padding([8, 16])
                            .on_press(Message::Leave),
                        button(text("It matches"))
                            .padding([8, 16])
                            .on_press(Message::KeyCompared(k.peer)),
                    ]
                    .spacing(8),
                ]
                .spacing(6),
            );
        }
        Some(theme::card(c))
    }

    /// Who is here, with their role; for a host or co-host, the meeting's controls.
    pub(super) fn people_panel(&self) -> Element<'_, Message> {
        use assent_shared::api::MeetingRole;
        let mut c = column![].spacing(8);
        let me = match self.my_role() {
            Some(MeetingRole::Host) => "You (host)",
            Some(MeetingRole::Cohost) => "You (co-host)",
            _ => "You",
        };
        c = c.push(text(me));
        let host = self.may_host();
        for (peer, p) in &self.people {
            let mut line = column![
                text(p.name.as_str()),
                text(format!("{} · {}", p.email, self.role_of(&p.user)))
                    .size(12)
                    .style(theme::muted),
                super::super::trust::key_view(*peer, p, self.show_qr == Some(*peer)),
            ]
            .spacing(2);
            if host && self.role_of(&p.user) != "host" {
                let mut actions = row![
                    button(text("Remove").size(13))
                        .style(theme::button::danger)
                        .padding([4, 10])
                        .on_press(Message::Remove(p.user)),
                ]
                .spacing(6);
                if self.my_role() == Some(MeetingRole::Host)
                    && self.role_of(&p.user) == "participant"
                {
                    actions = actions.push(
                        button(text("Make co-host").size(13))
                            .style(theme::button::secondary)
                            .padding([4, 10])
                            .on_press(Message::MakeCohost(p.user)),
                    );
                }
                line = line.push(actions);
            }
            c = c.push(line);
        }
        if host {
            let locked = self.meeting.as_ref().is_some_and(|m| m.locked);
            c = c.push(rule::horizontal(1));
            c = c.push(
                text(if locked {
                    "Locked: nobody new can join."
                } else {
                    "Open: anyone with the code can join."
                })
                .size(13)
                .style(theme::muted),
            );
            c = c.push(
                row![
                    button(text(if locked { "Unlock" } else { "Lock" }))
                        .style(theme::button::secondary)
                        .padding([6, 12])
                        .on_press(Message::Lock(!locked)),
                    button(text("End for everyone"))
                        .style(theme::button::danger)
                        .padding([6, 12])
                        .on_press(Message::EndForAll),
                ]
                .spacing(6),
            );
        }
        scrollable(c).width(Fill).height(Fill).into()
    }

    /// A host's action, or a key compared, verified or shown as a QR code.
    pub(super) fn on_people(&mut self, message: Message) -> Option<Event> {
        match message {
            Message::Lock(locked) => self
                .may_host()
                .then_some(Event::Host(HostAction::Lock(locked))),
            Message::EndForAll => self.may_host().then_some(Event::Host(HostAction::End)),
            Message::Remove(user) => self
                .may_host()
                .then_some(Event::Host(HostAction::Remove(user))),
            Message::MakeCohost(user) => {
                let host = self.my_role() == Some(assent_shared::api::MeetingRole::Host);
                host.then(|| {
                    self.cohosts.insert(user);
                    Event::Host(HostAction::MakeCohost(user))
                })
            }
            Message::KeyCompared(peer) => {
                let before = self.key_changes.len();
                self.key_changes.retain(|k| k.peer != peer);
                (self.key_changes.len() < before).then_some(Event::KeyCompared(peer))
            }
            Message::MarkVerified(peer) => self
                .people
                .get(&peer)
                .filter(|p| p.key == KeyState::Proven { compared: false })
                .map(|_| Event::MarkVerified(peer)),
            Message::ToggleQr(peer) => {
                self.show_qr = (self.show_qr != Some(peer)).then_some(peer);
                None
            }
            _ => None,
        }
    }
}
