//! The room's view: the dark stage with the tiles in the layout for who is there, the bars,
//! the side panel when open, notices over the stage, and the consent dialog as a modal.

use assent_engine::Source;
use iced::widget::{button, center, column, container, opaque, row, stack, text};
use iced::{Bottom, Center, Element, Fill, Size, Top};

use super::super::theme::{self, Icon, icon, size, space as gap, stage, surface};
use super::layout::{self, Corner, Layout, Panel};
use super::tiles;
use super::{Message, Room};

/// Our own picture's size in a call of two.
const PIP: (f32, f32) = (240.0, 135.0);
/// The side panel's width.
const PANEL: f32 = 340.0;

impl Room {
    pub fn view(&self) -> Element<'_, Message> {
        // What this view lays out is what the window shows (`pictures.rs`).
        self.shown.relayout();
        let mut main = column![self.top_bar()].spacing(gap::M).height(Fill);
        if self.equivocation {
            main = main.push(super::super::trust::equivocation_banner());
        }
        if let Some(w) = self.key_warnings() {
            main = main.push(w);
        }
        if let Some(agreed) = self.agreed_card() {
            main = main.push(agreed);
        }
        main = main.push(
            stack![self.stage()]
                .push(self.notices())
                .width(Fill)
                .height(Fill),
        );
        main = main.push(self.control_bar());
        let mut body = row![main].spacing(gap::L).height(Fill);
        if let Some(panel) = self.panel {
            body = body.push(self.side(panel));
        }
        let room = container(body)
            .padding(gap::L)
            .width(Fill)
            .height(Fill)
            .style(surface::stage);
        let mut layers = stack![room];
        if let Some(dialog) = self.consent_dialog() {
            layers = layers.push(modal(dialog));
        }
        layers.into()
    }

    /// The tile numbered `t` (the others in order, then us) at `size`.
    fn tile(&self, t: usize, small: bool, size: Size) -> Element<'_, Message> {
        let speaking = self.speaking();
        let view = match self.people.iter().nth(t) {
            Some((id, p)) => tiles::person_view(*id, p, speaking == Some(Source::Peer(*id)), small),
            None => self.own_view(speaking == Some(Source::Local), small),
        };
        tiles::tile(view, size, &self.shown)
    }

    /// The layout for who is here now.
    pub(super) fn layout(&self) -> Layout {
        let others = self.people.len();
        let index = |peer| self.people.keys().position(|p| *p == peer);
        let speaking = match self.speaking() {
            Some(Source::Peer(p)) => index(p),
            Some(Source::Local) => Some(others),
            None => None,
        };
        let last = self.last_speaker.and_then(index);
        layout::layout(others, self.speaker_view, speaking, last, self.pip)
    }

    /// The tiles, laid out.
    fn stage(&self) -> Element<'_, Message> {
        match self.layout() {
            Layout::Alone => stack![
                tiles::grid(vec![vec![0]], move |t, size| self.tile(t, false, size)),
                self.waiting(),
            ]
            .into(),
            Layout::Pair { corner } => {
                let own = button(self.tile(1, true, Size::new(PIP.0, PIP.1)))
                    .padding(0)
                    .width(PIP.0)
                    .height(PIP.1)
                    .style(theme::button::on_stage)
                    .on_press(Message::MovePip);
                let (x, y) = match corner {
                    Corner::BottomRight => (iced::Right, Bottom),
                    Corner::BottomLeft => (iced::Left, Bottom),
                    Corner::TopLeft => (iced::Left, Top),
                    Corner::TopRight => (iced::Right, Top),
                };
                stack![
                    tiles::grid(vec![vec![0]], move |t, size| self.tile(t, false, size)),
                    container(super::tiles::with_tip(
                        own.into(),
                        "You: click to move to another corner".into()
                    ))
                    .width(Fill)
                    .height(Fill)
                    .align_x(x)
                    .align_y(y)
                    .padding(gap::M),
                ]
                .into()
            }
            Layout::Grid { rows } => tiles::grid(rows, move |t, size| self.tile(t, false, size)),
            Layout::Speaker { large, strip } => column![
                tiles::grid(vec![vec![large]], move |t, size| self.tile(t, false, size)),
                tiles::strip(
                    strip
                        .into_iter()
                        .map(|t| self.tile(t, true, tiles::STRIP_TILE))
                        .collect()
                ),
            ]
            .spacing(gap::S)
            .into(),
        }
    }

    /// Over our own picture while nobody else is here: the invitation.
    fn waiting(&self) -> Element<'_, Message> {
        let what = if self.joined {
            "Waiting for others to join"
        } else {
            "Joining…"
        };
        let link = self.invite_link();
        // Under the middle, where the initials are when the camera is off.
        container(
            container(
                column![
                    text(what).size(size::TITLE).style(theme::on_stage),
                    text("Invite people with this link:")
                        .size(size::SMALL)
                        .style(theme::on_stage_soft),
                    row![
                        text(link).size(size::BODY).style(theme::on_stage),
                        button(
                            row![
                                icon(Icon::Copy, 14.0, Some(stage::TEXT)),
                                text("Copy link").size(size::SMALL)
                            ]
                            .spacing(gap::XS)
                            .align_y(Center)
                        )
                        .padding([gap::XS, gap::S])
                        .style(theme::button::control(theme::button::Control::Normal))
                        .on_press(Message::CopyInvite),
                    ]
                    .spacing(gap::S)
                    .align_y(Center),
                ]
                .spacing(gap::S)
                .align_x(Center),
            )
            .padding(gap::L)
            .style(surface::label),
        )
        .center_x(Fill)
        .height(Fill)
        .align_y(Bottom)
        .padding(iced::Padding::ZERO.bottom(72))
        .into()
    }

    /// Notices at the bottom of the stage: the lasting one (a device gone, an error), talking
    /// while muted, the call's end, and the short ones fading. None while there are none: a
    /// layer over the stage costs the software renderer with each new picture.
    pub(super) fn notices(&self) -> Option<Element<'_, Message>> {
        // What to say, how visible, and whether it is a warning.
        let mut said: Vec<(String, f32, bool)> = Vec::new();
        for (s, at) in &self.toasts {
            let alpha = layout::toast_alpha(self.now.saturating_duration_since(*at));
            if alpha > 0.0 {
                said.push((s.clone(), alpha, false));
            }
        }
        if let Some(n) = &self.notice {
            said.push((n.clone(), 1.0, true));
        }
        if self.talking_while_muted() && self.ended.is_none() {
            said.push((
                "You are muted: Ctrl+D or Unmute to be heard.".into(),
                1.0,
                true,
            ));
        }
        if let Some(reason) = &self.ended {
            said.push((format!("The call has ended: {reason}."), 1.0, false));
        }
        if said.is_empty() {
            return None;
        }
        let mut lines = column![].spacing(gap::XS).align_x(Center);
        for (s, alpha, warn) in said {
            let color = if warn { stage::AMBER } else { stage::TEXT };
            lines =
                lines.push(
                    container(text(s).size(size::SMALL).style(move |_: &iced::Theme| {
                        text::Style {
                            color: Some(iced::Color { a: alpha, ..color }),
                        }
                    }))
                    .padding([gap::XS, gap::M])
                    .style(surface::notice(alpha)),
                );
        }
        Some(
            container(lines)
                .width(Fill)
                .height(Fill)
                .align_x(Center)
                .align_y(Bottom)
                .padding(gap::M)
                .into(),
        )
    }

    /// The side panel: its title, a close button, the chat or the people.
    fn side(&self, panel: Panel) -> Element<'_, Message> {
        let title = match panel {
            Panel::Chat => "Messages".to_string(),
            Panel::People => format!("In the call ({})", self.people.len() + 1),
        };
        let header = row![
            text(title).size(size::TITLE),
            iced::widget::space::horizontal(),
            button(icon(Icon::Close, 18.0, None))
                .padding(gap::XS)
                .style(theme::button::quiet)
                .on_press(Message::ClosePanel),
        ]
        .align_y(Center);
        let content = match panel {
            Panel::Chat => self.chat_panel(),
            Panel::People => self.people_panel(),
        };
        container(column![header, content].spacing(gap::M))
            .padding(gap::L)
            .width(PANEL)
            .height(Fill)
            .style(surface::panel)
            .into()
    }
}

/// `dialog` over everything else, which is dimmed and cannot be reached until it is answered.
fn modal(dialog: Element<'_, Message>) -> Element<'_, Message> {
    opaque(
        center(opaque(
            container(dialog)
                .padding(gap::XL)
                .max_width(560)
                .style(surface::dialog),
        ))
        .style(surface::backdrop),
    )
}
