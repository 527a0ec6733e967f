//! What handlers may return, and how a failed handler is described.

use std::fmt;

use crate::error::Error;
use crate::round::Npl;

/// Why a handler call did not succeed: its input could not be extracted, or
/// the handler returned an error. (A panic is caught and described by the
/// round lifecycle.)
#[derive(Debug)]
pub enum HandlerError {
    /// The input could not be turned into the handler's argument type.
    Extract(Error),
    /// The handler returned `Err`; the error's `Display` text.
    Failed(String),
}

impl HandlerError {
    /// An extraction failure (used by the code `#[contract]` generates).
    pub fn extract(e: Error) -> Self {
        HandlerError::Extract(e)
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandlerError::Extract(e) => write!(f, "{e}"),
            HandlerError::Failed(m) => write!(f, "handler returned an error: {m}"),
        }
    }
}

/// The return types a handler may have: `()` or `Result<(), E>` with
/// `E: Display` (such as [`hotpocket::Result<()>`](crate::Result)).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a valid handler return type",
    label = "return `()` or `Result<(), E>` where `E: Display`",
    note = "handlers return `()` or `Result<(), E>` with `E: std::fmt::Display`, e.g. `hotpocket::Result<()>`; `#[on_npl]` handlers return `Npl`, `bool` or a `Result` of either"
)]
pub trait IntoHandlerResult {
    /// Normalises the return value.
    fn into_handler_result(self) -> Result<(), HandlerError>;
}

impl IntoHandlerResult for () {
    fn into_handler_result(self) -> Result<(), HandlerError> {
        Ok(())
    }
}

impl<E: fmt::Display> IntoHandlerResult for Result<(), E> {
    fn into_handler_result(self) -> Result<(), HandlerError> {
        self.map_err(|e| HandlerError::Failed(e.to_string()))
    }
}

/// The return types an `#[on_npl]` handler may have: [`Npl`], `bool`
/// (`true` = done), or a `Result` of either with `E: Display`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a valid `#[on_npl]` return type",
    label = "return `Npl`, `bool`, or `Result<Npl, E>` / `Result<bool, E>` where `E: Display`",
    note = "an `#[on_npl]` handler says whether the NPL phase is done: `Npl::Done` / `Npl::Continue`, or `true` / `false`"
)]
pub trait IntoNplResult {
    /// Normalises the return value.
    fn into_npl_result(self) -> Result<Npl, HandlerError>;
}

impl IntoNplResult for Npl {
    fn into_npl_result(self) -> Result<Npl, HandlerError> {
        Ok(self)
    }
}

impl IntoNplResult for bool {
    fn into_npl_result(self) -> Result<Npl, HandlerError> {
        Ok(if self { Npl::Done } else { Npl::Continue })
    }
}

impl<T: IntoNplResult, E: fmt::Display> IntoNplResult for Result<T, E> {
    fn into_npl_result(self) -> Result<Npl, HandlerError> {
        self.map_err(|e| HandlerError::Failed(e.to_string()))?
            .into_npl_result()
    }
}
