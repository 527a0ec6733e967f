//! # hotpocket
//!
//! Write [HotPocket](https://github.com/EvernodeXRPL/hotpocket) smart contracts in Rust.
#![warn(missing_docs)]
// Data from outside the process (the engine's JSON, inputs, sockets, files)
// must never panic the runtime: no unwrap/expect/unchecked indexing outside tests.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod args;
mod atomic;
mod channels;
pub mod config;
mod contract;
pub mod error;
mod extract;
mod handler;
pub mod peers;
mod rng;
mod round;
#[cfg(feature = "sim")]
pub mod sim;
pub mod state;
pub mod testing;

pub use args::{Lcl, Mode, PrivateKey, Variant};
pub use channels::MAX_PACKET;
pub use config::PatchConfig;
pub use contract::{Contract, DEFAULT_NPL_TIMEOUT_MS, run};
pub use error::{Error, OutputErrorKind, Result};
pub use extract::{FromInput, Json};
pub use handler::{HandlerError, IntoHandlerResult, IntoNplResult};
pub use peers::{Peer, PeerChangeset};
pub use rng::Rng;
pub use round::{Node, Npl, Round, User};

pub mod prelude;

#[doc = include_str!("docs/contract.md")]
pub use hotpocket_macros::contract;
pub use hotpocket_macros::{on_input, on_npl, on_read_request, on_round_end, on_round_start};

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

/// The README's code blocks, compiled and run as doctests so the README stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
