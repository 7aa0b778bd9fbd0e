//! The app's side of each screen: what a screen's event asks for becomes an engine request
//! ([`super::io`]) run as a `Task`, whose answer comes back as a message of that screen, or a
//! move to another screen ([`super::nav`]). One function per screen, none of them doing IO.

mod account;
mod call;
mod recordings;
