//! The runtime as a real process meets what the outside world does to it:
//! the bad-input catalogue, kills at any moment, sizes far beyond the usual,
//! saves that fail, and the store's determinism and crash safety; and the
//! wording of its error messages.

mod bad_input;
mod crash_safety;
mod error_messages;
mod scale;
mod state_commit_failure;
mod store_crash_safety;
mod store_determinism;
mod support;
mod test_round;
