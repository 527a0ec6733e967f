//! What a simulated round produced: per node, and a verdict over nodes.
//!
//! Everything here is ordered deterministically (nodes by index, users by
//! public key, files by path, NPL by delivery order), so two runs of a
//! deterministic contract give equal reports apart from timing and resource
//! usage, which are kept in their own fields and never enter the verdict.

mod raw_json;
mod render;
mod round;
mod types;
mod verdict;

#[cfg(test)]
use std::{collections::BTreeMap, time::Duration};

pub(crate) use raw_json::raw_json_hazards;
pub use render::render_bytes;
pub use round::RoundReport;
pub(crate) use types::mode_text;
pub use types::*;
pub use verdict::{DiffAt, Difference, Verdict};
pub(crate) use verdict::{PATCH_CFG, verdict};

/// A node's report for unit tests: exit 0, `out` to alice, this stderr.
#[cfg(test)]
pub(crate) fn test_node(index: usize, out: &[&[u8]], stderr: &str) -> NodeReport {
    NodeReport {
        index,
        public_key: format!("ed{index:064}"),
        observer: false,
        exit: Exit::Code(0),
        outputs: vec![UserOutputs {
            user: "alice".into(),
            public_key: "edaa".into(),
            messages: out.iter().map(|m| m.to_vec()).collect(),
        }],
        control: Vec::new(),
        npl_sent: Vec::new(),
        npl_received: Vec::new(),
        npl_lost: Vec::new(),
        stdout: Vec::new(),
        stderr: stderr.as_bytes().to_vec(),
        state: Some(StateSnapshot {
            hash: "0123456789abcdef".repeat(4),
            files: BTreeMap::new(),
        }),
        post_exec: None,
        patch_cfg: Some("file:x".into()),
        patch_change: None,
        hazards: Vec::new(),
        args_json: String::new(),
        leaked_fds: Vec::new(),
        usage: Usage::default(),
        wall: Duration::from_millis(2),
    }
}
