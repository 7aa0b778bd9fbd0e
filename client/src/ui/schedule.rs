//! Schedule a meeting: title, local date and time, duration, invitees; checked as you type.

use assent_shared::api::{CreateMeeting, MeetingKind};
use iced::widget::{Id, button, column, container, row, space, text, text_input};
use iced::{Center, Element, Fill};
use jiff::tz::TimeZone;

use super::{theme, time};

pub const TITLE: Id = Id::new("schedule-title");
pub const DATE: Id = Id::new("schedule-date");
pub const TIME: Id = Id::new("schedule-time");
pub const DURATION: Id = Id::new("schedule-duration");
pub const INVITEES: Id = Id::new("schedule-invitees");

#[derive(Debug, Clone)]
pub enum Message {
    Title(String),
    Date(String),
    Time(String),
    Duration(String),
    Invitees(String),
    Submit,
    Cancel,
    /// The server's answer: the meeting scheduled, or why not.
    Scheduled(Result<super::home::MeetingCard, String>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Schedule(CreateMeeting),
    Cancel,
    /// Scheduled: back home, showing it.
    Scheduled(super::home::MeetingCard),
}

#[derive(Debug)]
pub struct Schedule {
    title: String,
    date: String,
    time: String,
    duration: String,
    invitees: String,
    /// Now (Unix ms) and the user's time zone: the form's only inputs from outside.
    now: u64,
    tz: TimeZone,
    busy: bool,
    error: Option<String>,
}

impl Schedule {
    pub fn new(now: u64, tz: TimeZone) -> Schedule {
        Schedule {
            title: String::new(),
            date: String::new(),
            time: String::new(),
            duration: "30".into(),
            invitees: String::new(),
            now,
            tz,
            busy: false,
            error: None,
        }
    }

    /// The request the form describes, or what is wrong with it (in the form's order).
    pub fn validate(&self) -> Result<CreateMeeting, Vec<String>> {
        let mut problems = Vec::new();
        let title = self.title.trim();
        if title.is_empty() {
            problems.push("Give the meeting a title.".to_string());
        } else if title.chars().count() > 200 {
            problems.push("The title is too long (200 characters at most).".to_string());
        }
        let starts_at = match time::parse_local(&self.date, &self.time, &self.tz) {
            Ok(ms) if ms <= self.now => {
                problems.push("The start is in the past.".to_string());
                None
            }
            Ok(ms) => Some(ms),
            Err(e) => {
                problems.push(e);
                None
            }
        };
        let duration = match self.duration.trim().parse::<u32>() {
            Ok(m) if (5..=24 * 60).contains(&m) => Some(m),
            _ => {
                problems.push("Duration: 5 to 1440 minutes.".to_string());
                None
            }
        };
        let invitees: Vec<String> = self
            .invitees
            .split([',', ';', ' ', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        for bad in invitees.iter().filter(|e| !plausible_email(e)) {
            problems.push(format!("{bad} is not an email address."));
        }
        match (problems.is_empty(), starts_at, duration) {
            (true, Some(starts_at), Some(duration)) => Ok(CreateMeeting {
                kind: MeetingKind::Scheduled,
                title: title.to_string(),
                starts_at: Some(starts_at),
                duration_min: Some(duration),
                invitees,
            }),
            _ => Err(problems),
        }
    }

    pub fn update(&mut self, message: Message) -> Option<Event> {
        match message {
            Message::Title(s) => self.title = s,
            Message::Date(s) => self.date = s,
            Message::Time(s) => self.time = s,
            Message::Duration(s) => self.duration = s,
            Message::Invitees(s) => self.invitees = s,
            Message::Cancel => return Some(Event::Cancel),
            Message::Submit => {
                if self.busy {
                    return None;
                }
                let request = self.validate().ok()?;
                self.busy = true;
                self.error = None;
                return Some(Event::Schedule(request));
            }
            Message::Scheduled(Ok(card)) => return Some(Event::Scheduled(card)),
            Message::Scheduled(Err(e)) => self.on_error(e),
        }
        None
    }

    fn on_error(&mut self, error: String) {
        self.busy = false;
        self.error = Some(error);
    }

    pub fn view(&self) -> Element<'_, Message> {
        let field = |label: &'static str,
                     placeholder: &'static str,
                     id: Id,
                     value: &str,
                     on: fn(String) -> Message| {
            column![
                text(label).size(14),
                text_input(placeholder, value)
                    .id(id)
                    .on_input(on)
                    .on_submit(Message::Submit)
                    .padding(8),
            ]
            .spacing(4)
        };
        let valid = self.validate();
        let mut form = column![
            text("Schedule a meeting").size(theme::size::HEADING),
            field(
                "Title",
                "Weekly planning",
                TITLE,
                &self.title,
                Message::Title
            ),
            row![
                field("Date", "2026-12-01", DATE, &self.date, Message::Date),
                field("Time", "14:30", TIME, &self.time, Message::Time),
                field("Minutes", "30", DURATION, &self.duration, Message::Duration),
            ]
            .spacing(12),
            text(format!(
                "Times are in your time zone ({}).",
                tz_name(&self.tz)
            ))
            .size(13)
            .style(theme::muted),
            field(
                "Invite (email addresses, separated by commas)",
                "bob@example.org, cat@example.org",
                INVITEES,
                &self.invitees,
                Message::Invitees
            ),
        ]
        .spacing(12)
        .width(560);
        // Problems show once the user has started; an untouched form is not scolded.
        let started = !(self.title.is_empty() && self.date.is_empty() && self.time.is_empty());
        if let (Err(problems), true) = (&valid, started) {
            let mut list = column![].spacing(2);
            for p in problems {
                list = list.push(text(p.clone()).size(13).style(text::danger));
            }
            form = form.push(list);
        }
        form = form.push(
            row![
                button(text("Cancel"))
                    .style(theme::button::secondary)
                    .on_press(Message::Cancel),
                space::horizontal(),
                button(text("Schedule"))
                    .padding([8, 16])
                    .on_press_maybe((valid.is_ok() && !self.busy).then_some(Message::Submit)),
            ]
            .align_y(Center),
        );
        if let Some(e) = &self.error {
            form = form.push(text(e.as_str()).style(text::danger));
        }
        container(form).center(Fill).padding(24).into()
    }
}

fn tz_name(tz: &TimeZone) -> String {
    tz.iana_name().unwrap_or("local time").to_string()
}

/// Enough of an address to be worth sending to the server (which checks it properly).
fn plausible_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && domain.contains('.') && !domain.ends_with('.')
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_test::simulator;

    const NOW: u64 = 1_796_000_000_000; // 2026-11-30T00:53Z

    fn type_into(form: &mut Schedule, id: Id, s: &str) {
        let mut ui = simulator(form.view());
        ui.click(id).expect("the field is on screen");
        let _ = ui.typewrite(s);
        let messages: Vec<Message> = ui.into_messages().collect();
        for m in messages {
            assert_eq!(form.update(m), None);
        }
    }

    fn click(form: &mut Schedule, label: &str) -> Vec<Event> {
        let mut ui = simulator(form.view());
        ui.click(label).expect("the control is on screen");
        let messages: Vec<Message> = ui.into_messages().collect();
        messages
            .into_iter()
            .filter_map(|m| form.update(m))
            .collect()
    }

    fn shows(form: &Schedule, s: &str) -> bool {
        simulator(form.view()).find(s).is_ok()
    }

    #[test]
    fn the_form_says_what_is_wrong_and_schedules_when_right() {
        let mut form = Schedule::new(NOW, TimeZone::UTC);
        assert!(
            !shows(&form, "Give the meeting a title."),
            "not scolded before starting"
        );
        type_into(&mut form, DATE, "2026-11-01");
        type_into(&mut form, TIME, "9am");
        assert!(shows(&form, "Give the meeting a title."));
        assert!(shows(&form, "Time: use the form 14:30."));
        assert!(
            click(&mut form, "Schedule").is_empty(),
            "disabled while wrong"
        );
        type_into(&mut form, TITLE, "Planning");
        form.update(Message::Time(String::new()));
        type_into(&mut form, TIME, "09:00");
        assert!(shows(&form, "The start is in the past."));
        form.update(Message::Date(String::new()));
        type_into(&mut form, DATE, "2026-12-01");
        type_into(&mut form, INVITEES, "bob@example.org, nobody");
        assert!(shows(&form, "nobody is not an email address."));
        form.update(Message::Invitees(String::new()));
        type_into(&mut form, INVITEES, "bob@example.org, cat@example.org");
        assert_eq!(
            click(&mut form, "Schedule"),
            [Event::Schedule(CreateMeeting {
                kind: MeetingKind::Scheduled,
                title: "Planning".into(),
                starts_at: Some(1_796_115_600_000),
                duration_min: Some(30),
                invitees: vec!["bob@example.org".into(), "cat@example.org".into()],
            })]
        );
        assert!(click(&mut form, "Schedule").is_empty(), "sent once");
        assert_eq!(click(&mut form, "Cancel"), [Event::Cancel]);
    }
}
