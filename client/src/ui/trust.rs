//! What the window shows of trust in keys: each person's verification state and safety number
//! (digits and a QR code to scan), the people a recording would be encrypted to, and the alarm
//! when the server is caught lying about keys.

use assent_engine::Recipient;
use assent_shared::signal::PeerId;
use iced::widget::{button, column, container, qr_code, row, text};
use iced::{Element, Fill};

use super::room::{KeyState, Message, Person};
use super::theme;

/// A safety number in two lines of six groups, as people read it out.
fn two_lines(number: &str) -> String {
    let groups: Vec<&str> = number.split_whitespace().collect();
    let half = groups.len().div_ceil(2);
    format!("{}\n{}", groups[..half].join(" "), groups[half..].join(" "))
}

/// One person's key in the people panel: the state, the safety number to compare, and the
/// buttons to mark it compared or to show it as a QR code.
pub(super) fn key_view(peer: PeerId, p: &Person, qr: bool) -> Element<'_, Message> {
    let (state, style): (&str, fn(&iced::Theme) -> text::Style) = match p.key {
        KeyState::Checking => ("Checking their key with the key directory…", theme::muted),
        KeyState::Proven { compared: true } => {
            ("✓ Verified: safety number compared", text::success)
        }
        KeyState::Proven { compared: false } => (
            "Key proven by the directory; safety number not compared yet",
            text::warning,
        ),
        KeyState::Changed => ("⚠ Their key changed: compare before going on", text::danger),
    };
    let mut c = column![text(state).size(12).style(style)].spacing(4);
    if let Some(n) = &p.safety_number {
        c = c.push(text(two_lines(n)).font(iced::Font::MONOSPACE).size(12));
        let mut actions = row![
            button(text(if qr { "Hide QR code" } else { "QR code" }).size(12))
                .style(theme::button::secondary)
                .padding([3, 8])
                .on_press(Message::ToggleQr(peer)),
        ]
        .spacing(6);
        if p.key == (KeyState::Proven { compared: false }) {
            actions = actions.push(
                button(text("It matches").size(12))
                    .padding([3, 8])
                    .on_press(Message::MarkVerified(peer)),
            );
        }
        c = c.push(actions);
        if qr && let Some(data) = &p.qr {
            c = c.push(qr_code(data).cell_size(3));
        }
    }
    c.into()
}

/// The consent dialog's list of recipients: who the recording would be encrypted to, and
/// who joined since the last set.
pub(super) fn recipients<'a>(
    people: &'a [Recipient],
    joined: &'a [String],
) -> Element<'a, Message> {
    let mut c = column![].spacing(3);
    if !joined.is_empty() {
        c = c.push(
            text(format!(
                "{} joined: go on recording with them in the call?",
                joined.join(", ")
            ))
            .size(14)
            .style(text::warning),
        );
    }
    c = c.push(text("Encrypted to:").size(13));
    for r in people {
        let state = if r.you {
            "you".to_string()
        } else if !r.proven {
            "key not checked yet".to_string()
        } else if r.verified {
            "✓ verified".to_string()
        } else {
            "not verified".to_string()
        };
        let who = if r.email.is_empty() {
            r.name.clone()
        } else {
            format!("{} <{}>", r.name, r.email)
        };
        c = c.push(
            row![
                text(who).size(13),
                text(format!("· {state} · {}", r.fingerprint))
                    .size(13)
                    .style(if r.verified || r.you {
                        theme::muted
                    } else {
                        text::warning
                    }),
            ]
            .spacing(6),
        );
    }
    c.into()
}

/// The server signed two different directories for one epoch.
pub(super) fn equivocation_banner<'a>() -> Element<'a, Message> {
    container(
        column![
            text("⚠ The server is lying about keys")
                .size(18)
                .style(text::danger),
            text(
                "It showed people in this call different key directories for the same moment. \
                 Any recording was stopped. The two signed directory roots are kept on this \
                 device as evidence; tell the server's operator and your contacts."
            )
            .size(13),
        ]
        .spacing(4),
    )
    .padding(10)
    .width(Fill)
    .style(container::bordered_box)
    .into()
}

/// What the key directory checks raised on this device (the home screen's banner). Alarms are
/// evidence: they stay on the device, and the banner with them.
pub(super) fn directory_alarms<'a, M: 'a>(alarms: &'a [String]) -> Element<'a, M> {
    let mut list = column![
        text("⚠ Someone may be reading what is meant for you")
            .size(18)
            .style(text::danger),
        text(
            "The server's key directory shows something your devices never did. Compare \
             safety numbers with the people you call before trusting a call, and tell the \
             server's operator. `assent account check-keys` prints the details."
        )
        .size(13),
    ]
    .spacing(4);
    for a in alarms {
        list = list.push(text(format!("• {a}")).size(13));
    }
    container(list)
        .padding(10)
        .width(Fill)
        .style(container::bordered_box)
        .into()
}
