//! Each node's vote status, as hpcore's `check_vote_status` decides it after
//! every round: `synced` when the node's state hash is the one a majority
//! of the cluster holds, `desync` when a majority holds another, `unreliable`
//! when no state hash has a majority; `unknown` before the first round.
//! Reported in `stat_response` and, on every change, as a `vote_status`
//! ledger event (`status::set_vote_status`).

use std::collections::BTreeMap;

use super::hash::Hash;

/// hpcore's `VOTE_STATUS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum VoteStatus {
    /// No round has finished yet.
    #[default]
    Unknown,
    /// No state hash has a majority.
    Unreliable,
    /// A majority holds another state hash than this node.
    Desync,
    /// This node holds the majority's state hash.
    Synced,
}

impl VoteStatus {
    /// The engine's name (`VOTE_STATUSES`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            VoteStatus::Unknown => "unknown",
            VoteStatus::Unreliable => "unreliable",
            VoteStatus::Desync => "desync",
            VoteStatus::Synced => "synced",
        }
    }
}

/// Every node's status after a round that left the nodes with these state
/// hashes (by node index). The simulator's verdict is the cluster's, so a
/// strict majority of the nodes decides, as for the outputs.
pub(crate) fn after_round(state_hashes: &[Hash]) -> Vec<VoteStatus> {
    let mut count: BTreeMap<&Hash, usize> = BTreeMap::new();
    for h in state_hashes {
        *count.entry(h).or_default() += 1;
    }
    let majority = count
        .into_iter()
        .find(|(_, n)| *n * 2 > state_hashes.len())
        .map(|(h, _)| *h);
    state_hashes
        .iter()
        .map(|h| match majority {
            None => VoteStatus::Unreliable,
            Some(m) if m == *h => VoteStatus::Synced,
            Some(_) => VoteStatus::Desync,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_majority_state_decides() {
        use VoteStatus::*;
        assert_eq!(
            after_round(&[[1; 32], [1; 32], [2; 32]]),
            [Synced, Synced, Desync]
        );
        assert_eq!(after_round(&[[1; 32], [2; 32]]), [Unreliable, Unreliable]);
        assert_eq!(after_round(&[[3; 32]; 3]), [Synced; 3]);
        assert_eq!(after_round(&[]), []);
    }
}
