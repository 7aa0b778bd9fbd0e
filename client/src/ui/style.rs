//! Shared styles for the window, for the light and the dark theme alike.

use iced::widget::{container, text};
use iced::{Color, Element, Fill, Theme};

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

/// A bordered box across the width, the window's card for a section or an item.
pub fn card<'a, M: 'a>(content: impl Into<Element<'a, M>>) -> Element<'a, M> {
    container(content)
        .padding(12)
        .width(Fill)
        .style(container::bordered_box)
        .into()
}
