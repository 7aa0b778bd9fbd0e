//! The meeting room: a tile per person with their video, who is connected, muted or has the
//! camera off; microphone, camera and leave controls; the chat.

use std::collections::BTreeMap;

use assent_engine::call::CallEvent;
use assent_engine::call::consent::ConsentEvent;
use assent_engine::call::machine::Event as CallMachineEvent;
use assent_engine::media::frames::FrameSlots;
use assent_engine::media::level::{self, ActiveSpeaker, Levels};
use assent_engine::media::tap::Source;
use assent_shared::call::MediaState;
use assent_shared::consent::Scope;
use assent_shared::consent::StatusKind;
use assent_shared::signal::PeerId;
use iced::widget::{
    Id, button, column, container, image, row, rule, scrollable, space, text, text_input,
};
use iced::{Center, Element, Fill, Length};

use super::style;

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
    Stats(std::sync::Arc<assent_engine::call::CallStats>),
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
    Chime(assent_engine::media::chime::Chime),
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
    recipients: Vec<assent_engine::call::consent::Recipient>,
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

/// A connection's health, from its statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quality {
    Good,
    Fair,
    Poor,
}

/// Judge a connection by the loss and the round trip time the peer reports for what we send
/// (RTCP). Frame rates are not used: a window's decoded frames are not counted per report.
pub fn quality(s: &assent_engine::call::PeerStats) -> Quality {
    let loss = s.transport.fraction_lost.unwrap_or(0.0);
    let rtt = s.transport.rtt_ms.unwrap_or(0.0);
    if loss > 0.10 || rtt > 400.0 {
        Quality::Poor
    } else if loss > 0.03 || rtt > 200.0 {
        Quality::Fair
    } else {
        Quality::Good
    }
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
            Message::Leave => return Some(Event::Leave),
            Message::Call(event) => {
                let chime = chime_for(&event);
                self.on_call_event(event);
                return chime.map(Event::Chime);
            }
            Message::Meeting(result) => {
                if let Ok(m) = result {
                    self.on_meeting(m);
                }
                return None;
            }
            Message::Stats(stats) => {
                self.on_stats(&stats);
                return None;
            }
            _ => {}
        }
        if self.ended.is_some() {
            return None;
        }
        match message {
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
            Message::Noted(note) => {
                if note.is_some() {
                    self.notice = note;
                }
                None
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
            Message::ChatInput(s) => {
                self.chat_input = s;
                None
            }
            Message::SendChat => {
                let text = self.chat_input.trim().to_string();
                if text.is_empty() {
                    return None;
                }
                self.chat_input.clear();
                self.chat.push(("You".into(), text.clone()));
                Some(Event::Chat(text))
            }
            Message::Leave | Message::Call(_) | Message::Meeting(_) | Message::Stats(_) => None,
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
            CallEvent::Closed { reason } => self.ended = Some(reason),
            CallEvent::Server(_) | CallEvent::Recording(_) | CallEvent::Upload(_) => {}
        }
    }

    fn on_machine_event(&mut self, e: CallMachineEvent) {
        use CallMachineEvent as E;
        match e {
            E::Joined { .. } => self.joined = true,
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
            E::ParticipantJoined {
                peer,
                name,
                user,
                email,
                ..
            } => {
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
                self.people.remove(&peer);
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

    fn on_consent(&mut self, c: ConsentEvent) {
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

    /// Keys that changed since the last meeting: the safety number to compare, over another
    /// channel, before trusting the call with that person.
    fn key_warnings(&self) -> Option<Element<'_, Message>> {
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
                            .style(button::danger)
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
        Some(style::card(c))
    }

    /// The consent dialog: who proposes what; Agree or Decline.
    fn consent_dialog(&self) -> Option<Element<'_, Message>> {
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
                    super::trust::recipients(&a.recipients, &a.joined),
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
    fn indicator(&self) -> Option<Element<'_, Message>> {
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

    /// The call's latest statistics: each person's connection quality.
    fn on_stats(&mut self, stats: &assent_engine::call::CallStats) {
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
                *slot = Some((f.seq, picture(f.width, f.height, f.rgba)));
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
        let people = self.connected();
        let header = row![
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
        .align_y(Center);
        let speaking = self.speaking();
        let mut tiles: Vec<Element<'_, Message>> = self
            .people
            .iter()
            .map(|(id, p)| person_tile(p, speaking == Some(Source::Peer(*id))))
            .collect();
        if tiles.is_empty() {
            tiles.push(
                container(text("Nobody else is here yet.").style(style::muted))
                    .center(Fill)
                    .into(),
            );
        }
        tiles.push(self.own_tile(speaking == Some(Source::Local)));
        let grid = grid(tiles);
        let on = |b: bool, yes: &'static str, no: &'static str| if b { yes } else { no };
        let ended = self.ended.is_some();
        let controls = row![
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
        .align_y(Center);
        let mut main = column![
            header,
            self.equivocation.then(super::trust::equivocation_banner),
            self.key_warnings(),
            self.indicator(),
            self.consent_dialog(),
            grid
        ]
        .spacing(12)
        .width(Fill);
        if let Some(n) = &self.notice {
            main = main.push(text(n.as_str()).style(iced::widget::text::warning));
        }
        if self.talking_while_muted() && !ended {
            main = main.push(
                text("You are muted: Ctrl+D or Unmute to be heard.")
                    .style(iced::widget::text::warning),
            );
        }
        if let Some(reason) = &self.ended {
            main = main.push(text(format!("The call has ended: {reason}.")).style(style::muted));
        }
        main = main.push(controls);
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
        let side = column![
            tabs,
            if self.show_people {
                self.people_panel()
            } else {
                self.chat_panel()
            }
        ]
        .spacing(8)
        .width(280);
        row![main, side].spacing(16).padding(16).height(Fill).into()
    }

    /// Our own tile: the picture we send (camera or screen), or "You" with the camera off.
    fn own_tile(&self, speaking: bool) -> Element<'_, Message> {
        let sending = self.local.video || self.local.screen;
        let picture = self.self_view.as_ref().filter(|_| sending).map(|(_, h)| h);
        let mut status = vec!["You".to_string()];
        if speaking {
            status.push("speaking".into());
        }
        if !self.local.audio {
            status.push("muted".into());
        }
        if self.local.screen {
            status.push("sharing your screen".into());
        } else if !self.local.video {
            status.push("camera off".into());
        }
        if self.local.hand {
            status.push("hand raised".into());
        }
        tile(
            picture,
            "You",
            text(status.join(" · ")).size(13).into(),
            speaking,
        )
    }

    /// Who is here, with their role; for a host or co-host, the meeting's controls.
    fn people_panel(&self) -> Element<'_, Message> {
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
                    .style(style::muted),
                super::trust::key_view(*peer, p, self.show_qr == Some(*peer)),
            ]
            .spacing(2);
            if host && self.role_of(&p.user) != "host" {
                let mut actions = row![
                    button(text("Remove").size(13))
                        .style(button::danger)
                        .padding([4, 10])
                        .on_press(Message::Remove(p.user)),
                ]
                .spacing(6);
                if self.my_role() == Some(MeetingRole::Host)
                    && self.role_of(&p.user) == "participant"
                {
                    actions = actions.push(
                        button(text("Make co-host").size(13))
                            .style(button::secondary)
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
                .style(style::muted),
            );
            c = c.push(
                row![
                    button(text(if locked { "Unlock" } else { "Lock" }))
                        .style(button::secondary)
                        .padding([6, 12])
                        .on_press(Message::Lock(!locked)),
                    button(text("End for everyone"))
                        .style(button::danger)
                        .padding([6, 12])
                        .on_press(Message::EndForAll),
                ]
                .spacing(6),
            );
        }
        scrollable(c).width(280).height(Fill).into()
    }

    fn chat_panel(&self) -> Element<'_, Message> {
        let mut lines = column![].spacing(6);
        for (who, what) in &self.chat {
            lines = lines.push(
                column![
                    text(who.as_str()).size(12).style(style::muted),
                    text(what.as_str())
                ]
                .spacing(1),
            );
        }
        column![
            scrollable(lines).height(Fill),
            text_input("Message (end to end encrypted)", &self.chat_input)
                .id(CHAT)
                .on_input(Message::ChatInput)
                .on_submit(Message::SendChat)
                .padding(8),
        ]
        .spacing(8)
        .width(280)
        .height(Fill)
        .into()
    }
}

/// The sound a call event deserves, if any: someone arriving (not those already there when we
/// joined), someone leaving, and a request to record.
pub fn chime_for(event: &CallEvent) -> Option<assent_engine::media::chime::Chime> {
    use assent_engine::media::chime::Chime;
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

/// A decoded frame's RGBA buffer, as the bytes of an image handle.
struct SharedRgba(std::sync::Arc<Vec<u8>>);

/// An image of a decoded RGBA frame. The frame's buffer is shared with the engine, not copied
/// (30 times a second for each person, a copy would be most of the drawing's memory traffic).
pub(super) fn picture(width: u32, height: u32, rgba: std::sync::Arc<Vec<u8>>) -> image::Handle {
    image::Handle::from_rgba(width, height, bytes::Bytes::from_owner(SharedRgba(rgba)))
}

impl AsRef<[u8]> for SharedRgba {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// One person: their video when it comes, else their name; what state they are in.
fn person_tile(p: &Person, speaking: bool) -> Element<'_, Message> {
    let picture = p.frame.as_ref().filter(|_| p.media.video).map(|(_, h)| h);
    let mut status = vec![p.name.clone()];
    if speaking {
        status.push("speaking".into());
    }
    if !p.media.audio {
        status.push("muted".into());
    }
    if p.media.screen {
        status.push("sharing the screen".into());
    }
    if p.media.hand {
        status.push("hand raised".into());
    }
    status.push(
        match p.key {
            KeyState::Checking => "checking their key…",
            KeyState::Proven { compared: true } => "✓ verified",
            KeyState::Proven { compared: false } => "not verified",
            KeyState::Changed => "⚠ key changed",
        }
        .into(),
    );
    if !p.connected {
        status.push(match &p.failed {
            Some(why) => format!("not connected: {why}"),
            None => "connecting…".into(),
        });
    }
    let line = match (p.connected, p.quality) {
        (true, Some(q)) => row![
            text(status.join(" · ")).size(13),
            space::horizontal(),
            text(match q {
                Quality::Good => "● good connection",
                Quality::Fair => "● fair connection",
                Quality::Poor => "● poor connection",
            })
            .size(13)
            .style(match q {
                Quality::Good => text::success,
                Quality::Fair => text::warning,
                Quality::Poor => text::danger,
            }),
        ],
        _ => row![text(status.join(" · ")).size(13)],
    };
    tile(picture, &p.name, line.into(), speaking)
}

/// A tile: the picture (or the name, large, without one) over a status line; the one speaking
/// is outlined in the theme's accent colour.
fn tile<'a>(
    picture: Option<&image::Handle>,
    name: &'a str,
    line: Element<'a, Message>,
    speaking: bool,
) -> Element<'a, Message> {
    let picture: Element<'a, Message> = match picture {
        Some(h) => image(h.clone()).width(Fill).height(Fill).into(),
        None => container(text(name).size(28)).center(Fill).into(),
    };
    container(column![picture, line].spacing(4))
        .padding(6)
        .width(Fill)
        .height(Fill)
        .style(move |theme: &iced::Theme| {
            let mut style = container::bordered_box(theme);
            if speaking {
                style.border.color = theme.palette().primary;
                style.border.width = 3.0;
            }
            style
        })
        .into()
}

/// Tiles in rows of two (up to four people: a 2x2 grid).
fn grid(tiles: Vec<Element<'_, Message>>) -> Element<'_, Message> {
    let mut rows = column![].spacing(8).height(Length::Fill);
    let mut it = tiles.into_iter().peekable();
    while it.peek().is_some() {
        let mut r = row![].spacing(8).height(Length::Fill);
        for t in it.by_ref().take(2) {
            r = r.push(t);
        }
        rows = rows.push(r);
    }
    rows.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use assent_shared::ids::UserId;
    use iced_test::simulator;

    fn click(room: &mut Room, label: &str) -> Vec<Event> {
        let mut ui = simulator(room.view());
        ui.click(label).expect("the control is on screen");
        let messages: Vec<Message> = ui.into_messages().collect();
        messages
            .into_iter()
            .filter_map(|m| room.update(m))
            .collect()
    }

    fn shows(room: &Room, s: &str) -> bool {
        simulator(room.view()).find(s).is_ok()
    }

    /// Joined with the microphone and camera on.
    const ON: MediaState = MediaState {
        audio: true,
        video: true,
        screen: false,
        hand: false,
    };

    #[test]
    fn people_come_connect_talk_and_go() {
        let mut room = Room::new("Standup".into(), "abc-defg-hij".into(), ON);
        assert!(shows(&room, "abc-defg-hij · joining…"));
        let bob = PeerId(2);
        room.on_call_event(CallEvent::Call(CallMachineEvent::Joined {
            call: assent_shared::ids::CallId::random(),
            me: PeerId(1),
            resumed: false,
        }));
        assert!(shows(&room, "Nobody else is here yet."));
        room.on_call_event(CallEvent::Call(CallMachineEvent::ParticipantJoined {
            email: "someone@example.org".into(),
            peer: bob,
            user: UserId::random(),
            name: "Bob".into(),
            arrived: true,
        }));
        assert!(shows(&room, "Bob · checking their key… · connecting…"));
        room.on_call_event(CallEvent::Call(CallMachineEvent::Connected { peer: bob }));
        assert!(shows(&room, "abc-defg-hij · you and 1 other"));
        room.on_call_event(CallEvent::Call(CallMachineEvent::RemoteMedia {
            peer: bob,
            state: MediaState {
                audio: false,
                video: true,
                screen: false,
                hand: true,
            },
        }));
        assert!(shows(
            &room,
            "Bob · muted · hand raised · checking their key…"
        ));
        // Connection quality from the statistics: loss and delay, and pictures arriving.
        let stats = |loss: f64, rtt: f64, fps: f64| assent_engine::call::CallStats {
            at: 0,
            video_target_kbps: 1000,
            peers: vec![assent_engine::call::PeerStats {
                peer: bob.to_string(),
                name: "Bob".into(),
                user_id: String::new(),
                connected: true,
                codec: Some("VP8"),
                video_frames: 300,
                fps,
                audio_ms: 10_000,
                video_kbps: 900.0,
                audio_kbps: 32.0,
                first_frame_at: Some(1),
                transport: assent_engine::media::stats::Transport {
                    rtt_ms: Some(rtt),
                    fraction_lost: Some(loss),
                    ..Default::default()
                },
                latency_p50_ms: None,
                latency_p95_ms: None,
                latency_samples: 0,
            }],
        };
        room.on_stats(&stats(0.0, 20.0, 30.0));
        assert!(shows(&room, "● good connection"));
        room.on_stats(&stats(0.05, 20.0, 30.0));
        assert!(shows(&room, "● fair connection"));
        room.on_stats(&stats(0.0, 450.0, 30.0));
        assert!(shows(&room, "● poor connection"), "a long round trip");
        room.on_stats(&stats(0.0, 20.0, 0.0));
        assert!(
            shows(&room, "● good connection"),
            "frame rates do not count"
        );
        room.on_call_event(CallEvent::Call(CallMachineEvent::Chat {
            from: bob,
            id: 1,
            text: "hello Ann".into(),
            sent_at: 0,
        }));
        assert!(shows(&room, "hello Ann"));
        // Our own controls become engine commands.
        assert_eq!(
            click(&mut room, "Mute"),
            [Event::SetMedia(MediaState {
                audio: false,
                video: true,
                screen: false,
                hand: false
            })]
        );
        assert!(shows(&room, "Unmute"));
        assert!(matches!(
            click(&mut room, "Camera off").as_slice(),
            [Event::SetMedia(MediaState { video: false, .. })]
        ));
        room.update(Message::ChatInput("hi Bob".into()));
        assert_eq!(
            room.update(Message::SendChat),
            Some(Event::Chat("hi Bob".into()))
        );
        assert!(shows(&room, "hi Bob"));
        room.on_call_event(CallEvent::Call(CallMachineEvent::ParticipantLeft {
            peer: bob,
            reason: assent_shared::signal::LeaveReason::Left,
        }));
        assert!(shows(&room, "Nobody else is here yet."));
        assert_eq!(click(&mut room, "Leave"), [Event::Leave]);
        room.on_call_event(CallEvent::Closed {
            reason: "left the call".into(),
        });
        assert!(shows(&room, "The call has ended: left the call."));
        assert!(
            click(&mut room, "Unmute").is_empty(),
            "nothing to unmute any more"
        );
        assert_eq!(click(&mut room, "Back"), [Event::Leave]);
    }

    /// The participant list: everyone with their role; a host gets remove, co-host, lock and
    /// end; a participant sees the list only.
    /// Sounds: someone arriving (not those already there), leaving, and asking to record.
    #[test]
    fn chimes_for_arrivals_departures_and_requests() {
        use assent_engine::media::chime::Chime;
        let joined = |arrived| {
            CallEvent::Call(CallMachineEvent::ParticipantJoined {
                email: "someone@example.org".into(),
                peer: PeerId(2),
                user: UserId::random(),
                name: "Bob".into(),
                arrived,
            })
        };
        assert_eq!(chime_for(&joined(true)), Some(Chime::Joined));
        assert_eq!(chime_for(&joined(false)), None);
        assert_eq!(
            chime_for(&CallEvent::Call(CallMachineEvent::ParticipantLeft {
                peer: PeerId(2),
                reason: assent_shared::signal::LeaveReason::Left,
            })),
            Some(Chime::Left)
        );
        assert_eq!(
            chime_for(&CallEvent::Call(CallMachineEvent::Consent(
                ConsentEvent::Asked {
                    recipients: vec![],
                    joined: vec![],
                    recording: assent_shared::ids::RecordingId::random(),
                    title: "Design review".into(),
                    proposer: "Bob".into(),
                    scope: Scope::LocalAndCloud,
                    retention_days: 30,
                    epoch: 1,
                }
            ))),
            Some(Chime::Asked)
        );
        assert_eq!(chime_for(&CallEvent::MediaError("x".into())), None);
    }

    /// Our own tile is there from the start; whoever speaks is named as speaking (a muted
    /// person is not, however loud their microphone); talking while muted gets a hint.
    #[test]
    fn own_tile_and_who_is_speaking() {
        let muted = MediaState { audio: false, ..ON };
        let mut room = Room::new("Standup".into(), "abc-defg-hij".into(), muted);
        assert!(shows(&room, "You · muted"));
        let bob = PeerId(2);
        room.on_call_event(CallEvent::Call(CallMachineEvent::ParticipantJoined {
            email: "someone@example.org".into(),
            peer: bob,
            user: UserId::random(),
            name: "Bob".into(),
            arrived: true,
        }));
        room.on_call_event(CallEvent::Call(CallMachineEvent::Connected { peer: bob }));
        room.on_call_event(CallEvent::Call(CallMachineEvent::RemoteMedia {
            peer: bob,
            state: ON,
        }));
        let t0 = std::time::Instant::now();
        // We talk (muted) while Bob is quiet: nobody speaks, and we are told we are muted.
        room.on_levels(vec![(Source::Local, -20.0), (Source::Peer(bob), -70.0)], t0);
        assert_eq!(room.speaking(), None);
        assert!(shows(&room, "You are muted: Ctrl+D or Unmute to be heard."));
        // Bob talks: he is speaking; the hint goes when we stop.
        room.on_levels(
            vec![(Source::Local, -80.0), (Source::Peer(bob), -20.0)],
            t0 + std::time::Duration::from_millis(100),
        );
        assert_eq!(room.speaking(), Some(Source::Peer(bob)));
        assert!(shows(&room, "Bob · speaking · checking their key…"));
        assert!(!shows(
            &room,
            "You are muted: Ctrl+D or Unmute to be heard."
        ));
        // We unmute, Bob stops and we talk: we are speaking.
        assert_eq!(room.update(Message::ToggleMic), Some(Event::SetMedia(ON)));
        room.on_levels(
            vec![(Source::Local, -20.0), (Source::Peer(bob), -80.0)],
            t0 + std::time::Duration::from_millis(200),
        );
        assert!(shows(&room, "You · speaking"));
        // Camera off, screen shared: the own tile says so.
        room.update(Message::ToggleCamera);
        assert!(shows(&room, "You · speaking · camera off"));
        room.update(Message::ToggleScreen);
        assert!(shows(&room, "You · speaking · sharing your screen"));
    }

    #[test]
    fn hosts_see_the_participants_and_their_controls() {
        use assent_shared::api::{Meeting, MeetingKind, MeetingRole};
        let mut room = Room::new("Standup".into(), "abc-defg-hij".into(), ON);
        let (me, bob) = (UserId::random(), UserId::random());
        room.on_call_event(CallEvent::Call(CallMachineEvent::ParticipantJoined {
            email: "someone@example.org".into(),
            peer: PeerId(2),
            user: bob,
            name: "Bob".into(),
            arrived: true,
        }));
        let meeting = |role| Meeting {
            id: assent_shared::ids::MeetingId([2; 16]),
            code: "abc-defg-hij".into(),
            kind: MeetingKind::Instant,
            title: "Standup".into(),
            host: me,
            host_name: "Ann".into(),
            starts_at: None,
            duration_min: None,
            locked: false,
            ended: false,
            role: Some(role),
        };
        room.on_meeting(meeting(MeetingRole::Participant));
        assert!(click(&mut room, "People (2)").is_empty());
        assert!(shows(&room, "Bob"));
        assert!(
            !shows(&room, "Remove"),
            "a participant has no host controls"
        );
        assert_eq!(room.update(Message::Remove(bob)), None);

        room.on_meeting(meeting(MeetingRole::Host));
        assert!(shows(&room, "You (host)"));
        assert!(shows(&room, "Open: anyone with the code can join."));
        assert_eq!(
            click(&mut room, "Make co-host"),
            [Event::Host(HostAction::MakeCohost(bob))]
        );
        assert!(shows(&room, "someone@example.org · co-host"));
        assert_eq!(
            click(&mut room, "Remove"),
            [Event::Host(HostAction::Remove(bob))]
        );
        assert_eq!(
            click(&mut room, "Lock"),
            [Event::Host(HostAction::Lock(true))]
        );
        assert_eq!(
            click(&mut room, "End for everyone"),
            [Event::Host(HostAction::End)]
        );
        assert!(click(&mut room, "Chat").is_empty());
        assert!(shows(&room, "People (2)"), "back to the chat");
    }

    fn consent(room: &mut Room, c: ConsentEvent) {
        room.on_call_event(CallEvent::Call(CallMachineEvent::Consent(c)));
    }

    /// The consent dialog: who proposes what, Agree or Decline; the indicator everyone sees
    /// with who agreed; withdrawing; the reason when it stops.
    #[test]
    fn recording_needs_everyones_consent_and_shows_while_on() {
        let mut room = Room::new("Standup".into(), "abc-defg-hij".into(), ON);
        assert_eq!(
            click(&mut room, "Record"),
            [Event::Record {
                title: "Standup recording".into()
            }]
        );
        consent(
            &mut room,
            ConsentEvent::Asked {
                recipients: vec![],
                joined: vec![],
                recording: assent_shared::ids::RecordingId::random(),
                title: "Design review".into(),
                proposer: "Bob".into(),
                scope: Scope::LocalAndCloud,
                retention_days: 30,
                epoch: 1,
            },
        );
        consent(
            &mut room,
            ConsentEvent::Status {
                state: StatusKind::Collecting,
                title: "Design review".into(),
                agreed: vec!["Bob".into()],
                waiting_for: vec!["Ann".into()],
            },
        );
        assert!(shows(&room, "Bob asks to record “Design review”"));
        assert!(shows(&room, "Already agreed: Bob."));
        assert!(shows(&room, "waiting for: Ann"));
        assert!(
            !shows(&room, "Withdraw consent"),
            "nothing to withdraw before agreeing"
        );
        assert!(
            click(&mut room, "Record").is_empty(),
            "one proposal at a time"
        );
        assert_eq!(click(&mut room, "Agree"), [Event::Agree]);
        assert!(
            !shows(&room, "Bob asks to record “Design review”"),
            "answered"
        );
        consent(
            &mut room,
            ConsentEvent::Status {
                state: StatusKind::Recording,
                title: "Design review".into(),
                agreed: vec!["Bob".into(), "Ann".into()],
                waiting_for: vec![],
            },
        );
        assert_eq!(room.recording_state(), Some(StatusKind::Recording));
        assert!(shows(&room, "● Recording “Design review”"));
        assert!(shows(&room, "agreed: Bob, Ann"));
        assert_eq!(click(&mut room, "Withdraw consent"), [Event::Withdraw]);
        consent(
            &mut room,
            ConsentEvent::Ended {
                reason: "Ann withdrew consent".into(),
            },
        );
        assert_eq!(room.recording_state(), None);
        assert!(shows(&room, "Recording stopped: Ann withdrew consent."));
        // A new proposal, declined this time.
        consent(
            &mut room,
            ConsentEvent::Asked {
                recipients: vec![],
                joined: vec![],
                recording: assent_shared::ids::RecordingId::random(),
                title: "Again".into(),
                proposer: "Bob".into(),
                scope: Scope::Local,
                retention_days: 7,
                epoch: 2,
            },
        );
        assert!(shows(&room, "Bob asks to record “Again”"));
        assert_eq!(click(&mut room, "Decline"), [Event::Decline]);
        // A changed key: the safety number to compare; "It matches" remembers it.
        room.on_call_event(CallEvent::Call(CallMachineEvent::KeyChanged {
            peer: PeerId(7),
            email: "bob@example.org".into(),
            name: "Bob".into(),
            safety_number: "12345 67890 13579 24680".into(),
        }));
        assert!(shows(
            &room,
            "⚠ Bob (bob@example.org)'s key has changed since you last met"
        ));
        assert!(shows(&room, "12345 67890 13579 24680"));
        assert_eq!(
            click(&mut room, "It matches"),
            [Event::KeyCompared(PeerId(7))]
        );
        assert!(!shows(&room, "12345 67890 13579 24680"));
        // Screen and hand go to the others as media state.
        let sharing = click(&mut room, "Share screen");
        assert!(matches!(sharing.as_slice(), [Event::SetMedia(m)] if m.screen && !m.hand));
        let hand = click(&mut room, "Raise hand");
        assert!(matches!(hand.as_slice(), [Event::SetMedia(m)] if m.screen && m.hand));
        assert!(shows(&room, "Stop sharing") && shows(&room, "Lower hand"));
        // The next recording's status clears the note about the last one.
        consent(
            &mut room,
            ConsentEvent::Status {
                state: StatusKind::Recording,
                title: "Again".into(),
                agreed: vec!["Bob".into(), "Ann".into()],
                waiting_for: vec![],
            },
        );
        assert!(!shows(&room, "Recording stopped: Ann withdrew consent."));
    }
    #[test]
    fn keys_show_how_far_they_are_trusted_and_the_dialog_names_every_recipient() {
        use assent_engine::call::consent::Recipient;
        let mut room = Room::new("Trust".into(), "abc-defg-hij".into(), ON);
        room.on_call_event(CallEvent::Call(CallMachineEvent::Joined {
            call: assent_shared::CallId([1; 16]),
            me: PeerId(1),
            resumed: false,
        }));
        room.on_call_event(CallEvent::Call(CallMachineEvent::ParticipantJoined {
            peer: PeerId(2),
            user: assent_shared::ids::UserId([2; 16]),
            email: "bob@example.org".into(),
            name: "Bob".into(),
            arrived: true,
        }));
        assert!(shows(&room, "Bob · checking their key… · connecting…"));
        // The recording dialog names everyone it is encrypted to, and who joined.
        consent(
            &mut room,
            ConsentEvent::Asked {
                recipients: vec![
                    Recipient {
                        name: "Ann".into(),
                        email: "ann@example.org".into(),
                        verified: true,
                        proven: true,
                        fingerprint: "11111 22222".into(),
                        you: true,
                    },
                    Recipient {
                        name: "Bob".into(),
                        email: "bob@example.org".into(),
                        verified: false,
                        proven: false,
                        fingerprint: "33333 44444".into(),
                        you: false,
                    },
                ],
                joined: vec!["Bob".into()],
                recording: assent_shared::ids::RecordingId::random(),
                title: "Review".into(),
                proposer: "Ann".into(),
                scope: Scope::Local,
                retention_days: 7,
                epoch: 1,
            },
        );
        assert!(shows(
            &room,
            "Bob joined: go on recording with them in the call?"
        ));
        assert!(shows(&room, "Bob <bob@example.org>"));
        assert!(shows(&room, "· key not checked yet · 33333 44444"));
        // The directory proves Bob's key: tile, dialog and people panel say so.
        let number = "12345 67890 12345 67890 12345 67890 12345 67890 12345 67890 12345 67890";
        room.on_call_event(CallEvent::Call(CallMachineEvent::KeyTrusted {
            peer: PeerId(2),
            compared: false,
            safety_number: number.into(),
        }));
        assert!(shows(&room, "Bob · not verified · connecting…"));
        assert!(shows(&room, "· not verified · 33333 44444"));
        click(&mut room, "People (2)");
        assert!(shows(&room, "bob@example.org · participant"));
        assert!(shows(
            &room,
            "12345 67890 12345 67890 12345 67890\n12345 67890 12345 67890 12345 67890"
        ));
        assert!(click(&mut room, "QR code").is_empty());
        assert!(shows(&room, "Hide QR code"));
        assert_eq!(
            click(&mut room, "It matches"),
            [Event::MarkVerified(PeerId(2))]
        );
        room.on_call_event(CallEvent::Call(CallMachineEvent::KeyTrusted {
            peer: PeerId(2),
            compared: true,
            safety_number: number.into(),
        }));
        assert!(shows(&room, "✓ Verified: safety number compared"));
        assert!(shows(&room, "Bob · ✓ verified · connecting…"));
        // The server caught lying: a banner nobody can miss.
        room.on_call_event(CallEvent::Call(CallMachineEvent::Equivocation {
            evidence: Box::new(equivocation()),
        }));
        assert!(shows(&room, "⚠ The server is lying about keys"));
    }

    fn equivocation() -> assent_shared::transparency::Equivocation {
        use assent_shared::transparency::{ROOT_VERSION, RootBody, SignedRoot};
        let k = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
        let body = |h: u8| RootBody {
            version: ROOT_VERSION,
            epoch: 4,
            root_hash: assent_shared::Digest([h; 32]),
            previous: assent_shared::Digest([0; 32]),
            time: assent_shared::Timestamp(1),
        };
        assent_shared::transparency::Equivocation {
            a: SignedRoot::sign(&k, body(1)),
            b: SignedRoot::sign(&k, body(2)),
        }
    }
}
