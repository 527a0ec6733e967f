//! What a contract's opt-in error reply (`#[contract(error_reply = path)]`)
//! is told about an input its handler did not answer: the extractor refused
//! it, the handler returned `Err` or panicked, or no handler takes it.

use std::fmt;

/// Why an input went unanswered by its handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureKind {
    /// The handler's extractor refused the input (not UTF-8, not the JSON
    /// command it expects...); the handler never ran.
    Rejected,
    /// The handler returned `Err`.
    Failed,
    /// The handler panicked. Its text stays in the node's log: the message
    /// is the fixed [`InputFailure::PANIC_MESSAGE`], so no detail of the
    /// contract's internals (file paths, values) reaches a user.
    Panicked,
    /// A read request to a contract without `#[on_read_request]`.
    NoHandler,
}

/// An input its handler did not answer, as an `error_reply` function sees
/// it. What the function returns is sent to the input's user as one output.
#[derive(Clone, Copy, Debug)]
pub struct InputFailure<'a> {
    kind: FailureKind,
    message: &'a str,
    read_request: bool,
}

impl<'a> InputFailure<'a> {
    /// What a user's reply says in place of a panic's text.
    pub const PANIC_MESSAGE: &'static str = "the contract failed on this input";

    /// A failure of `kind` described by `message` (the runtime builds these;
    /// public so that tests of an `error_reply` function can too).
    pub fn new(kind: FailureKind, message: &'a str, read_request: bool) -> Self {
        let message = match kind {
            FailureKind::Panicked => Self::PANIC_MESSAGE,
            _ => message,
        };
        InputFailure {
            kind,
            message,
            read_request,
        }
    }

    /// Which way the input failed.
    pub fn kind(&self) -> FailureKind {
        self.kind
    }

    /// What was wrong, e.g. `input is not a valid JSON command: expected
    /// value at line 1 column 1`, or the handler's error's `Display` text
    /// (without the log's `handler returned an error: ` prefix).
    pub fn message(&self) -> &'a str {
        self.message
    }

    /// Whether the input was a read request's (outside consensus).
    pub fn is_read_request(&self) -> bool {
        self.read_request
    }
}

impl fmt::Display for InputFailure<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_never_carries_its_text() {
        let f = InputFailure::new(
            FailureKind::Panicked,
            "index out of bounds at src/x.rs",
            false,
        );
        assert_eq!(f.message(), InputFailure::PANIC_MESSAGE);
        let f = InputFailure::new(FailureKind::Failed, "no such account", true);
        assert_eq!(
            (f.message(), f.is_read_request()),
            ("no such account", true)
        );
    }
}
