//! Consensus rounds in which the engine closes no ledger: too few UNL nodes
//! propose (observers send no proposals), or the round right after an
//! agreed round-time change.

use std::time::Instant;

use super::super::report::{ConfigUpdate, Mode, RoundReport, Verdict};
use super::{Cluster, SimError};

/// The proposals a ledger needs and the ones the UNL sends: hpcore
/// `consensus.cpp` needs `ceil(threshold% * unl_count)` proposing nodes,
/// and an observer, or a UNL key no node of the cluster holds, sends none.
/// `None` when enough propose.
pub(super) fn proposer_shortfall(
    unl: &[String],
    proposers: &[&str],
    threshold: u16,
) -> Option<String> {
    let votes = unl
        .iter()
        .filter(|k| proposers.contains(&k.as_str()))
        .count();
    let needed = (u64::from(threshold) * unl.len() as u64).div_ceil(100) as usize;
    (votes < needed).then(|| {
        format!(
            "Not enough peers proposing to perform consensus. votes:{votes} needed:{needed} \
             (the engine's log: of {} UNL nodes {votes} propose, an observer sends no proposals, \
             and consensus.threshold {threshold}% needs {needed})",
            unl.len()
        )
    })
}

impl Cluster {
    /// Why the engine would close no ledger in the consensus round about to
    /// run, if it would not.
    pub(super) fn no_ledger(&mut self) -> Option<String> {
        if let Some(why) = self.rt.lose_next.take() {
            return Some(why);
        }
        let s = &self.settings;
        let proposers: Vec<&str> = self
            .rt
            .nodes
            .iter()
            .enumerate()
            .filter(|(i, _)| !s.observers.contains(i))
            .map(|(_, n)| n.keys.public_key.as_str())
            .collect();
        let shortfall = proposer_shortfall(&s.config.unl, &proposers, s.config.consensus.threshold);
        if shortfall.is_some() {
            // The engine counts such a round as one without consensus.
            self.rt.non_consensus_rounds += 1;
        }
        shortfall
    }

    /// The report of round `number`, in which no ledger closed: no contract
    /// ran, the lcl stays, the round's time passes, and the queued inputs
    /// wait for the next round.
    pub(super) fn lost_round(
        &mut self,
        number: u64,
        why: String,
        started: Instant,
    ) -> Result<RoundReport, SimError> {
        self.rt.clock_ms += u64::from(self.settings.config.consensus.roundtime);
        let report = RoundReport {
            number,
            mode: Mode::Consensus,
            lcl_seq_no: self.rt.lcl_seq_no,
            lcl_hash: self.rt.lcl_hash.clone(),
            timestamp: self.rt.clock_ms,
            rejected_inputs: Vec::new(),
            oversized_inputs: Vec::new(),
            nodes: Vec::new(),
            verdict: Verdict::Agree,
            config_applied: None,
            no_ledger: Some(why),
            read_node: None,
            wall: started.elapsed(),
        };
        self.save()?;
        Ok(report)
    }

    /// After a round that applied `update`: a changed round time costs the
    /// next consensus round its ledger, as on a real cluster.
    pub(super) fn note_roundtime_change(&mut self, before: u32, update: Option<&ConfigUpdate>) {
        let Some(after) = update.map(|u| u.config.consensus.roundtime) else {
            return;
        };
        if after != before {
            self.rt.lose_next = Some(format!(
                "Not enough stage 3 proposals to create a ledger (the first round after the agreed \
                 round-time change {before} -> {after} ms: the nodes switch to the new stage \
                 windows at different moments, and a real cluster lost this round)"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("ed{i}")).collect()
    }

    #[test]
    fn an_observer_in_a_three_node_unl_stops_consensus_at_80_percent() {
        let unl = keys(3);
        let why = proposer_shortfall(&unl, &["ed0", "ed1"], 80).expect("no ledger");
        assert!(
            why.starts_with("Not enough peers proposing to perform consensus. votes:2 needed:3")
        );
        assert_eq!(proposer_shortfall(&unl, &["ed0", "ed1", "ed2"], 80), None);
        assert_eq!(proposer_shortfall(&unl, &["ed0", "ed1"], 66), None);
    }

    #[test]
    fn enough_non_observers_keep_a_larger_unl_going() {
        let unl = keys(5);
        assert_eq!(
            proposer_shortfall(&unl, &["ed0", "ed1", "ed2", "ed3"], 80),
            None
        );
        assert!(proposer_shortfall(&unl, &["ed0", "ed1", "ed2"], 80).is_some());
        // Keys outside the UNL do not count.
        assert!(proposer_shortfall(&keys(2), &["ed0", "x"], 80).is_some());
    }
}
