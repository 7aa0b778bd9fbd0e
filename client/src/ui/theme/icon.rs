//! Icons: Lucide's (ISC licence, `assets/ui/`), SVG drawn by iced in one colour. Each is
//! parsed once and shared.

use std::sync::LazyLock;

use iced::widget::svg::{self, Handle, Svg};
use iced::{Color, Theme};

/// The icons the window draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icon {
    Mic,
    MicOff,
    Video,
    VideoOff,
    Share,
    StopShare,
    Hand,
    Record,
    People,
    Chat,
    Leave,
    Copy,
    Verified,
    Unverified,
    KeyWarning,
    SignalGood,
    SignalFair,
    SignalPoor,
    Close,
    Grid,
    Speaker,
    Link,
    Send,
    Calendar,
    Door,
    Film,
}

macro_rules! icons {
    ($($icon:ident => $file:literal),* $(,)?) => {
        fn bytes(icon: Icon) -> &'static [u8] {
            match icon {
                $(Icon::$icon => include_bytes!(concat!("../../../../assets/ui/", $file, ".svg")),)*
            }
        }
        /// Every icon, in the order of the enum.
        pub const ALL: &[Icon] = &[$(Icon::$icon),*];
    };
}

icons! {
    Mic => "mic",
    MicOff => "mic-off",
    Video => "video",
    VideoOff => "video-off",
    Share => "monitor-up",
    StopShare => "monitor-x",
    Hand => "hand",
    Record => "circle-dot",
    People => "users",
    Chat => "message-square",
    Leave => "phone-off",
    Copy => "copy",
    Verified => "shield-check",
    Unverified => "shield",
    KeyWarning => "shield-alert",
    SignalGood => "signal-high",
    SignalFair => "signal-medium",
    SignalPoor => "signal-low",
    Close => "x",
    Grid => "layout-grid",
    Speaker => "square-user",
    Link => "link",
    Send => "send",
    Calendar => "calendar",
    Door => "door-open",
    Film => "film",
}

static HANDLES: LazyLock<Vec<Handle>> = LazyLock::new(|| {
    ALL.iter()
        .map(|icon| Handle::from_memory(bytes(*icon)))
        .collect()
});

impl Icon {
    /// The parsed picture, shared.
    pub fn handle(self) -> Handle {
        // ALL lists the icons in the enum's order.
        HANDLES[self as usize].clone()
    }
}

/// `icon` at `size` px in the colour of the text around it (`color` to choose another).
pub fn icon<'a>(icon: Icon, size: f32, color: Option<Color>) -> Svg<'a, Theme> {
    iced::widget::svg(icon.handle())
        .width(size)
        .height(size)
        .style(move |theme: &Theme, _status| svg::Style {
            color: Some(color.unwrap_or(theme.palette().text)),
        })
}

/// `icon` at `size` px in the theme's accent (beside a quiet button's text).
pub fn accent<'a>(icon: Icon, size: f32) -> Svg<'a, Theme> {
    iced::widget::svg(icon.handle())
        .width(size)
        .height(size)
        .style(|theme: &Theme, _status| svg::Style {
            color: Some(theme.palette().primary),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every icon is a Lucide SVG that parses: 24x24, drawn with the current colour.
    #[test]
    fn every_icon_is_an_svg_in_the_current_colour() {
        for icon in ALL {
            let svg = std::str::from_utf8(bytes(*icon)).expect("UTF-8");
            assert!(svg.contains("viewBox=\"0 0 24 24\""), "{icon:?}");
            assert!(svg.contains("stroke=\"currentColor\""), "{icon:?}");
            assert!(
                ["<path", "<circle", "<rect"]
                    .iter()
                    .any(|e| svg.contains(e)),
                "{icon:?}"
            );
        }
        assert_eq!(Icon::Leave.handle(), Icon::Leave.handle());
        // Handles are found by the enum's number.
        for (i, icon) in ALL.iter().enumerate() {
            assert_eq!(*icon as usize, i, "{icon:?}");
        }
    }
}
