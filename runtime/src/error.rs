//! The crate's one error type. Every message says what was wrong and where:
//! the argument field, the user's public key and input index, the fd, the
//! patch.cfg key.

use std::fmt;
use std::io;

/// `Result` with this crate's [`Error`] as the default error type.
///
/// Handlers may return `Result<()>` (this alias) or `Result<(), E>` for any
/// `E: Display`.
pub type Result<T = (), E = Error> = core::result::Result<T, E>;

/// Everything that can go wrong in a round, with the place it went wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The round's arguments (the engine's JSON on stdin) are missing or malformed.
    Args {
        /// The JSON path of the offending field, e.g. `users.<pk>[2]`; empty for the whole document.
        field: String,
        /// What was wrong and what was expected.
        message: String,
    },
    /// A user's input could not be read from the input file descriptor.
    Input {
        /// The user's public key (hex).
        user: String,
        /// The index of the input in the user's list (0-based).
        index: usize,
        /// What was wrong.
        message: String,
    },
    /// An input's bytes could not be turned into the handler's argument type.
    Extract(String),
    /// A user's output could not be written.
    Output {
        /// The user's public key (hex).
        user: String,
        /// Why.
        kind: OutputErrorKind,
    },
    /// The NPL (node party line) channel refused a message or failed.
    Npl(String),
    /// The control channel refused a message or failed.
    Control(String),
    /// `patch.cfg` is missing, malformed, or an update broke one of the engine's rules.
    Config {
        /// The offending key, dotted (`consensus.roundtime`); empty for the whole file.
        key: String,
        /// The rule that was broken, or the I/O failure.
        message: String,
    },
    /// The contract's persisted state could not be loaded or saved.
    State {
        /// The state file (relative to the working directory).
        file: String,
        /// What was wrong.
        message: String,
    },
    /// The operation is not allowed in this round's mode (e.g. NPL in a read request).
    NotAllowed(String),
    /// An operating-system call failed.
    Io {
        /// What was being done, e.g. `reading stdin` or `fstat on user_in_fd 5`.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
    /// An error raised by contract code (see [`Error::msg`]).
    Custom(String),
}

/// Why a user output could not be written.
#[derive(Debug)]
#[non_exhaustive]
pub enum OutputErrorKind {
    /// The engine closed the user's output socket (EPIPE / ECONNRESET), which
    /// it does when the user's `round_limits.user_output_bytes` is exceeded.
    Closed,
    /// The message is longer than the 4-byte length header can describe.
    TooLarge(usize),
    /// Any other write failure.
    Io(io::Error),
}

impl Error {
    /// An error with a message of your own, for handlers:
    /// `return Err(Error::msg(format!("unknown account {name}")))`.
    pub fn msg(message: impl fmt::Display) -> Self {
        Error::Custom(message.to_string())
    }

    pub(crate) fn args(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Args {
            field: field.into(),
            message: message.into(),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Config {
            key: key.into(),
            message: message.into(),
        }
    }

    /// True when the error means the engine closed a channel (a user output
    /// socket over its byte limit, or NPL / control at the end of the round).
    pub fn is_closed(&self) -> bool {
        matches!(
            self,
            Error::Output {
                kind: OutputErrorKind::Closed,
                ..
            }
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Args { field, message } if field.is_empty() => {
                write!(f, "round arguments: {message}")
            }
            Error::Args { field, message } => {
                write!(f, "round arguments: field `{field}`: {message}")
            }
            Error::Input {
                user,
                index,
                message,
            } => {
                write!(f, "user {user} input #{index}: {message}")
            }
            Error::Extract(message) => f.write_str(message),
            Error::Output { user, kind } => match kind {
                OutputErrorKind::Closed => write!(
                    f,
                    "output to user {user}: the engine closed the socket (user_output_bytes limit reached?)"
                ),
                OutputErrorKind::TooLarge(len) => write!(
                    f,
                    "output to user {user}: message of {len} bytes exceeds the 4-byte length header (max {})",
                    u32::MAX
                ),
                OutputErrorKind::Io(e) => write!(f, "output to user {user}: {e}"),
            },
            Error::Npl(message) => write!(f, "NPL: {message}"),
            Error::Control(message) => write!(f, "control channel: {message}"),
            Error::Config { key, message } if key.is_empty() => write!(f, "patch.cfg: {message}"),
            Error::Config { key, message } => write!(f, "patch.cfg: `{key}`: {message}"),
            Error::State { file, message } => write!(f, "state file `{file}`: {message}"),
            Error::NotAllowed(message) => f.write_str(message),
            Error::Io { context, source } => write!(f, "{context}: {source}"),
            Error::Custom(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Output {
                kind: OutputErrorKind::Io(e),
                ..
            } => Some(e),
            _ => None,
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Custom(format!("JSON: {e}"))
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io {
            context: "I/O".into(),
            source: e,
        }
    }
}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Error::Custom(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Error::Custom(message.to_owned())
    }
}
