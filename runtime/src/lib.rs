//! # hotpocket
//!
//! Write [HotPocket](https://github.com/EvernodeXRPL/hotpocket) smart contracts in Rust.
#![warn(missing_docs)]

mod atomic;
pub mod config;
pub mod error;
pub mod peers;
pub mod state;

pub use error::{Error, OutputErrorKind, Result};
