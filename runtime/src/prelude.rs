//! What a contract file needs: `use hotpocket::prelude::*;`.
//!
//! The handler attributes are here too, so that one written outside a
//! `#[contract]` block is reported as such rather than as unknown.

pub use crate::{
    Error, FailureKind, InputFailure, Json, Node, Npl, Rejection, Result, Round, User, contract,
};
pub use crate::{on_input, on_npl, on_read_request, on_round_end, on_round_start};
pub use serde::{Deserialize, Serialize};
