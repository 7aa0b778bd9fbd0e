//! Headless subcommands.

pub(crate) mod account;
pub(crate) mod call;
pub(crate) mod demo;
pub(crate) mod recordings;
