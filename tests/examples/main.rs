//! The examples under the simulator, one module per example, plus every
//! example's documented dev-mode command run as written.

mod admin;
mod board;
mod counter;
mod dev_commands;
mod echo;
mod fallback;
mod ledger;
mod lottery;
mod npl_vote;
mod post_exec;

pub(crate) use hotpocket::sim::cargo_example;
