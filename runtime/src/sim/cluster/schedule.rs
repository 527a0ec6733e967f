//! Seeded perturbation schedules: what [`Cluster::explore`] and dev mode's
//! `--explore N` / `--schedule S` vary beyond a default run, round by round.
//!
//! A schedule is its seed: every choice is drawn from the seed, the round
//! number and the nodes involved, so the same seed gives the same
//! perturbations on every run and every machine.
//!
//! [`Cluster::explore`]: super::Cluster::explore

use std::fmt;
use std::time::Duration;

use super::super::npl::NplFault;
use super::vary::draw;

/// One seeded perturbation schedule. Per consensus or fallback round it may
/// start some nodes' contracts late (up to a fifth of the round time, the
/// start skew real nodes show within an NPL wait), delay some peer-to-peer
/// NPL links (up to half the round time, which reorders what each node
/// receives) and lose the messages of one sender-to-receiver link. A node's
/// own messages are never delayed or lost: the engine hands them back
/// through its self-channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Schedule {
    seed: u64,
}

impl Schedule {
    /// The schedule with this seed.
    pub fn new(seed: u64) -> Schedule {
        Schedule { seed }
    }

    /// Its seed (what `--schedule` takes).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// What this schedule does in round `round` of a cluster of `nodes`
    /// nodes whose round time is `roundtime_ms`.
    pub fn plan(&self, round: u64, nodes: usize, roundtime_ms: u64) -> RoundPlan {
        let s = self.seed;
        let max_skew = (roundtime_ms / 5).max(1);
        let max_delay = (roundtime_ms / 2).max(1);
        let skews = (0..nodes as u64)
            .map(|i| match draw("explore skew?", &[s, round, i], 2) {
                0 => Duration::ZERO,
                _ => Duration::from_millis(1 + draw("explore skew", &[s, round, i], max_skew)),
            })
            .collect();
        let mut lost = None;
        if nodes > 1 && draw("explore loss?", &[s, round], 3) == 0 {
            let from = draw("explore loss from", &[s, round], nodes as u64) as usize;
            let step = 1 + draw("explore loss to", &[s, round], nodes as u64 - 1) as usize;
            lost = Some((from, (from + step) % nodes));
        }
        let mut delays = Vec::new();
        for from in 0..nodes {
            for to in (0..nodes).filter(|&t| t != from) {
                let link = [s, round, from as u64, to as u64];
                if draw("explore delay?", &link, 3) == 0 {
                    let ms = 1 + draw("explore delay", &link, max_delay);
                    delays.push((from, to, Duration::from_millis(ms)));
                }
            }
        }
        let fallback_stages = (0..nodes as u64)
            .map(|i| 1 + draw("explore fallback stage", &[s, round, i], 3) as u8)
            .collect();
        RoundPlan {
            round,
            skews,
            fallback_stages,
            delays,
            lost,
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "schedule {}", self.seed)
    }
}

/// What a [`Schedule`] does in one round.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoundPlan {
    /// The round's number.
    pub round: u64,
    /// Per node, how late its contract starts.
    pub skews: Vec<Duration>,
    /// Per node, in a fallback round: the stage (1..=3) at whose vote check
    /// it finds the votes unreliable and starts the contract, which leaves
    /// it less of the round the later it is.
    pub fallback_stages: Vec<u8>,
    /// Peer links whose messages arrive late: (from, to, delay).
    pub delays: Vec<(usize, usize, Duration)>,
    /// The link whose messages are lost: (from, to).
    pub lost: Option<(usize, usize)>,
}

impl RoundPlan {
    /// The NPL fault rules for the round, the loss first (the first
    /// matching rule applies).
    pub(super) fn faults(&self) -> Vec<NplFault> {
        let lost = self
            .lost
            .map(|(from, to)| NplFault::drop_to(to).from(from).in_round(self.round));
        let delays = self
            .delays
            .iter()
            .map(|&(from, to, d)| NplFault::delay_to(to, d).from(from).in_round(self.round));
        lost.into_iter().chain(delays).collect()
    }

    /// Node `i`'s fallback stage (1 if unknown).
    pub(super) fn fallback_stage(&self, i: usize) -> u8 {
        self.fallback_stages.get(i).copied().unwrap_or(1)
    }

    /// Node `i`'s start skew.
    pub(super) fn skew(&self, i: usize) -> Duration {
        self.skews.get(i).copied().unwrap_or_default()
    }
}

impl fmt::Display for RoundPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for (i, d) in self.skews.iter().enumerate().filter(|(_, d)| !d.is_zero()) {
            parts.push(format!("node {i} starts {} ms late", d.as_millis()));
        }
        for (from, to, d) in &self.delays {
            parts.push(format!("NPL {from}->{to} delayed {} ms", d.as_millis()));
        }
        if let Some((from, to)) = self.lost {
            parts.push(format!("NPL {from}->{to} lost"));
        }
        for (i, s) in self
            .fallback_stages
            .iter()
            .enumerate()
            .filter(|(_, s)| **s > 1)
        {
            parts.push(format!("node {i} starts a fallback run at stage {s}"));
        }
        if parts.is_empty() {
            parts.push("no perturbation".into());
        }
        write!(f, "round {}: {}", self.round, parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_plans_the_same_rounds() {
        let a = Schedule::new(7);
        assert_eq!(a.plan(2, 3, 1000), Schedule::new(7).plan(2, 3, 1000));
        let plans: std::collections::BTreeSet<String> = (1..=20)
            .map(|s| Schedule::new(s).plan(1, 3, 1000).to_string())
            .collect();
        assert!(plans.len() > 15, "{plans:?}");
    }

    #[test]
    fn perturbations_stay_within_the_round_and_off_the_self_channel() {
        for seed in 1..=200 {
            let p = Schedule::new(seed).plan(1, 3, 1000);
            assert!(p.skews.iter().all(|d| d.as_millis() <= 200), "{p}");
            assert!(
                p.delays
                    .iter()
                    .all(|&(f, t, d)| f != t && d.as_millis() <= 500)
            );
            assert!(p.lost.is_none_or(|(f, t)| f != t && f < 3 && t < 3), "{p}");
        }
        let one = Schedule::new(3).plan(1, 1, 1000);
        assert!(one.delays.is_empty() && one.lost.is_none());
    }

    #[test]
    fn some_seeds_lose_a_message_and_some_skew_a_start() {
        let plans: Vec<RoundPlan> = (1..=30)
            .map(|s| Schedule::new(s).plan(1, 3, 1000))
            .collect();
        assert!(plans.iter().any(|p| p.lost.is_some()));
        assert!(plans.iter().any(|p| p.skews.iter().any(|d| !d.is_zero())));
        assert!(plans.iter().any(|p| !p.delays.is_empty()));
    }
}
