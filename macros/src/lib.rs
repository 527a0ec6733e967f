//! The `#[contract]` attribute of [`hotpocket`](https://docs.rs/hotpocket).
//!
//! Depend on `hotpocket` and write `#[hotpocket::contract]`; this crate is an
//! implementation detail whose version always matches the runtime's. The
//! attribute's documentation lives on its re-export, `hotpocket::contract`.
//!
//! Inside, an expansion goes through three stages: the options and the impl
//! block are checked into a model (`args`, `model`), which is valid by
//! construction; code generation (`codegen`) reads only the model and cannot
//! fail. When the checks fail, every error is reported on the offending tokens
//! and the author's code is still emitted (`codegen::fallback`), so that no
//! follow-on errors hide the real ones.
#![warn(missing_docs)]
#![forbid(unsafe_code)]
// Everything here runs on the author's tokens: a malformed block must become a
// spanned error, never a panic (no unwrap/expect/unchecked indexing).
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

mod args;
mod codegen;
mod diag;
mod expand;
mod model;
mod paths;
mod serde_dep;

use proc_macro::TokenStream;

use crate::model::HandlerKind;

/// Turns an inherent impl block into a HotPocket contract.
///
/// See `hotpocket::contract` for the documentation.
#[proc_macro_attribute]
pub fn contract(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::contract(attr.into(), item.into()).into()
}

/// Marks the `#[contract]` method that runs at the start of every round.
///
/// Only valid inside a `#[contract]` impl block, which removes it; anywhere
/// else it is an error.
#[proc_macro_attribute]
pub fn on_round_start(_attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::stray_handler_attr(HandlerKind::RoundStart, item.into()).into()
}

/// Marks the `#[contract]` method that handles each user input.
///
/// Only valid inside a `#[contract]` impl block, which removes it; anywhere
/// else it is an error.
#[proc_macro_attribute]
pub fn on_input(_attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::stray_handler_attr(HandlerKind::Input, item.into()).into()
}

/// Marks the `#[contract]` method that handles the input of a read request.
///
/// Only valid inside a `#[contract]` impl block, which removes it; anywhere
/// else it is an error.
#[proc_macro_attribute]
pub fn on_read_request(_attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::stray_handler_attr(HandlerKind::ReadRequest, item.into()).into()
}

/// Marks the `#[contract]` method that handles each NPL message.
///
/// Only valid inside a `#[contract]` impl block, which removes it; anywhere
/// else it is an error.
#[proc_macro_attribute]
pub fn on_npl(_attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::stray_handler_attr(HandlerKind::Npl, item.into()).into()
}

/// Marks the `#[contract]` method that runs at the end of every round.
///
/// Only valid inside a `#[contract]` impl block, which removes it; anywhere
/// else it is an error.
#[proc_macro_attribute]
pub fn on_round_end(_attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::stray_handler_attr(HandlerKind::RoundEnd, item.into()).into()
}
