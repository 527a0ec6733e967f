//! # hotpocket
//!
//! Write [HotPocket](https://github.com/EvernodeXRPL/hotpocket) smart contracts in Rust.
#![warn(missing_docs)]

pub mod error;
#[cfg(feature = "sim")]
pub mod sim;

pub use error::{Error, OutputErrorKind, Result};
