//! The call's bars: at the top the meeting's name, who is here and the layout switch; at the
//! bottom, centred, the controls (microphone, camera, share, hand, record, people, chat,
//! leave), each an icon with its name under it, a tooltip naming its shortcut and a colour
//! for its state (a muted microphone is red).

use iced::widget::{button, column, container, row, space, stack, text};
use iced::{Center, Element, Fill};

use super::super::theme::button::{Control, control};
use super::super::theme::{self, Icon, icon, size, space as gap, stage, surface};
use super::tiles::with_tip;
use super::{Message, Room};

/// The bar's height.
const BAR: f32 = 60.0;
/// The width the bar needs with its labels; narrower, it shows icons only (the tooltips still
/// name them).
const FULL: f32 = 8.0 * 96.0 + 9.0 * gap::S + 2.0 * gap::L;

/// One control: `label` under `i` (only `i` when `compact`), in `state`; `tip` names what it
/// does and its shortcut.
fn control_button<'a>(
    compact: bool,
    i: Icon,
    label: &'a str,
    state: Control,
    tip: &str,
    on_press: Option<Message>,
    badge: Option<usize>,
) -> Element<'a, Message> {
    let color = match state {
        Control::Active => stage::BACKGROUND,
        Control::Normal => stage::TEXT,
        Control::Off | Control::Leave => iced::Color::WHITE,
    };
    let mut caption = row![text(label).size(size::CAPTION)]
        .spacing(gap::XS)
        .align_y(Center);
    if let Some(n) = badge.filter(|n| *n > 0) {
        caption = caption.push(
            container(text(n.to_string()).size(10))
                .padding([0, 5])
                .style(surface::badge(stage::RED)),
        );
    }
    let content = if compact {
        column![icon(i, 22.0, Some(color))]
    } else {
        column![icon(i, 22.0, Some(color)), caption]
    };
    let b = button(content.spacing(gap::XS).align_x(Center).width(Fill))
        .padding([gap::S, gap::S])
        .width(if compact { 52.0 } else { 96.0 })
        .height(BAR)
        .style(control(state))
        .on_press_maybe(on_press);
    with_tip(b.into(), tip.to_string())
}

impl Room {
    /// The meeting's name and code, who is here; the layout switch with three people or more.
    pub(super) fn top_bar(&self) -> Element<'_, Message> {
        let people = self.connected();
        let who = match (self.joined, people) {
            (false, _) => "joining…".to_string(),
            (true, 0) => "waiting for others".to_string(),
            (true, 1) => "you and 1 other".to_string(),
            (true, n) => format!("you and {n} others"),
        };
        let mut right = row![].spacing(gap::S).align_y(Center);
        if self.people.len() >= 2 {
            let (i, label) = if self.speaker_view {
                (Icon::Grid, "Grid view")
            } else {
                (Icon::Speaker, "Speaker view")
            };
            right = right.push(with_tip(
                button(
                    row![
                        icon(i, 16.0, Some(stage::TEXT)),
                        text(label).size(size::SMALL)
                    ]
                    .spacing(gap::XS)
                    .align_y(Center),
                )
                .padding([gap::XS, gap::S])
                .style(control(Control::Normal))
                .on_press(Message::ToggleLayout)
                .into(),
                "Ctrl+Shift+V".into(),
            ));
        }
        let left = column![
            text(self.title.as_str())
                .size(size::TITLE)
                .style(theme::on_stage),
            text(format!("{} · {who}", self.code))
                .size(size::SMALL)
                .style(theme::on_stage_soft),
        ]
        .spacing(2);
        let mut layers = stack![row![left, space::horizontal(), right].align_y(Center)];
        if let Some(pill) = self.recording_pill() {
            layers = layers.push(container(pill).center_x(Fill));
        }
        layers.into()
    }

    /// The controls, centred; leave (or back, once the call has ended) at the end. Icons only
    /// where the labels do not fit.
    pub(super) fn control_bar(&self) -> Element<'_, Message> {
        iced::widget::responsive(move |size| self.controls(size.width < FULL))
            .height(BAR)
            .into()
    }

    fn controls(&self, compact: bool) -> Element<'_, Message> {
        let ended = self.ended.is_some();
        let live = |m: Message| (!ended).then_some(m);
        let people = self.people.len() + 1;
        let bar = row![
            if self.local.audio {
                control_button(
                    compact,
                    Icon::Mic,
                    "Mute",
                    Control::Normal,
                    "Mute (Ctrl+D)",
                    live(Message::ToggleMic),
                    None,
                )
            } else {
                control_button(
                    compact,
                    Icon::MicOff,
                    "Unmute",
                    Control::Off,
                    "Unmute (Ctrl+D)",
                    live(Message::ToggleMic),
                    None,
                )
            },
            if self.local.video {
                control_button(
                    compact,
                    Icon::Video,
                    "Camera off",
                    Control::Normal,
                    "Turn the camera off (Ctrl+E)",
                    live(Message::ToggleCamera),
                    None,
                )
            } else {
                control_button(
                    compact,
                    Icon::VideoOff,
                    "Camera on",
                    Control::Off,
                    "Turn the camera on (Ctrl+E)",
                    live(Message::ToggleCamera),
                    None,
                )
            },
            if self.local.screen {
                control_button(
                    compact,
                    Icon::StopShare,
                    "Stop sharing",
                    Control::Active,
                    "Stop sharing the screen (Ctrl+Shift+E)",
                    live(Message::ToggleScreen),
                    None,
                )
            } else {
                control_button(
                    compact,
                    Icon::Share,
                    "Share screen",
                    Control::Normal,
                    "Share the screen (Ctrl+Shift+E)",
                    live(Message::ToggleScreen),
                    None,
                )
            },
            control_button(
                compact,
                Icon::Hand,
                if self.local.hand {
                    "Lower hand"
                } else {
                    "Raise hand"
                },
                if self.local.hand {
                    Control::Active
                } else {
                    Control::Normal
                },
                "Raise or lower your hand (Ctrl+Alt+H)",
                live(Message::ToggleHand),
                None,
            ),
            control_button(
                compact,
                Icon::Record,
                "Record",
                Control::Normal,
                "Ask everyone to agree to a recording (Ctrl+Shift+R)",
                (!ended && self.recording.is_none()).then_some(Message::Record),
                None,
            ),
            space::horizontal().width(gap::L),
            control_button(
                compact,
                Icon::People,
                "People",
                if self.showing_people() {
                    Control::Active
                } else {
                    Control::Normal
                },
                &format!("{people} in the call: keys and safety numbers (Ctrl+Shift+P)"),
                Some(Message::TogglePeople),
                None,
            ),
            control_button(
                compact,
                Icon::Chat,
                "Chat",
                if self.showing_chat() {
                    Control::Active
                } else {
                    Control::Normal
                },
                "Chat, end to end encrypted (Ctrl+Shift+C)",
                Some(Message::ToggleChat),
                Some(self.unread),
            ),
            space::horizontal().width(gap::L),
            control_button(
                compact,
                Icon::Leave,
                if ended { "Back" } else { "Leave" },
                Control::Leave,
                if ended {
                    "Back home (Escape)"
                } else {
                    "Leave the call (Ctrl+Shift+L)"
                },
                Some(Message::Leave),
                None,
            ),
        ]
        .spacing(gap::S)
        .align_y(Center);
        container(bar).center_x(Fill).into()
    }
}
