//! Headless subcommands.

pub(crate) mod demo;
pub(crate) mod recordings;
