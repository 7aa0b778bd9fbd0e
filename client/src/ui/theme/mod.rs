//! The window's design system, in one place: the spacing scale, the corner radii, the type
//! scale, the palettes of the light and the dark theme (and the call's stage, dark in both),
//! and the styles of the components every screen uses (buttons, containers, icons). Screens
//! take their colours from here, never their own.

use std::sync::LazyLock;

use iced::theme::Palette;
use iced::widget::{container, text};
use iced::{Color, Element, Fill, Theme, color};

pub mod button;
pub mod icon;
pub mod surface;

pub use icon::{Icon, icon};

/// The spacing scale, px: gaps between items and the padding inside boxes.
pub mod space {
    pub const XS: f32 = 4.0;
    pub const S: f32 = 8.0;
    pub const M: f32 = 12.0;
    pub const L: f32 = 16.0;
    pub const XL: f32 = 24.0;
}

/// Corner radii, px.
pub mod radius {
    pub const S: f32 = 6.0;
    pub const M: f32 = 10.0;
    pub const L: f32 = 16.0;
    /// Round ends at any height.
    pub const PILL: f32 = 999.0;
}

/// The type scale, px.
pub mod size {
    /// Marks on a tile, captions under a control.
    pub const CAPTION: u32 = 12;
    /// Hints and secondary lines.
    pub const SMALL: u32 = 13;
    pub const BODY: u32 = 14;
    /// A section's heading, a dialog's title.
    pub const TITLE: u32 = 18;
    /// A screen's heading.
    pub const HEADING: u32 = 26;
}

/// The light theme: near-white surfaces, Assent's blue.
pub fn light() -> Theme {
    LIGHT.clone()
}

/// The dark theme: deep grey surfaces, a lighter blue for contrast.
pub fn dark() -> Theme {
    DARK.clone()
}

static LIGHT: LazyLock<Theme> = LazyLock::new(|| {
    Theme::custom(
        "Assent light",
        Palette {
            background: color!(0xf6f7f9),
            text: color!(0x1b1e24),
            primary: color!(0x3f5bd9),
            success: color!(0x1f8a4c),
            warning: color!(0xa86400),
            danger: color!(0xd92d20),
        },
    )
});

static DARK: LazyLock<Theme> = LazyLock::new(|| {
    Theme::custom(
        "Assent dark",
        Palette {
            background: color!(0x15171c),
            text: color!(0xe6e8eb),
            primary: color!(0x7a8cff),
            success: color!(0x3fb950),
            warning: color!(0xd29922),
            danger: color!(0xf85149),
        },
    )
});

/// The call's stage, dark in both themes so pictures stand out: the background, a tile
/// without a picture, text on it, and the red of a muted microphone or a recording.
pub mod stage {
    use iced::{Color, color};

    pub const BACKGROUND: Color = color!(0x0e1014);
    pub const TILE: Color = color!(0x1f232b);
    pub const RAISED: Color = color!(0x2b303a);
    pub const RAISED_HOVER: Color = color!(0x383e4a);
    pub const TEXT: Color = color!(0xf1f3f5);
    pub const SOFT_TEXT: Color = color!(0xaab1bd);
    pub const RED: Color = color!(0xe5484d);
    pub const RED_HOVER: Color = color!(0xf2555a);
    pub const ACCENT: Color = color!(0x8ea0ff);
    pub const GREEN: Color = color!(0x46c26b);
    pub const AMBER: Color = color!(0xf0b429);
    /// A label over a picture: black, mostly opaque.
    pub const SCRIM: Color = Color {
        r: 0.0,
        g: 0.0,
        b: 0.0,
        a: 0.62,
    };
}

/// A colour for someone's initials, chosen by their name (the same name, the same colour):
/// muted tones that white text reads on.
pub fn person_color(name: &str) -> Color {
    const TONES: [Color; 8] = [
        color!(0x5b6ee1),
        color!(0x2f9e8f),
        color!(0xc0564b),
        color!(0x8a5cc7),
        color!(0xc27c1a),
        color!(0x3b82b8),
        color!(0xb84d88),
        color!(0x5d8f3a),
    ];
    // FNV-1a: stable across runs and platforms.
    let hash = name.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    TONES[hash as usize % TONES.len()]
}

/// Someone's initials: the first letters of their first two words, upper case ("Ada
/// Lovelace" → "AL", "bob" → "B").
pub fn initials(name: &str) -> String {
    name.split_whitespace()
        .take(2)
        .filter_map(|w| w.chars().next())
        .flat_map(char::to_uppercase)
        .collect()
}

/// Someone's initials in white on a disc of their colour, `diameter` across (a tile with the
/// camera off, a list of people).
pub fn avatar<'a, M: 'a>(name: &str, diameter: f32) -> Element<'a, M> {
    container(
        text(initials(name))
            .size(diameter * 0.4)
            .color(Color::WHITE),
    )
    .center(diameter)
    .style(surface::badge(person_color(name)))
    .into()
}

/// Secondary text: hints, captions, progress (the text colour, softened; readable on both
/// themes).
pub fn muted(theme: &Theme) -> text::Style {
    text::Style {
        color: Some(Color {
            a: 0.62,
            ..theme.palette().text
        }),
    }
}

/// Text on the stage.
pub fn on_stage(_theme: &Theme) -> text::Style {
    text::Style {
        color: Some(stage::TEXT),
    }
}

/// Secondary text on the stage.
pub fn on_stage_soft(_theme: &Theme) -> text::Style {
    text::Style {
        color: Some(stage::SOFT_TEXT),
    }
}

/// A bordered box across the width, the window's card for a section or an item.
pub fn card<'a, M: 'a>(content: impl Into<Element<'a, M>>) -> Element<'a, M> {
    container(content)
        .padding(space::M)
        .width(Fill)
        .style(surface::card)
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_take_the_first_letters_of_two_words() {
        assert_eq!(initials("Ada Lovelace"), "AL");
        assert_eq!(initials("bob"), "B");
        assert_eq!(initials("  Grace  Brewster Hopper "), "GB");
        assert_eq!(initials("élodie durand"), "ÉD");
        assert_eq!(initials(""), "");
    }

    #[test]
    fn a_name_always_gets_the_same_colour() {
        assert_eq!(person_color("Ada"), person_color("Ada"));
        let names = ["Ada", "Bob", "Carol", "Dan", "Eve", "Frank"];
        let distinct: std::collections::BTreeSet<_> = names
            .iter()
            .map(|n| format!("{:?}", person_color(n)))
            .collect();
        assert!(distinct.len() >= 3, "six names, {} colours", distinct.len());
    }
}
