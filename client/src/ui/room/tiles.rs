//! The call's tiles: one per person and our own. A tile is their picture, cropped to fill it
//! (a shared screen fitted whole), or their initials on a colour of their name; over it their
//! name with marks (muted, hand raised, key verified or not), the connection's quality, and
//! "connecting…" until they are connected. The one speaking is outlined.

use iced::widget::{
    center, center_x, column, container, image, responsive, right, row, space, stack, text, tooltip,
};
use iced::{Center, ContentFit, Element, Fill, Length, Size};

use super::super::theme::{self, Icon, icon, size, space as gap, stage, surface};
use super::pictures::{self, Picture, Shown};
use super::{KeyState, Message, Person, Room};
use assent_engine::{Source, View};

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

/// A mark on someone's tile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    Muted,
    Hand,
    Sharing,
    /// Their key: checking, proven (compared or not), changed.
    Key(KeyState),
    /// The connection, once connected and measured.
    Quality(Quality),
    /// Not connected (yet): why, when it failed.
    NotConnected(Option<String>),
}

/// What someone's media state puts on their tile: muted, hand raised, sharing.
fn media_marks(media: &assent_shared::call::MediaState) -> Vec<Mark> {
    [
        (!media.audio, Mark::Muted),
        (media.hand, Mark::Hand),
        (media.screen, Mark::Sharing),
    ]
    .into_iter()
    .filter_map(|(on, mark)| on.then_some(mark))
    .collect()
}

/// The marks on someone's tile, in the order they are drawn.
pub fn marks(p: &Person) -> Vec<Mark> {
    let mut marks = media_marks(&p.media);
    marks.push(Mark::Key(p.key));
    match (p.connected, p.quality) {
        (true, Some(q)) => marks.push(Mark::Quality(q)),
        (true, None) => {}
        (false, _) => marks.push(Mark::NotConnected(p.failed.clone())),
    }
    marks
}

/// What a mark says in its tooltip (and to a screen reader's user, in the people panel).
fn says(mark: &Mark) -> String {
    match mark {
        Mark::Muted => "Muted".into(),
        Mark::Hand => "Hand raised".into(),
        Mark::Sharing => "Sharing the screen".into(),
        Mark::Key(KeyState::Checking) => "Checking their key with the directory…".into(),
        Mark::Key(KeyState::Proven { compared: true }) => {
            "Verified: you compared safety numbers".into()
        }
        Mark::Key(KeyState::Proven { compared: false }) => {
            "Not verified: compare safety numbers in People".into()
        }
        Mark::Key(KeyState::Changed) => "Their key changed: compare before going on".into(),
        Mark::Quality(Quality::Good) => "Good connection".into(),
        Mark::Quality(Quality::Fair) => "Fair connection".into(),
        Mark::Quality(Quality::Poor) => "Poor connection".into(),
        Mark::NotConnected(None) => "Connecting…".into(),
        Mark::NotConnected(Some(why)) => format!("Not connected: {why}"),
    }
}

/// A mark's icon and colour on the stage.
fn drawn(mark: &Mark) -> Option<(Icon, iced::Color)> {
    Some(match mark {
        Mark::Muted => (Icon::MicOff, stage::RED),
        Mark::Hand => (Icon::Hand, stage::AMBER),
        Mark::Sharing => (Icon::Share, stage::ACCENT),
        Mark::Key(KeyState::Checking) => (Icon::Unverified, stage::SOFT_TEXT),
        Mark::Key(KeyState::Proven { compared: true }) => (Icon::Verified, stage::GREEN),
        Mark::Key(KeyState::Proven { compared: false }) => (Icon::Unverified, stage::SOFT_TEXT),
        Mark::Key(KeyState::Changed) => (Icon::KeyWarning, stage::RED),
        Mark::Quality(Quality::Good) => (Icon::SignalGood, stage::GREEN),
        Mark::Quality(Quality::Fair) => (Icon::SignalFair, stage::AMBER),
        Mark::Quality(Quality::Poor) => (Icon::SignalPoor, stage::RED),
        Mark::NotConnected(_) => return None,
    })
}

/// A mark as an icon with its tooltip.
fn mark_view<'a>(mark: &Mark) -> Option<Element<'a, Message>> {
    let (i, color) = drawn(mark)?;
    Some(with_tip(icon(i, 16.0, Some(color)).into(), says(mark)))
}

/// `content` with a tooltip above it.
pub(super) fn with_tip<'a>(content: Element<'a, Message>, tip: String) -> Element<'a, Message> {
    tooltip(
        content,
        container(text(tip).size(size::CAPTION))
            .padding([gap::XS, gap::S])
            .style(surface::tooltip),
        tooltip::Position::Top,
    )
    .gap(gap::S)
    .into()
}

/// What a tile shows of someone.
pub(super) struct TileView<'a> {
    /// Whose tile it is.
    pub source: Source,
    /// Their camera or screen is on: a picture is shown once one comes.
    pub video: bool,
    pub picture: Option<&'a Picture>,
    /// A shared screen: fitted whole rather than cropped.
    pub screen: bool,
    pub name: &'a str,
    pub marks: Vec<Mark>,
    pub speaking: bool,
    /// Small (a strip, a corner): a smaller label and initials.
    pub small: bool,
}

impl Room {
    /// Our own tile: the picture we send (camera or screen), or our initials.
    pub(super) fn own_view(&self, speaking: bool, small: bool) -> TileView<'_> {
        let sending = self.local.video || self.local.screen;
        TileView {
            source: Source::Local,
            video: sending,
            picture: self.self_view.as_ref().filter(|_| sending),
            screen: self.local.screen,
            name: "You",
            marks: media_marks(&self.local),
            speaking,
            small,
        }
    }
}

/// Someone's tile.
pub(super) fn person_view(
    peer: assent_shared::signal::PeerId,
    p: &Person,
    speaking: bool,
    small: bool,
) -> TileView<'_> {
    TileView {
        source: Source::Peer(peer),
        video: p.media.video,
        picture: p.frame.as_ref().filter(|_| p.media.video),
        screen: p.media.screen,
        name: &p.name,
        marks: marks(p),
        speaking,
        small,
    }
}

/// A tile of `size`: the picture or the initials, the name and marks over it, "connecting…"
/// until connected, the one speaking outlined. The picture's view is laid out in `shown`.
pub(super) fn tile<'a>(t: TileView<'a>, size: Size, shown: &Shown) -> Element<'a, Message> {
    let natural = t.picture.map_or((0, 0), |p| p.natural);
    let view = pictures::view_for(size, natural, t.screen);
    if t.video {
        // Laid out before the first picture comes too: the engine sends none it is not told of.
        shown.lay(t.source, view);
    }
    // A camera's picture at its view fills the tile but for less than a pixel.
    let covered = !t.screen
        && t.picture
            .is_some_and(|p| p.size == (view.width, view.height));
    let picture: Element<'a, Message> = match t.picture {
        Some(p) => picture(p, view, t.screen),
        None => center(theme::avatar(t.name, if t.small { 48.0 } else { 96.0 })).into(),
    };
    let mut label = row![].spacing(gap::XS).align_y(Center);
    for m in &t.marks {
        if matches!(m, Mark::Muted | Mark::Hand | Mark::Sharing)
            && let Some(v) = mark_view(m)
        {
            label = label.push(v);
        }
    }
    label = label.push(
        text(t.name)
            .size(if t.small { size::CAPTION } else { size::BODY })
            .style(theme::on_stage),
    );
    if let Some(v) = t
        .marks
        .iter()
        .find(|m| matches!(m, Mark::Key(_)))
        .and_then(mark_view)
    {
        label = label.push(v);
    }
    let label = container(label)
        .padding([gap::XS, gap::S])
        .style(surface::label);
    // Everything over the picture is one layer: the software renderer prepares a clipping
    // mask of the whole window for each layer under each change, and a new picture is one.
    let quality = t
        .marks
        .iter()
        .find(|m| matches!(m, Mark::Quality(_)))
        .and_then(mark_view)
        .map(|v| right(container(v).padding(gap::XS).style(surface::label)).height(Length::Shrink));
    let not_connected = t
        .marks
        .iter()
        .find(|m| matches!(m, Mark::NotConnected(_)))
        .map(|m| {
            container(text(says(m)).size(size::SMALL))
                .padding([gap::XS, gap::S])
                .style(surface::label)
        });
    let over = column![]
        .push(quality)
        .push(center(column![].push(not_connected)))
        .push(label);
    // The outline is drawn over the picture, which would hide a border under it.
    let over = container(over)
        .width(Fill)
        .height(Fill)
        .padding(gap::S)
        .style(surface::speaking_outline(t.speaking));
    container(stack![picture, over])
        .width(Fill)
        .height(Fill)
        // A picture at its view needs no clipping: another layer less.
        .clip(!covered)
        .style(surface::tile(covered))
        .into()
}

/// A picture in its tile. Once the engine gives it at its `view` (as it does from the frame
/// after it is told), it is copied as it is, pixel for pixel; until then it is scaled here:
/// a camera's middle at the tile's shape, a screen whole.
fn picture<'a>(p: &Picture, view: View, screen: bool) -> Element<'a, Message> {
    if p.size == (view.width, view.height) {
        return center(
            image(p.handle.clone())
                .width(view.width as f32)
                .height(view.height as f32)
                .filter_method(image::FilterMethod::Nearest),
        )
        .into();
    }
    let picture = image(p.handle.clone()).width(Fill).height(Fill);
    if screen {
        return picture.content_fit(ContentFit::Contain).into();
    }
    // iced crops by drawing the whole picture larger and clipping it, and the software
    // renderer clips only at a layer's edges: a stack's upper layer, clipped to the tile, is
    // one.
    stack![
        space::horizontal(),
        picture
            .crop(cover(p.size.0, p.size.1))
            .content_fit(ContentFit::Fill)
    ]
    .clip(true)
    .width(Fill)
    .height(Fill)
    .into()
}

/// The shape of a tile: wide, as cameras and screens are.
const ASPECT: f32 = 16.0 / 9.0;

/// The middle of a `width`x`height` picture at [`ASPECT`]: what a tile shows of it.
pub fn cover(width: u32, height: u32) -> iced::Rectangle<u32> {
    let (w, h) = (width as f32, height as f32);
    if w / h > ASPECT {
        // Wider than a tile: the sides go.
        let keep = ((h * ASPECT).round() as u32).clamp(1, width);
        iced::Rectangle {
            x: (width - keep) / 2,
            y: 0,
            width: keep,
            height,
        }
    } else {
        // Taller: the top and bottom go.
        let keep = ((w / ASPECT).round() as u32).clamp(1, height);
        iced::Rectangle {
            x: 0,
            y: (height - keep) / 2,
            width,
            height: keep,
        }
    }
}

/// The height of the speaker view's strip.
pub(super) const STRIP: f32 = 124.0;

/// Tiles in rows (the layout's), each as large as the space allows at [`ASPECT`], centred;
/// a shorter row is centred under the others.
pub(super) fn grid<'a>(
    rows: Vec<Vec<usize>>,
    tile_of: impl Fn(usize, Size) -> Element<'a, Message> + 'a,
) -> Element<'a, Message> {
    responsive(move |area| {
        let g = gap::S;
        let r = rows.len().max(1) as f32;
        let c = rows.iter().map(Vec::len).max().unwrap_or(1).max(1) as f32;
        // Whole pixels, so that a picture fitted to its tile is copied without scaling.
        let w = ((area.width - g * (c - 1.0)) / c)
            .min((area.height - g * (r - 1.0)) / r * ASPECT)
            .max(2.0)
            .floor();
        let size = Size::new(w, (w / ASPECT).floor());
        let mut lines = column![].spacing(g).align_x(Center);
        for line in &rows {
            let mut tiles = row![].spacing(g);
            for t in line {
                tiles = tiles.push(
                    container(tile_of(*t, size))
                        .width(size.width)
                        .height(size.height),
                );
            }
            lines = lines.push(tiles);
        }
        center(lines).into()
    })
    .into()
}

/// A small tile's size in the speaker view's strip.
pub(super) const STRIP_TILE: Size = Size::new(220.0, STRIP);

/// Small tiles in a row, centred (the speaker view's strip).
pub(super) fn strip(tiles: Vec<Element<'_, Message>>) -> Element<'_, Message> {
    let mut r = row![].spacing(gap::S);
    for t in tiles {
        r = r.push(
            container(t)
                .width(STRIP_TILE.width)
                .height(STRIP_TILE.height),
        );
    }
    center_x(r).height(STRIP).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 4:3 camera loses its top and bottom, a 21:9 one its sides; a 16:9 one nothing.
    #[test]
    fn a_picture_is_cropped_to_the_middle_at_the_tiles_shape() {
        let r = |x, y, width, height| iced::Rectangle {
            x,
            y,
            width,
            height,
        };
        assert_eq!(cover(640, 480), r(0, 60, 640, 360));
        assert_eq!(cover(1280, 720), r(0, 0, 1280, 720));
        assert_eq!(cover(2560, 1080), r(320, 0, 1920, 1080));
        assert_eq!(cover(1, 1), r(0, 0, 1, 1));
    }

    #[test]
    fn every_mark_says_what_it_means() {
        let all = [
            Mark::Muted,
            Mark::Hand,
            Mark::Sharing,
            Mark::Key(KeyState::Checking),
            Mark::Key(KeyState::Proven { compared: true }),
            Mark::Key(KeyState::Proven { compared: false }),
            Mark::Key(KeyState::Changed),
            Mark::Quality(Quality::Good),
            Mark::Quality(Quality::Fair),
            Mark::Quality(Quality::Poor),
            Mark::NotConnected(Some("no route".into())),
        ];
        let said: std::collections::BTreeSet<String> = all.iter().map(says).collect();
        assert_eq!(said.len(), all.len());
        // A muted microphone and a changed key are red.
        assert_eq!(drawn(&Mark::Muted).map(|d| d.1), Some(stage::RED));
        assert_eq!(
            drawn(&Mark::Key(KeyState::Changed)).map(|d| d.1),
            Some(stage::RED)
        );
    }
}
