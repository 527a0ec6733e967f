//! What a simulated round produced: per node, and a verdict over nodes.
//!
//! Everything here is ordered deterministically (nodes by index, users by
//! public key, files by path, NPL by delivery order), so two runs of a
//! deterministic contract give equal reports apart from timing and resource
//! usage, which are kept in their own fields and never enter the verdict.

mod render;
mod round;
mod types;
mod verdict;

pub use render::render_bytes;
pub use round::RoundReport;
pub(crate) use types::mode_text;
pub use types::*;
pub use verdict::{DiffAt, Difference, Verdict};
pub(crate) use verdict::{PATCH_CFG, verdict};
