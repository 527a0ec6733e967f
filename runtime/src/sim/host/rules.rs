//! The engine's rules for one execution that need no process: when the time
//! limit is passed (the cluster sets the limit: see `cluster::fallback_time`),
//! how long a monitor pass may wait, the output byte budgets and the hazards
//! an exit raises.

use std::time::{Duration, Instant};

use super::super::report::{Exit, Hazard};

/// The engine's idle poll interval.
pub(super) const POLL_MS: u64 = 20;

/// How long one monitor pass may wait in poll.
pub(super) struct Wait {
    /// The last pass read or wrote something, or the contract has exited:
    /// do not wait.
    pub(super) busy: bool,
    /// When this node's next NPL message is due (only while it runs).
    pub(super) npl_due: Option<Instant>,
    /// The time limit in ms (0: none) and the time spent so far.
    pub(super) timeout_ms: u64,
    pub(super) elapsed: Duration,
}

impl Wait {
    /// The poll timeout: 20 ms idle, less when a message is due or the limit
    /// is near (1 ms past it, so the next pass sees it exceeded).
    pub(super) fn duration(&self, now: Instant) -> Duration {
        let mut wait = if self.busy {
            Duration::ZERO
        } else {
            Duration::from_millis(POLL_MS)
        };
        if let Some(due) = self.npl_due {
            wait = wait.min(due.saturating_duration_since(now));
        }
        if self.timeout_ms > 0 {
            wait = wait.min(
                Duration::from_millis(self.timeout_ms).saturating_sub(self.elapsed)
                    + Duration::from_millis(1),
            );
        }
        wait
    }
}

/// Whether the time limit is exceeded.
pub(super) fn timed_out(timeout_ms: u64, elapsed: Duration) -> bool {
    timeout_ms > 0 && elapsed > Duration::from_millis(timeout_ms)
}

/// A byte budget for one output channel (0: unlimited), as the engine
/// counts it: the total read so far.
#[derive(Default)]
pub(super) struct Budget {
    limit: u64,
    total: u64,
}

impl Budget {
    /// A budget of `limit` bytes (0: unlimited).
    pub(super) fn new(limit: u64) -> Self {
        Budget { limit, total: 0 }
    }

    /// Counts `bytes` more; true once the total exceeds the limit.
    pub(super) fn spend(&mut self, bytes: u64) -> bool {
        self.total += bytes;
        self.exceeded()
    }

    /// The limit (0: unlimited).
    pub(super) fn limit(&self) -> u64 {
        self.limit
    }

    /// Whether a total already counted elsewhere exceeds the limit.
    pub(super) fn exceeds(&self, total: u64) -> bool {
        self.limit > 0 && total > self.limit
    }

    fn exceeded(&self) -> bool {
        self.exceeds(self.total)
    }
}

/// The hazard the end of an execution raises: a timeout, or death by a
/// signal the simulator did not cause (a failed NPL write ends the engine's
/// loop and then kills the contract, which is no hazard of its own).
pub(super) fn exit_hazard(
    timed_out: bool,
    timeout_ms: u64,
    exit: Exit,
    npl_write_failed: bool,
) -> Option<Hazard> {
    if timed_out {
        Some(Hazard::Timeout {
            limit_ms: timeout_ms,
        })
    } else if let (Exit::Signal(signal), false) = (exit, npl_write_failed) {
        Some(Hazard::KilledBySignal { signal })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_shrinks_for_due_messages_and_the_limit() {
        let now = Instant::now();
        let idle = Wait {
            busy: false,
            npl_due: None,
            timeout_ms: 0,
            elapsed: Duration::ZERO,
        };
        assert_eq!(idle.duration(now), Duration::from_millis(POLL_MS));
        let busy = Wait { busy: true, ..idle };
        assert_eq!(busy.duration(now), Duration::ZERO);
        let due = Wait {
            npl_due: Some(now + Duration::from_millis(5)),
            ..idle
        };
        assert_eq!(due.duration(now), Duration::from_millis(5));
        let near_limit = Wait {
            timeout_ms: 100,
            elapsed: Duration::from_millis(95),
            ..idle
        };
        assert_eq!(near_limit.duration(now), Duration::from_millis(6));
        assert!(!timed_out(100, Duration::from_millis(100)));
        assert!(timed_out(100, Duration::from_millis(101)));
        assert!(!timed_out(0, Duration::from_secs(1000)));
    }

    #[test]
    fn a_budget_is_exceeded_only_past_its_limit() {
        let mut b = Budget::new(10);
        assert!(!b.spend(10));
        assert!(b.spend(1));
        let mut unlimited = Budget::new(0);
        assert!(!unlimited.spend(u64::MAX / 2));
        assert!(Budget::new(3).exceeds(4));
        assert!(!Budget::new(3).exceeds(3));
    }

    #[test]
    fn exits_raise_the_engine_hazards() {
        assert!(matches!(
            exit_hazard(true, 5, Exit::Signal(9), false),
            Some(Hazard::Timeout { limit_ms: 5 })
        ));
        assert!(matches!(
            exit_hazard(false, 5, Exit::Signal(11), false),
            Some(Hazard::KilledBySignal { signal: 11 })
        ));
        assert!(exit_hazard(false, 5, Exit::Signal(9), true).is_none());
        assert!(exit_hazard(false, 5, Exit::Code(1), false).is_none());
    }
}
