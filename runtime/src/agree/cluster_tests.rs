//! The agreement primitive on an in-process cluster: many seeded rounds
//! with late starters and every node's own arrival order, and lost messages.

use super::*;
use crate::testing::{Cluster, ClusterRound, NplDrop};
use crate::{Contract, HandlerError, Rng};

/// Each node contributes a reading of its own and records the outcome.
struct Vote {
    topic: Topic,
    outcomes: Vec<Outcome<u64>>,
    agree: Agreement,
}

fn reading(key: &str, seq: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes().chain(seq.to_be_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h % 1000
}

fn failed(e: Error) -> HandlerError {
    HandlerError::Failed(e.to_string())
}

impl Contract for Vote {
    const HAS_NPL: bool = true;
    fn load() -> Result<Self> {
        Err(Error::msg("the cluster keeps the values"))
    }
    fn on_round_start(&mut self, r: &mut Round) -> Result<(), HandlerError> {
        let mine = reading(r.public_key(), r.lcl_seq_no().unwrap_or(0));
        self.agree.contribute(r, &self.topic, &mine).map_err(failed)
    }
    fn on_npl(&mut self, r: &mut Round, from: &Node, m: &[u8]) -> Result<Npl, HandlerError> {
        self.agree.receive(r, from, m).map_err(failed)?;
        Ok(self.agree.npl())
    }
    fn on_round_end(&mut self, r: &mut Round) -> Result<(), HandlerError> {
        let outcome = self.agree.outcome(r, &self.topic).map_err(failed)?;
        self.outcomes.push(outcome);
        Ok(())
    }
}

fn voters(n: usize, rule: Rule) -> Vec<Vote> {
    (0..n)
        .map(|_| Vote {
            topic: Topic::new("reading", rule),
            outcomes: Vec::new(),
            agree: Agreement::new(),
        })
        .collect()
}

/// Up to half the nodes start 1-150 ms late, drawn from the round's seed.
fn late_starters(c: &mut Cluster, rng: &mut Rng, n: usize) -> usize {
    c.clear_faults();
    let late = rng.below(n as u64 / 2 + 1) as usize;
    for _ in 0..late {
        let node = rng.below(n as u64) as usize;
        c.start_late(node, 1 + rng.below(150));
    }
    late
}

fn assert_all_decided_alike(r: &ClusterRound, nodes: &[Vote], context: &str) {
    let first = nodes[0].outcomes.last().unwrap();
    assert!(first.is_decided(), "{context}: node 0 undecided");
    for (i, v) in nodes.iter().enumerate() {
        assert_eq!(v.outcomes.last().unwrap(), first, "{context}: node {i}");
        let n = r.node(i);
        assert!(!n.timed_out, "{context}: node {i} waited for the timeout");
        assert!(n.problems.is_empty(), "{context}: {:?}", n.problems);
    }
}

#[test]
fn every_node_decides_alike_despite_late_starts_and_reordering() {
    for n in [3, 5, 7] {
        for rule in [Rule::All, Rule::First(2), Rule::Percent(60)] {
            let mut c = Cluster::new(n);
            c.seed(n as u64);
            let mut rng = Rng::from_seed_bytes(&[n as u8; 32]);
            let mut nodes = voters(n, rule);
            let mut recovered = 0;
            for round in 1..=100 {
                late_starters(&mut c, &mut rng, n);
                let r = c.round(&mut nodes);
                let context = format!("{n} nodes, {rule:?}, round {round}");
                assert_all_decided_alike(&r, &nodes, &context);
                let members = rule.member_count(n);
                let Outcome::Decided(all) = nodes[0].outcomes.last().unwrap() else {
                    unreachable!()
                };
                assert_eq!(all.len(), members, "{context}");
                assert_eq!(all[0].value, reading(&c.keys()[0], r.number), "{context}");
                recovered += usize::from(r.nodes.iter().any(|n| !n.npl_lost.is_empty()));
            }
            assert!(
                recovered >= 30,
                "{n} nodes, {rule:?}: late starts lost messages in only {recovered} rounds"
            );
        }
    }
}

#[test]
fn a_lost_first_copy_is_made_good_by_the_re_send() {
    let mut c = Cluster::new(3);
    c.drop_npl(NplDrop::from(0).to(2).index(0));
    let mut nodes = voters(3, Rule::All);
    let r = c.round(&mut nodes);
    let dropped = |i: usize| {
        let lost = &r.node(i).npl_lost;
        lost.iter()
            .filter(|l| l.reason == "dropped by an NplDrop")
            .count()
    };
    assert_eq!(dropped(2), 1);
    assert_all_decided_alike(&r, &nodes, "one copy lost");
}

#[test]
fn nodes_lacking_a_contribution_for_good_record_the_same_outcome() {
    for n in [3, 5, 7] {
        let mut c = Cluster::new(n);
        // Every copy of node 0's contribution to nodes 1 and 2 is lost.
        c.seed(9)
            .drop_npl(NplDrop::from(0).to(1))
            .drop_npl(NplDrop::from(0).to(2));
        let mut nodes = voters(n, Rule::All);
        let mut rng = Rng::from_seed_bytes(&[9; 32]);
        for round in 1..=100 {
            late_starters(&mut c, &mut rng, n);
            c.drop_npl(NplDrop::from(0).to(1))
                .drop_npl(NplDrop::from(0).to(2));
            let r = c.round(&mut nodes);
            let context = format!("{n} nodes, round {round}");
            let decided: Vec<&Outcome<u64>> = nodes
                .iter()
                .map(|v| v.outcomes.last().unwrap())
                .filter(|o| o.is_decided())
                .collect();
            assert!(decided.windows(2).all(|w| w[0] == w[1]), "{context}");
            for i in [1, 2] {
                let outcome = nodes[i].outcomes.last().unwrap();
                assert_eq!(*outcome, Outcome::Undecided, "{context}: node {i}");
                assert!(r.node(i).timed_out, "{context}: node {i}");
            }
            // Node 0 itself lacks a peer's contribution only when it started
            // after every copy from that peer came: its peers never hear it,
            // so they cannot re-send what it missed.
            let heard = |j: usize| r.node(0).npl_received.iter().any(|(f, _)| *f == j);
            let node0 = (1..n).all(heard);
            assert_eq!(
                nodes[0].outcomes.last().unwrap().is_decided(),
                node0,
                "{context}"
            );
            assert_eq!(decided.len(), n - 2 - usize::from(!node0), "{context}");
        }
    }
}

#[test]
fn losing_a_non_member_changes_no_decision() {
    let mut c = Cluster::new(5);
    c.drop_npl(NplDrop::from(4).to(1));
    let mut nodes = voters(5, Rule::First(3));
    let r = c.round(&mut nodes);
    let first = nodes[0].outcomes[0].clone();
    assert!(first.is_decided());
    assert!(nodes.iter().all(|v| v.outcomes[0] == first));
    // Node 1 never hears node 4, so it waits in case node 4 starts late.
    assert!(r.node(1).timed_out && !r.node(0).timed_out);
}

#[test]
fn the_same_seed_gives_the_same_outcomes() {
    let run = || {
        let mut c = Cluster::new(5);
        c.seed(4).start_late(3, 40).drop_npl(NplDrop::from(1).to(3));
        let mut nodes = voters(5, Rule::Percent(80));
        let rounds: Vec<_> = (0..10).map(|_| c.round(&mut nodes)).collect();
        let received: Vec<Vec<_>> = rounds
            .iter()
            .map(|r| r.nodes.iter().map(|n| n.npl_received.clone()).collect())
            .collect();
        let outcomes: Vec<Vec<Outcome<u64>>> = nodes.into_iter().map(|v| v.outcomes).collect();
        (received, outcomes)
    };
    assert_eq!(run(), run());
}

const COMMIT: Topic = Topic::new("commit", Rule::All);
const REVEAL: Topic = Topic::new("reveal", Rule::All);

/// Commit then reveal: a shared random number no node could choose alone.
#[derive(Default)]
struct Lottery {
    secret: u64,
    draws: Vec<Option<u64>>,
    agree: Agreement,
}

fn commitment(secret: u64) -> u64 {
    reading("commit", secret)
}

impl Contract for Lottery {
    const HAS_NPL: bool = true;
    fn load() -> Result<Self> {
        Err(Error::msg("the cluster keeps the values"))
    }
    fn on_round_start(&mut self, r: &mut Round) -> Result<(), HandlerError> {
        self.secret = reading(r.public_key(), r.lcl_seq_no().unwrap_or(0));
        let c = commitment(self.secret);
        self.agree.contribute(r, &COMMIT, &c).map_err(failed)
    }
    fn on_npl(&mut self, r: &mut Round, from: &Node, m: &[u8]) -> Result<Npl, HandlerError> {
        self.agree.receive(r, from, m).map_err(failed)?;
        if self.agree.is_decided(r, &COMMIT) && !self.agree.has_contributed(&REVEAL) {
            self.agree
                .contribute(r, &REVEAL, &self.secret)
                .map_err(failed)?;
        }
        Ok(self.agree.npl())
    }
    fn on_round_end(&mut self, r: &mut Round) -> Result<(), HandlerError> {
        let commits = self.agree.outcome::<u64>(r, &COMMIT).map_err(failed)?;
        let reveals = self.agree.outcome::<u64>(r, &REVEAL).map_err(failed)?;
        let draw = match (commits.values(), reveals.values()) {
            (Some(c), Some(s)) if c.iter().zip(&s).all(|(c, s)| **c == commitment(**s)) => {
                Some(s.iter().fold(0, |acc, s| acc ^ **s))
            }
            _ => None,
        };
        self.draws.push(draw);
        Ok(())
    }
}

#[test]
fn a_commit_reveal_exchange_decides_alike_with_late_starters() {
    for n in [3, 5, 7] {
        let mut c = Cluster::new(n);
        c.seed(21);
        let mut rng = Rng::from_seed_bytes(&[21; 32]);
        let mut nodes: Vec<Lottery> = (0..n).map(|_| Lottery::default()).collect();
        for round in 1..=100 {
            late_starters(&mut c, &mut rng, n);
            let r = c.round(&mut nodes);
            let draw = nodes[0].draws.last().unwrap();
            assert!(draw.is_some(), "{n} nodes, round {round}");
            for (i, node) in nodes.iter().enumerate() {
                assert_eq!(
                    node.draws.last().unwrap(),
                    draw,
                    "{n} nodes, round {round}: node {i}"
                );
                assert!(!r.node(i).timed_out, "{n} nodes, round {round}: node {i}");
            }
        }
    }
}
