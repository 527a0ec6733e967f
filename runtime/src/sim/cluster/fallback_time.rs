//! How much of its round a fallback execution gets. hpcore fallback-hpsh
//! (`consensus.cpp`) runs the contract in fallback right after a stage's
//! vote check finds the votes unreliable, and ends it by `round start +
//! roundtime - 100 ms`; stage 1 starts `stage0` into the round and each
//! later stage `roundtime * stage_slice%` after the one before. A node that
//! finds out at stage 3 gets only what is left (150 ms at the defaults: the
//! engine logged "Contract process timeout of 148ms exceeded").

use std::time::Duration;

use super::super::report::Mode;
use super::Cluster;
use crate::config::PatchConfig;

/// The engine's margin before the round's end (`FALLBACK_CONTRACT_TERMINATE_MARGIN`).
const MARGIN_MS: u64 = 100;

/// How far into the round the vote check of `stage` (1..=3) runs.
pub(super) fn stage_start_ms(config: &PatchConfig, stage: u8) -> u64 {
    let roundtime = u64::from(config.consensus.roundtime);
    let slice = roundtime * u64::from(config.consensus.stage_slice) / 100;
    let stage0 = roundtime.saturating_sub(3 * slice);
    stage0 + u64::from(stage.clamp(1, 3) - 1) * slice
}

/// The time limit of a fallback execution starting at `stage`'s check: the
/// rest of the round less the margin (at least 1 ms).
pub(super) fn limit_ms(config: &PatchConfig, stage: u8) -> u64 {
    u64::from(config.consensus.roundtime)
        .saturating_sub(MARGIN_MS + stage_start_ms(config, stage))
        .max(1)
}

impl Cluster {
    /// The stage at whose check node `i` finds round `number`'s votes
    /// unreliable: 1 (the first check, where a missing UNL node shows) unless
    /// the perturbation schedule makes it later.
    pub(super) fn fallback_stage(&self, number: u64, i: usize) -> u8 {
        self.round_plan(number).map_or(1, |p| p.fallback_stage(i))
    }

    /// Node `i`'s execution time limit in round `number` (0: none): what
    /// is left of the round in fallback, `exec_timeout` otherwise.
    pub(super) fn timeout_ms(&self, kind: Mode, number: u64, i: usize) -> u64 {
        let config = &self.settings.config;
        match kind {
            Mode::ConsensusFallback => limit_ms(config, self.fallback_stage(number, i)),
            _ => config.round_limits.exec_timeout,
        }
    }

    /// How much later than the earliest node node `i` starts its fallback
    /// execution, having found out at a later stage.
    pub(super) fn fallback_skew(&self, kind: Mode, number: u64, i: usize) -> Duration {
        if kind != Mode::ConsensusFallback {
            return Duration::ZERO;
        }
        let start = |j| stage_start_ms(&self.settings.config, self.fallback_stage(number, j));
        let earliest = (0..self.rt.nodes.len()).map(start).min().unwrap_or(0);
        Duration::from_millis(start(i).saturating_sub(earliest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_stage_leaves_what_the_engine_left() {
        let mut c = PatchConfig::new(Vec::new(), "c");
        c.consensus.roundtime = 1000;
        c.consensus.stage_slice = 25;
        assert_eq!(limit_ms(&c, 1), 650);
        assert_eq!(limit_ms(&c, 2), 400);
        assert_eq!(limit_ms(&c, 3), 150, "the engine logged 148 ms");
        c.consensus.roundtime = 300;
        assert_eq!(limit_ms(&c, 3), 1, "nothing left");
    }
}
