//! The meeting room: a tile per person with their video, who is connected, muted or has the
//! camera off; microphone, camera and leave controls; the chat.

use std::collections::BTreeMap;

use assent_engine::CallEvent;
use assent_engine::CallMachineEvent;
use assent_engine::ConsentEvent;
use assent_engine::FrameSlots;
use assent_engine::Source;
use assent_engine::level::{self, ActiveSpeaker, Levels};
use assent_shared::call::MediaState;
use assent_shared::consent::Scope;
use assent_shared::consent::StatusKind;
use assent_shared::signal::PeerId;
use iced::widget::{Id, button, column, container, image, row, space, text};
use iced::{Center, Element, Fill};

use super::style;

mod chat;
mod consent;
mod people;
#[cfg(test)]
mod tests;
mod tiles;

pub use tiles::{Quality, quality};

pub const CHAT: Id = Id::new("room-chat");

#[derive(Debug, Clone)]
pub enum Message {
    ToggleMic,
    ToggleCamera,
    ToggleScreen,
    ToggleHand,
    /// Something to tell (an error from the engine), or nothing.
    Noted(Option<String>),
    /// Show the participants (or the chat again).
    TogglePeople,
    /// Host actions.
    Lock(bool),
    EndForAll,
    Remove(assent_shared::ids::UserId),
    MakeCohost(assent_shared::ids::UserId),
    /// The safety number of someone whose key changed was compared and matches.
    KeyCompared(PeerId),
    /// The safety number of someone in the call was compared in person and matches.
    MarkVerified(PeerId),
    /// Show (or hide) someone's safety number as a QR code to scan.
    ToggleQr(PeerId),
    ChatInput(String),
    SendChat,
    Leave,
    /// Propose recording the call.
    Record,
    Agree,
    Decline,
    Withdraw,
    // What the app hands back: the engine's reports and answers.
    /// Something the call reports.
    Call(CallEvent),
    /// The meeting as the server sees it (host, locked, our role), when it could be asked.
    Meeting(Result<assent_shared::api::Meeting, String>),
    /// The call's statistics (connection quality).
    Stats(std::sync::Arc<assent_engine::CallStats>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    SetMedia(MediaState),
    /// Something only a host (or co-host) may do.
    Host(HostAction),
    /// Accept this person's changed key as compared in person (it becomes the pin).
    KeyCompared(PeerId),
    /// Remember this person's key as compared in person.
    MarkVerified(PeerId),
    Chat(String),
    Leave,
    /// Propose recording: everyone must sign before it starts.
    Record {
        title: String,
    },
    Agree,
    Decline,
    Withdraw,
    /// Play this sound.
    Chime(assent_engine::Chime),
}

/// What a host (or co-host) does to the meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostAction {
    Lock(bool),
    End,
    Remove(assent_shared::ids::UserId),
    MakeCohost(assent_shared::ids::UserId),
}

/// Someone whose key differs from the one this device pinned: the safety number to compare.
#[derive(Debug, Clone)]
struct KeyChange {
    peer: PeerId,
    name: String,
    email: String,
    safety_number: String,
}

/// A recording someone proposes: what the consent dialog shows.
#[derive(Debug, Clone)]
struct Ask {
    title: String,
    proposer: String,
    scope: Scope,
    retention_days: u16,
    /// Everyone it would be encrypted to.
    recipients: Vec<assent_engine::Recipient>,
    /// Who joined since the previous set (asking to go on with them).
    joined: Vec<String>,
}

/// The recording state everyone sees.
#[derive(Debug, Clone)]
struct Recording {
    state: StatusKind,
    title: String,
    agreed: Vec<String>,
    waiting_for: Vec<String>,
}

/// What the key directory and this device say of someone's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyState {
    /// The directory's proof is being checked.
    Checking,
    /// Proven by the directory; `compared`: the safety number was compared in person.
    Proven { compared: bool },
    /// Another key than the pinned one: held until compared.
    Changed,
}

#[derive(Debug)]
pub(super) struct Person {
    pub(super) name: String,
    pub(super) email: String,
    pub(super) key: KeyState,
    pub(super) safety_number: Option<String>,
    pub(super) qr: Option<iced::widget::qr_code::Data>,
    user: assent_shared::ids::UserId,
    connected: bool,
    media: MediaState,
    failed: Option<String>,
    /// The latest video frame shown, by sequence number.
    frame: Option<(u64, image::Handle)>,
    /// How the connection with them is doing (from the latest statistics).
    quality: Option<Quality>,
}

#[derive(Debug)]
pub struct Room {
    title: String,
    code: String,
    joined: bool,
    people: BTreeMap<PeerId, Person>,
    local: MediaState,
    chat: Vec<(String, String)>,
    chat_input: String,
    /// Why the call ended, once it has.
    ended: Option<String>,
    ask: Option<Ask>,
    /// The meeting as the server sees it (host, locked, our role), once fetched.
    meeting: Option<assent_shared::api::Meeting>,
    /// Made co-host during this call.
    cohosts: std::collections::BTreeSet<assent_shared::ids::UserId>,
    /// The participant list is open (instead of the chat).
    show_people: bool,
    /// Keys that changed since the last meeting, not yet compared.
    key_changes: Vec<KeyChange>,
    recording: Option<Recording>,
    notice: Option<String>,
    /// Our own picture as sent, by sequence number.
    self_view: Option<(u64, image::Handle)>,
    /// Who is speaking (us included).
    speaker: ActiveSpeaker,
    /// Our microphone's level (before muting, dBFS).
    my_level: f32,
    /// Whose safety number is shown as a QR code.
    show_qr: Option<PeerId>,
    /// The server was caught showing people different key directories.
    equivocation: bool,
}

impl Room {
    /// A call joined with the microphone and camera as `local` says.
    pub fn new(title: String, code: String, local: MediaState) -> Room {
        Room {
            title,
            code,
            joined: false,
            people: BTreeMap::new(),
            local,
            chat: Vec::new(),
            chat_input: String::new(),
            ended: None,
            ask: None,
            meeting: None,
            cohosts: Default::default(),
            show_people: false,
            key_changes: Vec::new(),
            recording: None,
            notice: None,
            self_view: None,
            speaker: ActiveSpeaker::default(),
            my_level: level::FLOOR_DB,
            show_qr: None,
            equivocation: false,
        }
    }

    /// Who is speaking now, if anyone.
    pub fn speaking(&self) -> Option<Source> {
        self.speaker.current()
    }

    /// Talking into a muted microphone.
    pub fn talking_while_muted(&self) -> bool {
        !self.local.audio && self.my_level >= level::SPEAKING_DB
    }

    /// Whether a recording is on (or paused, or waiting for consent).
    pub fn recording_state(&self) -> Option<StatusKind> {
        self.recording.as_ref().map(|r| r.state)
    }

    /// The meeting's join code.
    pub fn code(&self) -> &str {
        &self.code
    }

    pub fn title(&self) -> &str {
        &self.title
    }

    pub fn ended(&self) -> Option<&str> {
        self.ended.as_deref()
    }

    /// Whether the side panel shows the people (their keys) rather than the chat.
    pub fn showing_people(&self) -> bool {
        self.show_people
    }

    /// How many people are connected with us (end to end verified).
    pub fn connected(&self) -> usize {
        self.people.values().filter(|p| p.connected).count()
    }

    pub fn update(&mut self, message: Message) -> Option<Event> {
        match message {
            Message::Leave => Some(Event::Leave),
            Message::Call(event) => {
                let chime = chime_for(&event);
                self.on_call_event(event);
                chime.map(Event::Chime)
            }
            Message::Meeting(result) => {
                if let Ok(m) = result {
                    self.on_meeting(m);
                }
                None
            }
            Message::Stats(stats) => {
                self.on_stats(&stats);
                None
            }
            // Once the call has ended, only leaving is left.
            _ if self.ended.is_some() => None,
            Message::ToggleMic => {
                self.local.audio = !self.local.audio;
                Some(Event::SetMedia(self.local))
            }
            Message::ToggleCamera => {
                self.local.video = !self.local.video;
                Some(Event::SetMedia(self.local))
            }
            Message::ToggleScreen => {
                self.local.screen = !self.local.screen;
                Some(Event::SetMedia(self.local))
            }
            Message::ToggleHand => {
                self.local.hand = !self.local.hand;
                Some(Event::SetMedia(self.local))
            }
            Message::TogglePeople => {
                self.show_people = !self.show_people;
                None
            }
            Message::Noted(note) => {
                if note.is_some() {
                    self.notice = note;
                }
                None
            }
            Message::Lock(_)
            | Message::EndForAll
            | Message::Remove(_)
            | Message::MakeCohost(_)
            | Message::KeyCompared(_)
            | Message::MarkVerified(_)
            | Message::ToggleQr(_) => self.on_people(message),
            Message::ChatInput(_) | Message::SendChat => self.on_chat(message),
            Message::Record | Message::Agree | Message::Decline | Message::Withdraw => {
                self.on_recording(message)
            }
        }
    }

    /// The meeting as the server sees it: host, locked, our role.
    fn on_meeting(&mut self, meeting: assent_shared::api::Meeting) {
        self.meeting = Some(meeting);
    }

    fn my_role(&self) -> Option<assent_shared::api::MeetingRole> {
        self.meeting.as_ref().and_then(|m| m.role)
    }

    /// Host or co-host: may lock, remove and end.
    fn may_host(&self) -> bool {
        matches!(
            self.my_role(),
            Some(assent_shared::api::MeetingRole::Host | assent_shared::api::MeetingRole::Cohost)
        )
    }

    fn role_of(&self, user: &assent_shared::ids::UserId) -> &'static str {
        match &self.meeting {
            Some(m) if m.host == *user => "host",
            _ if self.cohosts.contains(user) => "co-host",
            _ => "participant",
        }
    }

    /// Whether the consent dialog is open (someone asks to record).
    pub fn asking(&self) -> bool {
        self.ask.is_some()
    }

    /// What the engine reports about the call.
    fn on_call_event(&mut self, event: CallEvent) {
        match event {
            CallEvent::Admitted { title, code } => {
                self.title = title;
                self.code = code;
            }
            CallEvent::Call(e) => self.on_machine_event(e),
            CallEvent::Reconnecting { attempt } => {
                self.notice = Some(format!("Reconnecting to the server (attempt {attempt})…"))
            }
            CallEvent::MediaError(e) => self.notice = Some(e),
            CallEvent::ScreenNotShared(why) => {
                self.local.screen = false;
                self.notice = Some(why);
            }
            CallEvent::Device(d) => {
                // No camera: the call was joined with it off.
                if d.kind == assent_engine::DeviceKind::Camera && d.using == "off" {
                    self.local.video = false;
                }
                self.notice = Some(d.message());
            }
            CallEvent::Closed { reason } => self.ended = Some(reason),
            CallEvent::Server(_) | CallEvent::Recording(_) | CallEvent::Upload(_) => {}
        }
    }

    fn on_machine_event(&mut self, e: CallMachineEvent) {
        use CallMachineEvent as E;
        match e {
            E::Joined { .. } => self.joined = true,
            E::KeyTrusted { .. } | E::Equivocation { .. } | E::KeyChanged { .. } => self.on_key(e),
            E::ParticipantJoined { .. }
            | E::ParticipantLeft { .. }
            | E::Connected { .. }
            | E::PeerFailed { .. }
            | E::RemoteMedia { .. } => self.on_participant(e),
            E::Chat { from, text, .. } => {
                let name = self
                    .people
                    .get(&from)
                    .map(|p| p.name.clone())
                    .unwrap_or_else(|| "Someone".into());
                self.chat.push((name, text));
            }
            E::CommandFailed { reason } => self.notice = Some(reason),
            E::Consent(c) => self.on_consent(c),
            _ => {}
        }
    }

    /// The call's latest statistics: each person's connection quality.
    fn on_stats(&mut self, stats: &assent_engine::CallStats) {
        for (peer, person) in self.people.iter_mut() {
            let id = peer.to_string();
            person.quality = stats
                .peers
                .iter()
                .find(|s| s.peer == id && s.connected)
                .map(quality);
        }
    }

    /// Take the newest video frame of each person and ourselves, and who is speaking (called
    /// at the display's pace).
    pub fn on_frames(&mut self, frames: &FrameSlots, levels: &Levels) {
        let newer = |slot: &mut Option<(u64, image::Handle)>, source: Source| {
            if let Some(f) = frames.latest(source)
                && slot.as_ref().is_none_or(|(seq, _)| *seq != f.seq)
            {
                *slot = Some((f.seq, super::video::picture(f.width, f.height, f.rgba)));
            }
        };
        for (peer, person) in self.people.iter_mut() {
            newer(&mut person.frame, Source::Peer(*peer));
        }
        newer(&mut self.self_view, Source::Local);
        self.on_levels(levels.snapshot(), std::time::Instant::now());
    }

    /// The sound levels now: who speaks (a muted person, ourselves included, does not).
    pub fn on_levels(&mut self, levels: Vec<(Source, f32)>, now: std::time::Instant) {
        self.my_level = levels
            .iter()
            .find(|(s, _)| *s == Source::Local)
            .map_or(level::FLOOR_DB, |(_, db)| *db);
        let heard: Vec<(Source, f32)> = levels
            .into_iter()
            .filter(|(s, _)| match s {
                Source::Local => self.local.audio,
                Source::Peer(p) => self
                    .people
                    .get(p)
                    .is_some_and(|person| person.connected && person.media.audio),
            })
            .collect();
        self.speaker.update(&heard, now);
    }

    pub fn view(&self) -> Element<'_, Message> {
        let mut main = column![
            self.header(),
            self.equivocation.then(super::trust::equivocation_banner),
            self.key_warnings(),
            self.indicator(),
            self.consent_dialog(),
            self.stage()
        ]
        .spacing(12)
        .width(Fill);
        if let Some(n) = &self.notice {
            main = main.push(text(n.as_str()).style(iced::widget::text::warning));
        }
        if self.talking_while_muted() && self.ended.is_none() {
            main = main.push(
                text("You are muted: Ctrl+D or Unmute to be heard.")
                    .style(iced::widget::text::warning),
            );
        }
        if let Some(reason) = &self.ended {
            main = main.push(text(format!("The call has ended: {reason}.")).style(style::muted));
        }
        main = main.push(self.controls());
        row![main, self.side()]
            .spacing(16)
            .padding(16)
            .height(Fill)
            .into()
    }

    /// The meeting's title and code, and how many are here.
    fn header(&self) -> Element<'_, Message> {
        let people = self.connected();
        row![
            column![
                text(self.title.as_str()).size(22),
                text(format!(
                    "{} · {}",
                    self.code,
                    match (self.joined, people) {
                        (false, _) => "joining…".to_string(),
                        (true, 0) => "waiting for others".to_string(),
                        (true, 1) => "you and 1 other".to_string(),
                        (true, n) => format!("you and {n} others"),
                    }
                ))
                .size(13)
                .style(style::muted),
            ],
            space::horizontal(),
        ]
        .align_y(Center)
        .into()
    }

    /// The tiles: everyone else's, then ours.
    fn stage(&self) -> Element<'_, Message> {
        let speaking = self.speaking();
        let mut tiles: Vec<Element<'_, Message>> = self
            .people
            .iter()
            .map(|(id, p)| tiles::person_tile(p, speaking == Some(Source::Peer(*id))))
            .collect();
        if tiles.is_empty() {
            tiles.push(
                container(text("Nobody else is here yet.").style(style::muted))
                    .center(Fill)
                    .into(),
            );
        }
        tiles.push(self.own_tile(speaking == Some(Source::Local)));
        tiles::grid(tiles)
    }

    /// Microphone, camera, screen, hand, record; leave (or back, once the call has ended).
    fn controls(&self) -> Element<'_, Message> {
        let on = |b: bool, yes: &'static str, no: &'static str| if b { yes } else { no };
        let ended = self.ended.is_some();
        row![
            button(text(on(self.local.audio, "Mute", "Unmute")))
                .padding([8, 16])
                .style(button::secondary)
                .on_press_maybe((!ended).then_some(Message::ToggleMic)),
            button(text(on(self.local.video, "Camera off", "Camera on")))
                .padding([8, 16])
                .style(button::secondary)
                .on_press_maybe((!ended).then_some(Message::ToggleCamera)),
            button(text(on(self.local.screen, "Stop sharing", "Share screen")))
                .padding([8, 16])
                .style(button::secondary)
                .on_press_maybe((!ended).then_some(Message::ToggleScreen)),
            button(text(on(self.local.hand, "Lower hand", "Raise hand")))
                .padding([8, 16])
                .style(button::secondary)
                .on_press_maybe((!ended).then_some(Message::ToggleHand)),
            button(text("Record"))
                .padding([8, 16])
                .style(button::secondary)
                .on_press_maybe((!ended && self.recording.is_none()).then_some(Message::Record)),
            space::horizontal(),
            button(text(if ended { "Back" } else { "Leave" }))
                .padding([8, 16])
                .style(button::danger)
                .on_press(Message::Leave),
        ]
        .spacing(8)
        .align_y(Center)
        .into()
    }

    /// Beside the call: the chat or the people, as two tabs.
    fn side(&self) -> Element<'_, Message> {
        // The side: chat or the people, as two tabs.
        let tab = |label: String, on: bool| {
            button(text(label).size(14))
                .padding([4, 12])
                .style(if on {
                    button::primary
                } else {
                    button::secondary
                })
                .on_press(if on {
                    Message::Noted(None)
                } else {
                    Message::TogglePeople
                })
        };
        let tabs = row![
            tab("Chat".into(), !self.show_people),
            tab(
                format!("People ({})", self.people.len() + 1),
                self.show_people
            ),
        ]
        .spacing(6);
        column![
            tabs,
            if self.show_people {
                self.people_panel()
            } else {
                self.chat_panel()
            }
        ]
        .spacing(8)
        .width(280)
        .into()
    }
}

/// The sound a call event deserves, if any: someone arriving (not those already there when we
/// joined), someone leaving, and a request to record.
pub fn chime_for(event: &CallEvent) -> Option<assent_engine::Chime> {
    use assent_engine::Chime;
    match event {
        CallEvent::Call(CallMachineEvent::ParticipantJoined { arrived: true, .. }) => {
            Some(Chime::Joined)
        }
        CallEvent::Call(CallMachineEvent::ParticipantLeft { .. }) => Some(Chime::Left),
        CallEvent::Call(CallMachineEvent::Consent(ConsentEvent::Asked { .. })) => {
            Some(Chime::Asked)
        }
        _ => None,
    }
}
