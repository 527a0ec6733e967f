//! The HotPocket user protocol, as hpcore 0.6.4 speaks it to clients, for a
//! simulated cluster that real clients (the official JS client) connect to.
//!
//! The pieces are pure and tested on their own: `hash` (output hash, hash
//! tree, what UNL nodes sign), [`embed`] (how an output enters a JSON
//! message, the engine's quirk included). [`embed`] is part of every
//! simulator build, since every run reports outputs the quirk would mangle;
//! the rest only with the `serve` feature.

#[cfg(feature = "serve")]
mod backend;
#[cfg(feature = "serve")]
pub(crate) mod doc;
#[cfg(feature = "serve")]
pub(crate) mod driver;
#[cfg(feature = "serve")]
pub(crate) use backend::serve_until_interrupted;
#[cfg(feature = "serve")]
pub use backend::{ServeOptions, serve};
pub mod embed;
#[cfg(feature = "serve")]
pub(crate) mod handshake;
#[cfg(feature = "serve")]
pub(crate) mod hash;
#[cfg(feature = "serve")]
pub(crate) mod hub;
#[cfg(feature = "serve")]
pub(crate) mod inputs;
#[cfg(feature = "serve")]
pub(crate) mod reply;
#[cfg(feature = "serve")]
pub(crate) mod request;
#[cfg(feature = "serve")]
pub(crate) mod server;
#[cfg(feature = "serve")]
pub(crate) mod vote;
