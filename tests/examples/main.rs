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

#[path = "../support/example_bins.rs"]
mod example_bins;

pub(crate) use example_bins::cargo_example;
