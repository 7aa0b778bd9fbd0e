//! The meeting room: the call's dark stage with a tile per person (their video or initials,
//! who is muted, speaking, verified, how their connection is), laid out for the number of
//! people or around the one speaking; the control bar; the chat and the people in a side
//! panel; the consent dialog as a modal and the recording pill everyone sees.

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
use iced::widget::Id;
use pictures::Picture;

mod bar;
mod chat;
mod consent;
pub mod layout;
mod people;
mod pictures;
mod stage;
#[cfg(test)]
mod tests;
mod tiles;

pub use layout::{Corner, Panel};

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
    /// Open the people panel (or close it).
    TogglePeople,
    /// Open the chat panel (or close it).
    ToggleChat,
    ClosePanel,
    /// The speaker view (the one speaking large) or the grid.
    ToggleLayout,
    /// Move our own small picture to the next corner.
    MovePip,
    /// Show (or hide) who agreed to the recording.
    ToggleAgreed,
    /// Copy the meeting's link to invite someone.
    CopyInvite,
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
    /// Put this text on the clipboard.
    Copy(String),
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
    /// Their latest picture.
    frame: Option<Picture>,
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
    /// The side panel that is open, if one is.
    panel: Option<Panel>,
    /// Chat messages that came while the chat was closed.
    unread: usize,
    /// The one speaking large, the others in a strip (with three people or more).
    speaker_view: bool,
    /// Where our own small picture sits in a call of two.
    pip: Corner,
    /// Short notices (someone joined, left, asked to record), fading out.
    toasts: Vec<(String, std::time::Instant)>,
    /// The time at the last look (the display's pace): what fades and counts goes by it.
    now: std::time::Instant,
    /// When the recording last started, for its elapsed time.
    recording_since: Option<std::time::Instant>,
    /// Who agreed is shown under the recording pill.
    show_agreed: bool,
    /// The last one of the others who spoke (large in the speaker view while we speak).
    last_speaker: Option<PeerId>,
    /// Keys that changed since the last meeting, not yet compared.
    key_changes: Vec<KeyChange>,
    recording: Option<Recording>,
    notice: Option<String>,
    /// Our own picture as sent.
    self_view: Option<Picture>,
    /// The size each picture is laid out at, and the frame rate each tile shows.
    shown: pictures::Shown,
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
            panel: None,
            unread: 0,
            speaker_view: false,
            pip: Corner::BottomRight,
            toasts: Vec::new(),
            now: std::time::Instant::now(),
            recording_since: None,
            show_agreed: false,
            last_speaker: None,
            key_changes: Vec::new(),
            recording: None,
            notice: None,
            self_view: None,
            shown: Default::default(),
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

    /// Whether the side panel shows the people (their keys).
    pub fn showing_people(&self) -> bool {
        self.panel == Some(Panel::People)
    }

    /// Whether the side panel shows the chat.
    pub fn showing_chat(&self) -> bool {
        self.panel == Some(Panel::Chat)
    }

    /// What the window looks like, in a few words: when it changes, the whole window is
    /// redrawn (see `App::style`).
    pub fn look(&self) -> impl PartialEq + use<> {
        (
            self.panel,
            self.speaker_view,
            self.pip,
            self.people.len(),
            self.show_agreed,
            self.key_changes.len(),
        )
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
                self.toggle_panel(Panel::People);
                None
            }
            Message::ToggleChat => {
                self.toggle_panel(Panel::Chat);
                None
            }
            Message::ClosePanel => {
                self.panel = None;
                None
            }
            Message::ToggleLayout => {
                self.speaker_view = !self.speaker_view;
                None
            }
            Message::MovePip => {
                self.pip = self.pip.next();
                None
            }
            Message::ToggleAgreed => {
                self.show_agreed = !self.show_agreed && self.recording.is_some();
                None
            }
            Message::CopyInvite => Some(Event::Copy(self.invite_link())),
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

    /// Open `panel`, or close it if it is the one open.
    fn toggle_panel(&mut self, panel: Panel) {
        self.panel = (self.panel != Some(panel)).then_some(panel);
        if self.panel == Some(Panel::Chat) {
            self.unread = 0;
        }
    }

    /// The link that invites someone to this meeting.
    pub fn invite_link(&self) -> String {
        format!("assent://join/{}", self.code)
    }

    /// A short notice that fades.
    fn toast(&mut self, text: String) {
        self.toasts.push((text, self.now));
        // A burst of arrivals keeps the last few.
        if self.toasts.len() > 3 {
            self.toasts.remove(0);
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
                if self.panel != Some(Panel::Chat) {
                    self.unread += 1;
                }
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
    /// at the display's pace); tell the engine the size each picture is laid out at. True when
    /// the tiles' frame rates were just measured (once a second).
    pub fn on_frames(&mut self, frames: &FrameSlots, levels: &Levels) -> bool {
        let shown = &mut self.shown;
        let mut newer = |slot: &mut Option<Picture>, source: Source| {
            if let Some(f) = frames.latest(source)
                && slot.as_ref().is_none_or(|p| p.seq != f.seq)
            {
                *slot = Some(Picture::of(f));
                shown.count(source);
            }
        };
        for (peer, person) in self.people.iter_mut() {
            newer(&mut person.frame, Source::Peer(*peer));
        }
        newer(&mut self.self_view, Source::Local);
        self.shown.tell(frames);
        let now = std::time::Instant::now();
        let measured = self.shown.measure(now);
        self.on_levels(levels.snapshot(), now);
        measured
    }

    /// The pictures a second each tile showed over the last second, by name, with the size
    /// it is shown at.
    pub fn tile_rates(&self) -> Vec<(String, f32, assent_engine::View)> {
        self.shown
            .rates()
            .into_iter()
            .map(|(source, rate, view)| {
                let name = match source {
                    Source::Local => "You".to_string(),
                    Source::Peer(p) => self
                        .people
                        .get(&p)
                        .map_or_else(|| p.to_string(), |person| person.name.clone()),
                };
                (name, rate, view)
            })
            .collect()
    }

    /// The sound levels now: who speaks (a muted person, ourselves included, does not).
    pub fn on_levels(&mut self, levels: Vec<(Source, f32)>, now: std::time::Instant) {
        self.now = now;
        self.toasts
            .retain(|(_, at)| now.saturating_duration_since(*at) < layout::TOAST_FOR);
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
        if let Some(Source::Peer(p)) = self.speaker.current() {
            self.last_speaker = Some(p);
        }
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
