//! # hotpocket
//!
//! Write [HotPocket](https://github.com/EvernodeXRPL/hotpocket) smart contracts in Rust.
#![warn(missing_docs)]

pub mod error;

pub use error::{Error, OutputErrorKind, Result};
