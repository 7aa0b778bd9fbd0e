//! The chat beside the call (end to end encrypted over the data channels).

use iced::Element;
use iced::Fill;
use iced::widget::{column, scrollable, text, text_input};

use super::super::theme;
use super::{CHAT, Event, Message, Room};

impl Room {
    pub(super) fn chat_panel(&self) -> Element<'_, Message> {
        let mut lines = column![].spacing(6);
        for (who, what) in &self.chat {
            lines = lines.push(
                column![
                    text(who.as_str()).size(12).style(theme::muted),
                    text(what.as_str())
                ]
                .spacing(1),
            );
        }
        column![
            scrollable(lines).height(Fill),
            text_input("Message (end to end encrypted)", &self.chat_input)
                .id(CHAT)
                .on_input(Message::ChatInput)
                .on_submit(Message::SendChat)
                .padding(8),
        ]
        .spacing(8)
        .width(Fill)
        .height(Fill)
        .into()
    }

    /// Typing and sending a chat message.
    pub(super) fn on_chat(&mut self, message: Message) -> Option<Event> {
        match message {
            Message::ChatInput(s) => {
                self.chat_input = s;
                None
            }
            Message::SendChat => {
                let text = self.chat_input.trim().to_string();
                if text.is_empty() {
                    return None;
                }
                self.chat_input.clear();
                self.chat.push(("You".into(), text.clone()));
                Some(Event::Chat(text))
            }
            _ => None,
        }
    }
}
