//! Shared styles for the window, for the light and the dark theme alike.

use iced::widget::text;
use iced::{Color, Theme};

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
