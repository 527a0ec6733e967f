//! What differs between real nodes and is made to differ here, seeded so
//! that a run replays exactly: kept apart from the round steps so each
//! variation reads (and merges) on its own.

use sha2::{Digest, Sha256};

/// A number in `0..span` drawn from the labelled inputs (same inputs, same
/// number; `span` 0 gives 0).
pub(in crate::sim) fn draw(label: &str, parts: &[u64], span: u64) -> u64 {
    if span == 0 {
        return 0;
    }
    let mut bytes = label.as_bytes().to_vec();
    for p in parts {
        bytes.extend_from_slice(&p.to_be_bytes());
    }
    let d = Sha256::digest(&bytes);
    let mut word = [0u8; 8];
    word.copy_from_slice(d.get(..8).unwrap_or(&[0; 8]));
    u64::from_be_bytes(word) % span
}

/// How long before `base` node `viewer` received `peer`'s last proposal in
/// round `round`: `unl[pk].active_on` is that node-local receive time in the
/// engine (hpcore `update_unl_stats`), so each node sees its own values.
pub(super) fn active_on(base: u64, round: u64, viewer: usize, peer: usize) -> u64 {
    // 1..=250 ms: within a round's proposal stage on a local network.
    base.saturating_sub(1 + draw("active_on", &[round, viewer as u64, peer as u64], 250))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_replay_and_differ_by_input() {
        assert_eq!(draw("x", &[1, 2], 1000), draw("x", &[1, 2], 1000));
        let all: std::collections::BTreeSet<u64> =
            (0..20).map(|i| draw("x", &[i], 1_000_000)).collect();
        assert!(all.len() > 15, "{all:?}");
        assert_eq!(draw("x", &[1], 0), 0);
    }

    #[test]
    fn each_node_sees_its_own_receive_times() {
        let view =
            |viewer| -> Vec<u64> { (0..3).map(|p| active_on(10_000, 1, viewer, p)).collect() };
        assert_ne!(view(0), view(1));
        assert_ne!(view(1), view(2));
        assert!(view(0).iter().all(|&t| (9_750..10_000).contains(&t)));
        assert_eq!(view(2), view(2));
    }
}
