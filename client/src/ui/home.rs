//! Home: who is signed in; the actions as large tiles (a new meeting, schedule, the personal
//! room, recordings); join by code or `assent://` link; the meeting created or found with its
//! link to copy; upcoming meetings and recent calls as lists with people's initials.

use assent_shared::api::{CallHistory, Meeting};
use iced::widget::{Id, button, column, container, row, scrollable, space, text, text_input};
use iced::{Center, Element, Fill, Length};
use jiff::tz::TimeZone;

use super::io::Overview;
use super::theme::{Icon, icon, size, space as gap};
use super::{theme, time};

pub const JOIN: Id = Id::new("home-join");

#[derive(Debug, Clone)]
pub enum Message {
    JoinInput(String),
    Join,
    NewMeeting,
    Schedule,
    PersonalRoom,
    Recordings,
    Settings,
    Show(String),
    /// Join the call of the meeting on show.
    Enter,
    SignOut,
    /// Copy the link of the meeting on show.
    CopyLink,
    // The answers to what the app asked for.
    /// A meeting created or found (or why not).
    Meeting(Result<MeetingCard, String>),
    /// What is coming up, what happened, and the key directory's alarms.
    Overview(Overview),
    SignedOut(Result<(), String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Look up the meeting behind this code (already taken out of a link).
    Join(String),
    NewMeeting,
    Schedule,
    /// Open the recordings list.
    Recordings,
    /// Open the settings.
    Settings,
    PersonalRoom,
    Enter(MeetingCard),
    SignOut,
    /// Signed out: back to the start.
    SignedOut,
    /// Put this text on the clipboard.
    Copy(String),
}

/// A meeting the server admitted us to, or just created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingCard {
    pub code: String,
    pub title: String,
    pub created: bool,
}

#[derive(Debug)]
pub struct Home {
    name: String,
    email: String,
    join: String,
    busy: bool,
    error: Option<String>,
    meeting: Option<MeetingCard>,
    upcoming: Vec<Meeting>,
    history: Vec<CallHistory>,
    /// What the key directory checks found wrong (kept on this device as evidence).
    alarms: Vec<String>,
    tz: TimeZone,
}

impl Home {
    pub fn new(name: String, email: String, tz: TimeZone) -> Home {
        Home {
            name,
            email,
            join: String::new(),
            busy: false,
            error: None,
            meeting: None,
            upcoming: Vec::new(),
            history: Vec::new(),
            alarms: Vec::new(),
            tz,
        }
    }

    /// What the server says is coming up and what happened.
    fn on_overview(&mut self, upcoming: Vec<Meeting>, history: Vec<CallHistory>) {
        self.upcoming = upcoming;
        self.history = history;
    }

    /// The alarms the key directory checks raised on this device.
    fn on_alarms(&mut self, alarms: Vec<String>) {
        self.alarms = alarms;
    }

    /// Whether a key directory check raised an alarm on this device.
    pub fn alarms(&self) -> bool {
        !self.alarms.is_empty()
    }

    /// Who is signed in: name and email.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn email(&self) -> &str {
        &self.email
    }

    /// The meeting on show (created or found), if any.
    pub fn meeting(&self) -> Option<&MeetingCard> {
        self.meeting.as_ref()
    }

    pub fn update(&mut self, message: Message) -> Option<Event> {
        match message {
            Message::JoinInput(s) => {
                self.join = s;
                None
            }
            Message::Join => {
                let code = assent_engine::join_code(&self.join);
                if code.is_empty() || self.busy {
                    return None;
                }
                // The meeting is on show already: the second Enter joins it.
                if let Some(card) = self.meeting.as_ref().filter(|m| m.code == code) {
                    return Some(Event::Enter(card.clone()));
                }
                self.busy = true;
                self.error = None;
                Some(Event::Join(code))
            }
            Message::NewMeeting => {
                if self.busy {
                    return None;
                }
                self.busy = true;
                self.error = None;
                Some(Event::NewMeeting)
            }
            Message::Schedule => Some(Event::Schedule),
            Message::Recordings => Some(Event::Recordings),
            Message::Settings => Some(Event::Settings),
            Message::PersonalRoom => {
                if self.busy {
                    return None;
                }
                self.busy = true;
                self.error = None;
                Some(Event::PersonalRoom)
            }
            Message::Show(code) => {
                let m = self.upcoming.iter().find(|m| m.code == code)?;
                self.meeting = Some(MeetingCard {
                    code: m.code.clone(),
                    title: m.title.clone(),
                    created: false,
                });
                None
            }
            Message::Enter => self.meeting.clone().map(Event::Enter),
            Message::SignOut => Some(Event::SignOut),
            Message::CopyLink => self
                .meeting
                .as_ref()
                .map(|m| Event::Copy(format!("assent://join/{}", m.code))),
            Message::Meeting(Ok(card)) => {
                self.on_meeting(card);
                None
            }
            Message::Meeting(Err(e)) | Message::SignedOut(Err(e)) => {
                self.on_error(e);
                None
            }
            Message::Overview(o) => {
                self.on_overview(o.upcoming, o.history);
                self.on_alarms(o.alarms);
                None
            }
            Message::SignedOut(Ok(())) => Some(Event::SignedOut),
        }
    }

    fn on_meeting(&mut self, card: MeetingCard) {
        self.busy = false;
        self.error = None;
        self.meeting = Some(card);
    }

    fn on_error(&mut self, error: String) {
        self.busy = false;
        self.error = Some(error);
    }

    pub fn view(&self) -> Element<'_, Message> {
        let mut left = column![self.actions(), self.join()].spacing(gap::XL);
        if let Some(m) = &self.meeting {
            left = left.push(meeting_card(m));
        }
        if let Some(e) = &self.error {
            left = left.push(text(e.as_str()).style(iced::widget::text::danger));
        }
        if self.busy {
            left = left.push(text("Working…").style(theme::muted));
        }
        let mut body = column![self.header()].spacing(gap::XL);
        if !self.alarms.is_empty() {
            body = body.push(super::trust::directory_alarms(&self.alarms));
        }
        body = body.push(
            row![
                left.width(Length::FillPortion(5)),
                column![self.upcoming(), self.history()]
                    .spacing(gap::L)
                    .width(Length::FillPortion(4)),
            ]
            .spacing(gap::XL),
        );
        body = body.push(
            text(
                "Ctrl+N new meeting · Ctrl+S schedule · Ctrl+R recordings · Ctrl+, settings · \
                 F2 light/dark",
            )
            .size(size::CAPTION)
            .style(theme::muted),
        );
        scrollable(
            container(container(body).max_width(1120))
                .center_x(Fill)
                .padding(gap::XL),
        )
        .into()
    }

    /// Who is signed in; the settings and signing out.
    fn header(&self) -> Element<'_, Message> {
        row![
            theme::avatar(&self.name, 44.0),
            column![
                text(format!("Hello, {}", self.name)).size(theme::size::HEADING),
                text(self.email.as_str())
                    .size(size::BODY)
                    .style(theme::muted),
            ]
            .spacing(2),
            space::horizontal(),
            button(text("Settings"))
                .padding([gap::S, gap::M])
                .style(theme::button::quiet)
                .on_press(Message::Settings),
            button(text("Sign out"))
                .padding([gap::S, gap::M])
                .style(theme::button::quiet)
                .on_press(Message::SignOut),
        ]
        .spacing(gap::M)
        .align_y(Center)
        .into()
    }

    /// A meeting code or link, and Join.
    fn join(&self) -> Element<'_, Message> {
        let can_join = !self.busy && !assent_engine::join_code(&self.join).is_empty();
        column![
            text("Join a meeting").size(size::TITLE),
            row![
                text_input("Meeting code or assent:// link", &self.join)
                    .id(JOIN)
                    .on_input(Message::JoinInput)
                    .on_submit(Message::Join)
                    .padding(gap::M),
                button(text("Join"))
                    .padding([gap::M, gap::XL])
                    .style(theme::button::primary)
                    .on_press_maybe(can_join.then_some(Message::Join)),
            ]
            .spacing(gap::S)
            .align_y(Center),
        ]
        .spacing(gap::S)
        .into()
    }

    /// New meeting, schedule, personal room, recordings: large tiles, two by two.
    fn actions(&self) -> Element<'_, Message> {
        let idle = |m: Message| (!self.busy).then_some(m);
        let tile = |i: Icon, title: &'static str, hint: &'static str, main: bool, m| {
            action_tile(i, title, hint, main, m)
        };
        column![
            row![
                tile(
                    Icon::Video,
                    "New meeting",
                    "Start a call now (Ctrl+N)",
                    true,
                    idle(Message::NewMeeting)
                ),
                tile(
                    Icon::Calendar,
                    "Schedule…",
                    "Plan one and invite people (Ctrl+S)",
                    false,
                    Some(Message::Schedule)
                ),
            ]
            .spacing(gap::M),
            row![
                tile(
                    Icon::Door,
                    "Personal room",
                    "Your own meeting, always open",
                    false,
                    idle(Message::PersonalRoom)
                ),
                tile(
                    Icon::Film,
                    "Recordings",
                    "Consented, encrypted (Ctrl+R)",
                    false,
                    Some(Message::Recordings)
                ),
            ]
            .spacing(gap::M),
        ]
        .spacing(gap::M)
        .into()
    }

    fn upcoming(&self) -> Element<'_, Message> {
        let mut list = column![text("Upcoming").size(size::TITLE)].spacing(gap::S);
        if self.upcoming.is_empty() {
            list = list.push(
                text("Nothing scheduled.")
                    .size(size::SMALL)
                    .style(theme::muted),
            );
        }
        for m in &self.upcoming {
            let when = match (m.starts_at, m.duration_min) {
                (Some(t), Some(d)) => format!("{} · {d} min", time::when(t, &self.tz)),
                (Some(t), None) => time::when(t, &self.tz),
                _ => "any time".into(),
            };
            list = list.push(
                button(
                    row![
                        container(icon(Icon::Calendar, 18.0, None)).padding(gap::S),
                        column![
                            text(m.title.as_str()),
                            text(when).size(size::SMALL).style(theme::muted),
                        ]
                        .spacing(2),
                        space::horizontal(),
                        text(format!("with {}", m.host_name))
                            .size(size::SMALL)
                            .style(theme::muted),
                    ]
                    .spacing(gap::S)
                    .align_y(Center),
                )
                .padding(gap::S)
                .width(Fill)
                .style(button::subtle)
                .on_press(Message::Show(m.code.clone())),
            );
        }
        theme::card(list)
    }

    fn history(&self) -> Element<'_, Message> {
        let mut list = column![text("Recent calls").size(size::TITLE)].spacing(gap::S);
        if self.history.is_empty() {
            list = list.push(text("No calls yet.").size(size::SMALL).style(theme::muted));
        }
        for c in self.history.iter().take(10) {
            let length = match c.duration_ms {
                Some(ms) => time::duration(ms),
                None => "going on".into(),
            };
            let people: Vec<&str> = c
                .participants
                .iter()
                .map(|p| p.display_name.as_str())
                .collect();
            // Up to three people's initials, then how many more.
            let mut faces = row![].spacing(2).align_y(Center);
            for name in people.iter().take(3) {
                faces = faces.push(theme::avatar(name, 26.0));
            }
            if people.len() > 3 {
                faces = faces.push(
                    text(format!("+{}", people.len() - 3))
                        .size(size::CAPTION)
                        .style(theme::muted),
                );
            }
            list = list.push(
                row![
                    column![
                        text(c.title.as_str()),
                        text(format!("{} · {length}", time::when(c.started_at, &self.tz)))
                            .size(size::SMALL)
                            .style(theme::muted),
                        text(people.join(", "))
                            .size(size::SMALL)
                            .style(theme::muted),
                    ]
                    .spacing(2)
                    .width(Fill),
                    faces,
                ]
                .spacing(gap::S)
                .align_y(Center),
            );
        }
        theme::card(list)
    }
}

/// One of Home's actions: an icon, its name and a hint; the main one in the accent.
fn action_tile<'a>(
    i: Icon,
    title: &'static str,
    hint: &'static str,
    main: bool,
    on_press: Option<Message>,
) -> Element<'a, Message> {
    let accent = move |theme: &iced::Theme| {
        if main {
            theme.extended_palette().primary.base.text
        } else {
            theme.extended_palette().primary.base.color
        }
    };
    let content = column![
        iced::widget::svg(i.handle())
            .width(28)
            .height(28)
            .style(move |theme: &iced::Theme, _| iced::widget::svg::Style {
                color: Some(accent(theme)),
            }),
        space::vertical(),
        text(title).size(size::TITLE),
        text(hint).size(size::SMALL),
    ]
    .spacing(gap::XS);
    button(content)
        .padding(gap::L)
        .width(Fill)
        .height(128)
        .style(if main {
            theme::button::primary_tile
        } else {
            theme::button::tile
        })
        .on_press_maybe(on_press)
        .into()
}

/// The meeting created or found: its title, code and link (copied in one click), and Join
/// now.
fn meeting_card(m: &MeetingCard) -> Element<'_, Message> {
    let heading = if m.created {
        "Your new meeting"
    } else {
        "Meeting found"
    };
    let link = format!("assent://join/{}", m.code);
    theme::card(
        column![
            text(heading).size(size::SMALL).style(theme::muted),
            text(m.title.as_str()).size(size::TITLE),
            row![
                text("Code").width(60),
                text(m.code.as_str()).font(iced::Font::MONOSPACE)
            ],
            row![
                text("Link").width(60),
                text(link).font(iced::Font::MONOSPACE),
                space::horizontal(),
                button(
                    row![
                        theme::icon::accent(Icon::Copy, 14.0),
                        text("Copy link").size(size::SMALL)
                    ]
                    .spacing(gap::XS)
                    .align_y(Center)
                )
                .padding([gap::XS, gap::S])
                .style(theme::button::quiet)
                .on_press(Message::CopyLink),
            ]
            .align_y(Center),
            row![
                text("Share the code or the link.")
                    .size(size::SMALL)
                    .style(theme::muted),
                space::horizontal(),
                button(text("Join now"))
                    .padding([gap::S, gap::L])
                    .style(theme::button::primary)
                    .on_press(Message::Enter),
            ]
            .align_y(Center),
        ]
        .spacing(gap::S),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_test::simulator;

    fn click(home: &mut Home, label: &str) -> Vec<Event> {
        let mut ui = simulator(home.view());
        ui.click(label).expect("the control is on screen");
        let messages: Vec<Message> = ui.into_messages().collect();
        messages
            .into_iter()
            .filter_map(|m| home.update(m))
            .collect()
    }

    fn type_into(home: &mut Home, id: Id, s: &str) {
        let mut ui = simulator(home.view());
        ui.click(id).expect("the field is on screen");
        let _ = ui.typewrite(s);
        let messages: Vec<Message> = ui.into_messages().collect();
        for m in messages {
            assert_eq!(home.update(m), None, "typing asks for nothing");
        }
    }

    fn shows(home: &Home, s: &str) -> bool {
        simulator(home.view()).find(s).is_ok()
    }

    #[test]
    fn joining_takes_the_code_out_of_a_link_and_shows_the_meeting() {
        let mut home = Home::new("Ada".into(), "ada@example.org".into(), TimeZone::UTC);
        // Nothing typed: Join is disabled.
        assert!(click(&mut home, "Join").is_empty());
        type_into(&mut home, JOIN, "assent://join/abc-defg-hij");
        assert_eq!(
            click(&mut home, "Join"),
            [Event::Join("abc-defg-hij".into())]
        );
        home.on_meeting(MeetingCard {
            code: "abc-defg-hij".into(),
            title: "Standup".into(),
            created: false,
        });
        assert!(shows(&home, "Standup"));
        assert!(shows(&home, "assent://join/abc-defg-hij"));
        // Join again (Enter a second time) or "Join now": into the call.
        let card = MeetingCard {
            code: "abc-defg-hij".into(),
            title: "Standup".into(),
            created: false,
        };
        assert_eq!(click(&mut home, "Join"), [Event::Enter(card.clone())]);
        assert_eq!(click(&mut home, "Join now"), [Event::Enter(card)]);
        // The link goes to the clipboard in one click.
        assert_eq!(
            click(&mut home, "Copy link"),
            [Event::Copy("assent://join/abc-defg-hij".into())]
        );
    }

    #[test]
    fn upcoming_meetings_and_recent_calls_are_listed() {
        use assent_shared::api::{HistoryParticipant, MeetingKind};
        use assent_shared::ids::UserId;
        let mut home = Home::new("Ada".into(), "ada@example.org".into(), TimeZone::UTC);
        assert!(shows(&home, "Nothing scheduled."));
        assert!(shows(&home, "No calls yet."));
        let meeting = Meeting {
            id: assent_shared::ids::MeetingId([1; 16]),
            code: "abc-defg-hij".into(),
            kind: MeetingKind::Scheduled,
            title: "Planning".into(),
            host: UserId::random(),
            host_name: "Bob".into(),
            starts_at: Some(1_796_135_400_000),
            duration_min: Some(45),
            locked: false,
            ended: false,
            role: None,
        };
        let call = CallHistory {
            call_id: "c1".into(),
            meeting_code: "xyz-abcd-efg".into(),
            title: "Standup".into(),
            started_at: 1_796_000_000_000,
            ended_at: Some(1_796_000_000_000 + 754_000),
            duration_ms: Some(754_000),
            participants: ["Ada", "Bob"]
                .map(|n| HistoryParticipant {
                    user_id: UserId::random(),
                    display_name: n.into(),
                    joined_at: 1_796_000_000_000,
                    left_at: None,
                })
                .to_vec(),
        };
        home.on_overview(vec![meeting], vec![call]);
        assert!(shows(&home, "Tue 1 Dec 2026, 14:30 · 45 min"));
        assert!(shows(&home, "Mon 30 Nov 2026, 00:53 · 12 min"));
        assert!(shows(&home, "Ada, Bob"));
        // An upcoming meeting opens its card (code and link to share).
        assert!(click(&mut home, "Planning").is_empty());
        assert!(shows(&home, "assent://join/abc-defg-hij"));
    }

    #[test]
    fn a_new_meeting_is_asked_for_once() {
        let mut home = Home::new("Ada".into(), "ada@example.org".into(), TimeZone::UTC);
        assert_eq!(click(&mut home, "New meeting"), [Event::NewMeeting]);
        assert!(
            click(&mut home, "New meeting").is_empty(),
            "busy until the server answers"
        );
        home.on_error("cannot reach the server".into());
        assert!(shows(&home, "cannot reach the server"));
    }

    #[test]
    fn key_directory_alarms_show_on_home() {
        let mut home = Home::new("Ada".into(), "ada@example.org".into(), TimeZone::UTC);
        assert!(!shows(
            &home,
            "⚠ Someone may be reading what is meant for you"
        ));
        let alarm =
            "a key this device never held was published for ada@example.org (version 2, epoch 7)";
        home.on_alarms(vec![alarm.into()]);
        assert!(shows(
            &home,
            "⚠ Someone may be reading what is meant for you"
        ));
        assert!(shows(&home, &format!("• {alarm}")));
        // The buttons still work under it.
        assert_eq!(click(&mut home, "Recordings"), [Event::Recordings]);
    }
}
