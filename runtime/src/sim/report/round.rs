//! One round over the whole cluster, and the assertions tests make on it.

use std::time::Duration;

use super::{ConfigUpdate, Exit, Hazard, HazardKind, Mode, NodeReport, Verdict};

/// One round over the whole cluster.
#[derive(Clone, Debug)]
pub struct RoundReport {
    /// The round's 1-based number among all the cluster ran, of every kind
    /// (continuing a kept cluster's count).
    pub number: u64,
    /// The kind of round.
    pub mode: Mode,
    /// lcl sequence number handed to the contract (the current one for read requests).
    pub lcl_seq_no: u64,
    /// lcl hash (hex).
    pub lcl_hash: String,
    /// The `timestamp` handed to the contract (0 for read requests).
    pub timestamp: u64,
    /// Inputs the engine would reject (over `user_input_bytes`): (user, index, length).
    pub rejected_inputs: Vec<(String, usize, usize)>,
    /// Inputs over the engine's user message limit
    /// ([`MAX_USER_MESSAGE_BYTES`](crate::sim::MAX_USER_MESSAGE_BYTES)):
    /// (user, index, length). The engine closes such a user's connection, so
    /// they reach no node; the simulator drops them too.
    pub oversized_inputs: Vec<(String, usize, usize)>,
    /// Per node, by index.
    pub nodes: Vec<NodeReport>,
    /// Agreement over nodes.
    pub verdict: Verdict,
    /// The `patch.cfg` every node's contract changed identically and validly
    /// in this round, which the cluster applies from the next round on, as
    /// the engine does once the nodes agree on it (hpcore `consensus.cpp`
    /// `apply_consensed_patch_file_changes`).
    pub config_applied: Option<ConfigUpdate>,
    /// Why the engine closes no ledger in this consensus round, if it does
    /// not (too few UNL nodes propose, as with an observer in a small UNL;
    /// the round after an agreed round-time change). Then no contract ran
    /// (`nodes` is empty), the lcl stays, the clock moves a round on and the
    /// round's inputs wait for the next round.
    pub no_ledger: Option<String>,
    /// For a read request, the node that answers it: the one the user is
    /// connected to, the only node on which the engine runs it. The other
    /// nodes' runs (unless [`check_reads`](crate::sim::ClusterBuilder::check_reads)
    /// turned them off) are the simulator's extra check, which the
    /// [`verdict`](Self::verdict) covers and the engine never makes.
    pub read_node: Option<usize>,
    /// Wall time of the whole round.
    pub wall: Duration,
}

// The assert_* helpers exist to panic with a readable report, in tests.
#[allow(clippy::panic)]
impl RoundReport {
    /// Node `i`'s report. Panics if there is no such node (tests only).
    pub fn node(&self, i: usize) -> &NodeReport {
        match self.nodes.iter().find(|n| n.index == i) {
            Some(n) => n,
            None => panic!("no node {i} in a cluster of {}", self.nodes.len()),
        }
    }

    /// The answering node's outputs to `user` as text (node 0 in a
    /// consensus round; use after [`assert_agree`](Self::assert_agree)).
    pub fn outputs(&self, user: &str) -> Vec<String> {
        self.nodes
            .iter()
            .find(|n| self.read_node.is_none_or(|i| n.index == i))
            .map(|n| n.output_strings(user))
            .unwrap_or_default()
    }

    /// Node 0's state hash, if the round kept state.
    pub fn state_hash(&self) -> Option<&str> {
        self.nodes
            .first()
            .and_then(|n| n.state.as_ref())
            .map(|s| s.hash.as_str())
    }

    /// True if any node saw a hazard of this kind.
    pub fn has_hazard(&self, kind: HazardKind) -> bool {
        self.nodes.iter().any(|n| n.has_hazard(kind))
    }

    /// All hazards, with the node index.
    pub fn hazards(&self) -> Vec<(usize, &Hazard)> {
        self.nodes
            .iter()
            .flat_map(|n| n.hazards.iter().map(move |h| (n.index, h)))
            .collect()
    }

    /// Panics with the report if the round closed no ledger: the
    /// assertions on what nodes did would otherwise pass on no nodes.
    #[track_caller]
    fn assert_ran(&self) {
        if let Some(why) = &self.no_ledger {
            panic!(
                "round {} closed no ledger, no contract ran: {why}\n\n{self}",
                self.number
            );
        }
        if self.nodes.is_empty() {
            panic!("round {}: no node ran\n\n{self}", self.number);
        }
    }

    /// Panics with the report unless all nodes agree (and the round closed
    /// a ledger).
    #[track_caller]
    pub fn assert_agree(&self) -> &Self {
        self.assert_ran();
        if let Verdict::Differ(d) = &self.verdict {
            panic!("nodes disagree: {d}\n\n{self}");
        }
        self
    }

    /// Panics with the report if all nodes agree.
    #[track_caller]
    pub fn assert_disagree(&self) -> &Self {
        if self.verdict.agrees() {
            panic!("expected the nodes to disagree, but they agree\n\n{self}");
        }
        self
    }

    /// Panics unless every node sent exactly these outputs to `user`.
    #[track_caller]
    pub fn assert_outputs(&self, user: &str, expected: &[&str]) -> &Self {
        self.assert_ran();
        for n in &self.nodes {
            let got = n.output_strings(user);
            if got != expected {
                panic!(
                    "node {}: outputs to {user} are {got:?}, expected {expected:?}\n\n{self}",
                    n.index
                );
            }
        }
        self
    }

    /// Panics unless some node saw a hazard of this kind.
    #[track_caller]
    pub fn assert_hazard(&self, kind: HazardKind) -> &Self {
        if !self.has_hazard(kind) {
            panic!("expected a {kind:?} hazard\n\n{self}");
        }
        self
    }

    /// Panics if any node saw a hazard.
    #[track_caller]
    pub fn assert_no_hazards(&self) -> &Self {
        if !self.hazards().is_empty() {
            panic!("expected no hazards\n\n{self}");
        }
        self
    }

    /// Panics unless every contract exited with code 0.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        self.assert_ran();
        for n in &self.nodes {
            if n.exit != Exit::Code(0) {
                panic!("node {}: {}\n\n{self}", n.index, n.exit);
            }
        }
        self
    }
}
