//! # hotpocket
//!
//! Write [HotPocket](https://github.com/EvernodeXRPL/hotpocket) smart contracts in Rust.
//!
//! HotPocket starts the contract as a child process every round, with the
//! round's arguments as JSON on stdin, the users' inputs in a file descriptor,
//! one output socket per user, a control socket and an NPL (node party line)
//! socket. This crate does all of that for you:
//!
//! ```
//! use hotpocket::prelude::*;
//!
//! #[derive(Default, Serialize, Deserialize)]
//! struct Counter { total: i64 }
//!
//! #[derive(Deserialize)]
//! enum Cmd { Add(i64), Get }
//!
//! #[hotpocket::contract(state = "counter.json")]
//! impl Counter {
//!     #[on_input]
//!     fn input(&mut self, _ctx: &mut Round, user: &User, Json(cmd): Json<Cmd>) -> Result<()> {
//!         if let Cmd::Add(n) = cmd { self.total += n; }
//!         user.send_json(&self.total)
//!     }
//! }
//! # let mut c = Counter::default();
//! # let out = hotpocket::testing::TestRound::new().input("alice", r#"{"Add":2}"#).run(&mut c);
//! # assert_eq!(out.outputs("alice"), ["2"]);
//! ```
//!
//! - [`contract`]: the attribute, its options, handlers and extractors.
//! - [`Round`], [`User`], [`Node`]: what handlers see and do.
//! - [`agree`]: the nodes agree on values over NPL, deterministically,
//!   despite late starters, reordering and lost messages.
//! - [`testing`]: run a round of your contract in a plain `#[test]`, on one
//!   node or on an in-process [`Cluster`](testing::Cluster) of several.
//! - `sim` (feature `sim`, on by default): the local engine simulator behind
//!   dev mode (`cargo run -- --dev`) and process-level tests.
//! - [`args`], [`config`], [`peers`], [`state`]: the engine's arguments,
//!   `patch.cfg`, peer changesets and typed state, for those who need them
//!   directly.
//! - [`guide`]: what a contract does with bad input ([`guide::bad_input`]),
//!   how to keep every node agreeing ([`guide::determinism`]), NPL between
//!   nodes ([`guide::npl`]) and the
//!   engine's contract protocol itself ([`guide::protocol`]).
//! - [`json`]: the crate's `serde_json`, for NPL messages and manual parsing.
//!
//! The runtime targets hpcore 0.6.4 (`main`, a `readonly` flag in the
//! arguments) and the 0.6.5 fallback branch (a `mode`), byte for byte
//! ([`guide::protocol`](guide::protocol#round-arguments)).
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

pub mod agree;
pub mod args;
mod atomic;
mod channels;
pub mod config;
mod contract;
#[cfg(feature = "crypto")]
pub mod crypto;
mod engine;
pub mod error;
mod extract;
mod failure;
mod handler;
mod lifecycle;
mod npl_match;
mod panic;
pub mod peers;
mod rng;
mod round;
#[cfg(feature = "sim")]
pub mod sim;
pub mod state;
#[cfg(feature = "store")]
pub mod store;
pub mod testing;
mod wire;

pub use args::{Lcl, Mode, PrivateKey, Variant};
pub use config::PatchConfig;
pub use contract::{Contract, DEFAULT_NPL_TIMEOUT_MS};
pub use engine::run;
pub use error::{Error, OutputErrorKind, Result};
pub use extract::{FromInput, Json, Rejection};
pub use failure::{FailureKind, InputFailure};
pub use handler::{HandlerError, IntoHandlerResult, IntoNplResult};
pub use peers::{Peer, PeerChangeset};
pub use rng::Rng;
pub use round::{Node, Npl, Round, User};
pub use wire::MAX_PACKET;

/// The crate's `serde_json`, re-exported so that a contract can build NPL
/// messages, parse an input by hand or shape an output without declaring
/// (and keeping in step) a `serde_json` dependency of its own:
/// `hotpocket::json::to_vec(&value)`, `hotpocket::json::from_slice(bytes)`.
pub use serde_json as json;

pub mod prelude;

/// Guides: documentation only, no items.
pub mod guide {
    /// What a contract does when something is wrong: every failure the
    /// runtime handles, its message, exit status and what is still delivered.
    pub mod bad_input {
        #![doc = include_str!("docs/bad_input.md")]
    }

    /// What every node must agree on, every source of nondeterminism an
    /// author can meet, and what the framework gives instead.
    pub mod determinism {
        #![doc = include_str!("docs/determinism.md")]
    }

    /// NPL between the nodes' contracts: the engine's delivery facts, what
    /// splits a cluster and what does not, and the safe patterns
    /// (agreement, commit-reveal).
    pub mod npl {
        #![doc = include_str!("docs/npl.md")]
    }

    /// The engine's contract protocol, as hpcore implements it: the round's
    /// arguments, every channel's framing and limits, how a round ends,
    /// `post_exec.sh`, `patch.cfg` and what clients receive, with sources.
    pub mod protocol {
        #![doc = include_str!("docs/protocol.md")]
    }
}

#[doc = include_str!("docs/contract.md")]
pub use hotpocket_macros::contract;
pub use hotpocket_macros::{on_input, on_npl, on_read_request, on_round_end, on_round_start};

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

/// The fuzz targets' bodies (`runtime/fuzz`); under `cfg(fuzzing)`, which
/// cargo-fuzz sets, so no feature of the published crate exposes them.
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
#[path = "fuzz.rs"]
pub mod __fuzz;

/// The README's code blocks, compiled and run as doctests so the README stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
