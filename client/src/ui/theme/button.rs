//! Button styles: the call's controls on the dark stage (a state each: on, off, active,
//! leave) and the window's buttons (primary, secondary, quiet, a tab), all with rounded
//! corners.

use iced::widget::button::{Status, Style};
use iced::{Background, Border, Color, Shadow, Theme};

use super::{radius, stage};

/// What a control in the call's bar shows: its normal look, turned off (a muted microphone:
/// red), turned on where on is the exception (sharing, a raised hand, an open panel: the
/// accent), or leaving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Normal,
    Off,
    Active,
    Leave,
}

/// A control on the stage in the state `control`.
pub fn control(control: Control) -> impl Fn(&Theme, Status) -> Style {
    move |_theme, status| {
        let (base, hover, text) = match control {
            Control::Normal => (stage::RAISED, stage::RAISED_HOVER, stage::TEXT),
            Control::Off | Control::Leave => (stage::RED, stage::RED_HOVER, Color::WHITE),
            Control::Active => (stage::ACCENT, lighter(stage::ACCENT), stage::BACKGROUND),
        };
        let (background, text) = match status {
            Status::Active => (base, text),
            Status::Hovered | Status::Pressed => (hover, text),
            Status::Disabled => (Color { a: 0.45, ..base }, Color { a: 0.45, ..text }),
        };
        Style {
            background: Some(Background::Color(background)),
            text_color: text,
            border: Border::default().rounded(radius::M),
            shadow: Shadow::default(),
            snap: true,
        }
    }
}

/// A plain button on the stage (the picture-in-picture, a tile's action): no background until
/// hovered.
pub fn on_stage(_theme: &Theme, status: Status) -> Style {
    Style {
        background: match status {
            Status::Hovered | Status::Pressed => Some(Background::Color(stage::SCRIM)),
            _ => None,
        },
        text_color: stage::TEXT,
        border: Border::default().rounded(radius::M),
        shadow: Shadow::default(),
        snap: true,
    }
}

/// The window's main action.
pub fn primary(theme: &Theme, status: Status) -> Style {
    rounded(iced::widget::button::primary(theme, status))
}

/// A second action.
pub fn secondary(theme: &Theme, status: Status) -> Style {
    rounded(iced::widget::button::secondary(theme, status))
}

/// A destructive action.
pub fn danger(theme: &Theme, status: Status) -> Style {
    rounded(iced::widget::button::danger(theme, status))
}

/// A quiet action: text in the accent colour, a background only when hovered.
pub fn quiet(theme: &Theme, status: Status) -> Style {
    let palette = theme.extended_palette();
    Style {
        background: match status {
            Status::Hovered | Status::Pressed => {
                Some(Background::Color(palette.background.weak.color))
            }
            _ => None,
        },
        text_color: match status {
            Status::Disabled => palette.background.strong.color,
            _ => palette.primary.base.color,
        },
        border: Border::default().rounded(radius::S),
        shadow: Shadow::default(),
        snap: true,
    }
}

/// A large action tile (Home): a card that lifts when hovered.
pub fn tile(theme: &Theme, status: Status) -> Style {
    let palette = theme.extended_palette();
    let background = match status {
        Status::Hovered | Status::Pressed => palette.background.weak.color,
        _ => palette.background.weakest.color,
    };
    Style {
        background: Some(Background::Color(background)),
        text_color: match status {
            Status::Disabled => palette.background.strong.color,
            _ => palette.background.base.text,
        },
        border: Border::default()
            .rounded(radius::L)
            .width(1.0)
            .color(palette.background.weak.color),
        shadow: Shadow::default(),
        snap: true,
    }
}

/// The main action tile: filled with the accent.
pub fn primary_tile(theme: &Theme, status: Status) -> Style {
    let mut style = iced::widget::button::primary(theme, status);
    style.border = Border::default().rounded(radius::L);
    style
}

/// One of a panel's tabs: the selected one filled with the accent.
pub fn tab(selected: bool) -> impl Fn(&Theme, Status) -> Style {
    move |theme, status| {
        let palette = theme.extended_palette();
        let mut style = if selected {
            iced::widget::button::primary(theme, status)
        } else {
            iced::widget::button::text(theme, status)
        };
        if !selected {
            style.text_color = palette.background.base.text;
            if matches!(status, Status::Hovered | Status::Pressed) {
                style.background = Some(Background::Color(palette.background.weak.color));
            }
        }
        style.border = Border::default().rounded(radius::PILL);
        style
    }
}

fn rounded(mut style: Style) -> Style {
    style.border = style.border.rounded(radius::S);
    style
}

/// A colour a little lighter (for hovering).
fn lighter(c: Color) -> Color {
    let up = |v: f32| v + (1.0 - v) * 0.18;
    Color {
        r: up(c.r),
        g: up(c.g),
        b: up(c.b),
        a: c.a,
    }
}
