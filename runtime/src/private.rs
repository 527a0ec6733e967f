//! The hidden door between `#[hotpocket::contract]` and the runtime.
//!
//! The code the macro generates names the runtime only through this module,
//! always by an absolute path (`::hotpocket::__private::…`, or
//! `<path>::__private::…` with `#[contract(crate = "path")]`). It is not part
//! of the public API: anything here may change in any release, together with
//! `hotpocket-macros`, whose version the runtime pins exactly.

pub use crate::contract::Contract;
pub use crate::engine::run;
pub use crate::error::Error;
pub use crate::extract::FromInput;
pub use crate::failure::InputFailure;
pub use crate::handler::{HandlerError, IntoHandlerResult, IntoNplResult};
pub use crate::round::{Node, Npl, Round, User};
pub use crate::state::{StateCodec, json_codec};
pub use ::core;
/// Whether the runtime was built with the `store` feature, checked by the
/// code `#[contract(store)]` generates.
pub const STORE_FEATURE: bool = cfg!(feature = "store");
