//! The engine's user message limit: a user message over
//! `user.max_bytes_per_msg` (5 MiB when 0, the default) makes the engine
//! close the connection, so the input never reaches any node.

use std::time::Instant;

use super::super::report::{Mode, RoundReport, Verdict};
use super::{Cluster, SimError};

/// The engine's default `user.max_bytes_per_msg` (hpcore
/// `comm_server.hpp DEFAULT_MAX_MSG_SIZE`, used when the setting is 0). The
/// limit is on the whole WebSocket message, envelope included, so an input
/// a little under it can still be over once wrapped; inputs over it are
/// certainly dropped.
pub const MAX_USER_MESSAGE_BYTES: usize = 5 * 1024 * 1024;

impl Cluster {
    /// Whether an input of `len` bytes is over the engine's message limit
    /// ([`ClusterBuilder::max_user_message_bytes`](super::ClusterBuilder::max_user_message_bytes)).
    pub(super) fn over_message_limit(&self, len: usize) -> bool {
        let limit = match self.settings.max_user_message {
            0 => MAX_USER_MESSAGE_BYTES,
            n => n,
        };
        len > limit
    }

    /// The report of a read request whose input is over the message limit:
    /// the engine closes the connection, so no node runs it.
    pub(super) fn unsent_read(&mut self, user: &str, len: usize) -> Result<RoundReport, SimError> {
        let started = Instant::now();
        self.rt.rounds += 1;
        let report = RoundReport {
            number: self.rt.rounds,
            mode: Mode::ReadRequest,
            lcl_seq_no: self.rt.lcl_seq_no,
            lcl_hash: self.rt.lcl_hash.clone(),
            timestamp: 0,
            rejected_inputs: Vec::new(),
            oversized_inputs: vec![(user.to_owned(), 0, len)],
            nodes: Vec::new(),
            verdict: Verdict::Agree,
            config_applied: None,
            no_ledger: None,
            read_node: None,
            wall: started.elapsed(),
        };
        self.save()?;
        Ok(report)
    }
}
