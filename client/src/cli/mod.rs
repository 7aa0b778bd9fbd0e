//! Headless subcommands.

pub(crate) mod account;
pub(crate) mod audit;
pub(crate) mod call;
pub(crate) mod demo;
pub(crate) mod recordings;
