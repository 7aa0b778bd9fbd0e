//! Container styles: the window's cards and panels, the call's stage and what lies on it
//! (tiles, labels over pictures, the recording pill, notices), and the modal dialog with the
//! backdrop behind it.

use iced::widget::container::Style;
use iced::{Background, Border, Color, Shadow, Theme, Vector};

use super::{radius, stage};

/// A card: a section or an item, a thin border on the theme's weak background.
pub fn card(theme: &Theme) -> Style {
    let palette = theme.extended_palette();
    Style {
        background: Some(palette.background.weakest.color.into()),
        border: Border::default()
            .rounded(radius::M)
            .width(1.0)
            .color(palette.background.weak.color),
        ..Style::default()
    }
}

/// A side panel (chat, people) beside the stage.
pub fn panel(theme: &Theme) -> Style {
    let palette = theme.extended_palette();
    Style {
        background: Some(palette.background.base.color.into()),
        text_color: Some(palette.background.base.text),
        border: Border::default().rounded(radius::L),
        ..Style::default()
    }
}

/// The call's stage: dark in both themes. It has no background of its own: the window's is the
/// stage's colour while the call shows (`App::style`). The software renderer redraws only what
/// changed, but a quad behind it is filled whole, edge to edge, each time part of it is: a
/// background under the whole window would be filled with each new picture.
pub fn stage(_theme: &Theme) -> Style {
    Style {
        text_color: Some(stage::TEXT),
        ..Style::default()
    }
}

/// A tile on the stage: a rounded card, or nothing where a picture covers it whole (the card
/// would be filled under each new picture for nothing).
pub fn tile(covered: bool) -> impl Fn(&Theme) -> Style {
    move |_theme| Style {
        background: (!covered).then(|| stage::TILE.into()),
        text_color: Some(stage::TEXT),
        border: Border::default().rounded(radius::M),
        ..Style::default()
    }
}

/// The outline of the one speaking, drawn over their picture (a picture's own corners stay
/// square: the software renderer does not round images).
pub fn speaking_outline(speaking: bool) -> impl Fn(&Theme) -> Style {
    move |_theme| Style {
        border: Border::default()
            .rounded(radius::M)
            .width(if speaking { 3.0 } else { 0.0 })
            .color(stage::ACCENT),
        ..Style::default()
    }
}

/// A label over a picture: a name, a mark.
pub fn label(_theme: &Theme) -> Style {
    Style {
        background: Some(stage::SCRIM.into()),
        text_color: Some(stage::TEXT),
        border: Border::default().rounded(radius::S),
        ..Style::default()
    }
}

/// A round badge of a colour (someone's initials; a mark on their label).
pub fn badge(color: Color) -> impl Fn(&Theme) -> Style {
    move |_theme| Style {
        background: Some(color.into()),
        text_color: Some(Color::WHITE),
        border: Border::default().rounded(radius::PILL),
        ..Style::default()
    }
}

/// The recording pill at the top of the stage: red while recording, amber while paused or
/// waiting for consent.
pub fn recording(on: bool) -> impl Fn(&Theme) -> Style {
    move |_theme| Style {
        background: Some(if on { stage::RED } else { stage::AMBER }.into()),
        text_color: Some(if on { Color::WHITE } else { stage::BACKGROUND }),
        border: Border::default().rounded(radius::PILL),
        ..Style::default()
    }
}

/// A notice over the stage; `alpha` fades it out.
pub fn notice(alpha: f32) -> impl Fn(&Theme) -> Style {
    move |_theme| Style {
        background: Some(
            Color {
                a: 0.92 * alpha,
                ..stage::RAISED
            }
            .into(),
        ),
        text_color: Some(Color {
            a: alpha,
            ..stage::TEXT
        }),
        border: Border::default().rounded(radius::M),
        ..Style::default()
    }
}

/// Behind a modal dialog: the window, dimmed.
pub fn backdrop(_theme: &Theme) -> Style {
    Style {
        background: Some(Background::Color(Color {
            a: 0.6,
            ..Color::BLACK
        })),
        ..Style::default()
    }
}

/// A modal dialog: the theme's surface, raised.
pub fn dialog(theme: &Theme) -> Style {
    let palette = theme.extended_palette();
    Style {
        background: Some(palette.background.base.color.into()),
        text_color: Some(palette.background.base.text),
        border: Border::default().rounded(radius::L),
        shadow: Shadow {
            color: Color {
                a: 0.4,
                ..Color::BLACK
            },
            offset: Vector::new(0.0, 8.0),
            blur_radius: 24.0,
        },
        snap: true,
    }
}

/// A tooltip: dark in both themes, as on every desktop.
pub fn tooltip(_theme: &Theme) -> Style {
    Style {
        background: Some(stage::RAISED.into()),
        text_color: Some(stage::TEXT),
        border: Border::default().rounded(radius::S),
        ..Style::default()
    }
}
