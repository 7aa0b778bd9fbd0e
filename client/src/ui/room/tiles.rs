//! The call's tiles: one per person and our own, their picture or name, their state and
//! connection quality, the one speaking outlined; laid out in a grid.

use iced::widget::{column, container, image, row, space, text};
use iced::{Element, Fill, Length};

use super::{KeyState, Message, Person, Room};

/// A connection's health, from its statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quality {
    Good,
    Fair,
    Poor,
}

/// Judge a connection by the loss and the round trip time the peer reports for what we send
/// (RTCP). Frame rates are not used: a window's decoded frames are not counted per report.
pub fn quality(s: &assent_engine::PeerStats) -> Quality {
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

impl Room {
    /// Our own tile: the picture we send (camera or screen), or "You" with the camera off.
    pub(super) fn own_tile(&self, speaking: bool) -> Element<'_, Message> {
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
}

/// One person: their video when it comes, else their name; what state they are in.
pub(super) fn person_tile(p: &Person, speaking: bool) -> Element<'_, Message> {
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
pub(super) fn grid(tiles: Vec<Element<'_, Message>>) -> Element<'_, Message> {
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
