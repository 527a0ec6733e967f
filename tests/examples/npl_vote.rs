//! examples/npl_vote.rs on a simulated 3-node cluster: with every proposal
//! delivered all nodes decide the same median, also when a node starts late
//! (the agreement re-sends what it missed); with a proposal lost for good,
//! the nodes that lack it record "no decision" and the cluster splits until
//! the odd node takes the majority's state (what the engine's state sync
//! does, emulated here by copying the file, since the simulator has no sync).

use std::time::Duration;

use hotpocket::sim::{Cluster, DiffAt, NplFault, RoundReport, Verdict};

use crate::cargo_example;

/// A node's proposal: every NPL message it sent is a copy of one agreement
/// envelope, `{"hp_agree":"proposal","n":<copy>,"value":v}`.
fn proposal(r: &RoundReport, i: usize) -> u64 {
    let sent = &r.node(i).npl_sent;
    assert!(!sent.is_empty(), "node {i} sent nothing");
    let values: Vec<u64> = sent
        .iter()
        .enumerate()
        .map(|(copy, m)| {
            let p: serde_json::Value = serde_json::from_slice(m).unwrap();
            assert_eq!(
                (p["hp_agree"].as_str(), p["n"].as_u64()),
                (Some("proposal"), Some(copy as u64))
            );
            p["value"].as_u64().unwrap()
        })
        .collect();
    assert!(
        values.iter().all(|v| *v == values[0]),
        "node {i}: {values:?}"
    );
    values[0]
}

/// The value every node should decide: the median of the proposals the
/// nodes sent (the lower middle one of an even count).
fn median_of_sent(r: &RoundReport) -> u64 {
    let mut values: Vec<u64> = (0..r.nodes.len()).map(|i| proposal(r, i)).collect();
    values.sort();
    values[(values.len() - 1) / 2]
}

/// Who node `i` heard from, each once.
fn heard_from(r: &RoundReport, i: usize) -> Vec<usize> {
    let mut from: Vec<usize> = r.node(i).npl_received.iter().map(|m| m.from).collect();
    from.sort();
    from.dedup();
    from
}

fn decided(r: &RoundReport) -> String {
    format!(
        r#"{{"ledger":{},"value":{}}}"#,
        r.lcl_seq_no,
        median_of_sent(r)
    )
}

fn undecided(ledger: u64) -> String {
    format!(r#"{{"ledger":{ledger},"value":null}}"#)
}

fn first_difference(r: &RoundReport) -> (usize, DiffAt) {
    match &r.verdict {
        Verdict::Differ(d) => (d.node, d.at.clone()),
        Verdict::Agree => panic!("expected the nodes to disagree\n\n{r}"),
    }
}

/// What the engine's state sync does for node `to`: take node `from`'s state.
fn sync_state(c: &Cluster, from: usize, to: usize) {
    let file = |i: usize| c.state_dir(i).join("vote.json");
    std::fs::copy(file(from), file(to)).unwrap();
}

#[test]
fn nodes_decide_on_full_sets_and_record_no_decision_otherwise() {
    // Execution numbers: rounds 1..=7, then a read request.
    let mut c = Cluster::builder(cargo_example("npl_vote").unwrap())
        .nodes(3)
        .user("alice")
        .npl_fault(NplFault::drop_to(2).from(0).in_round(3))
        .npl_fault(NplFault::drop_to(1).from(0).in_round(6))
        .npl_fault(NplFault::drop_to(2).from(0).in_round(6))
        .build()
        .unwrap();

    // Rounds 1 and 2: every proposal arrives, own included; all decide the
    // median and agree on outputs and state.
    let mut history = Vec::new();
    for _ in 0..2 {
        let r = c.round().unwrap();
        let expected = decided(&r);
        r.assert_agree()
            .assert_success()
            .assert_no_hazards()
            .assert_outputs("alice", &[&expected]);
        for i in 0..3 {
            assert_eq!(heard_from(&r, i), [0, 1, 2], "node {i}");
        }
        history.push(expected);
    }

    // Round 3: no copy of node 0's proposal reaches node 2. Nodes 0 and 1
    // decide; node 2 records no decision.
    let r3 = c.round().unwrap();
    let expected = decided(&r3);
    for i in [0, 1] {
        assert_eq!(r3.node(i).output_strings("alice"), [expected.as_str()]);
    }
    assert_eq!(r3.node(2).output_strings("alice"), [undecided(3)]);
    let dropped: Vec<usize> = r3
        .node(2)
        .npl_lost
        .iter()
        .filter(|l| l.reason == "dropped by an NplFault")
        .map(|l| l.from)
        .collect();
    assert_eq!(dropped.len(), r3.node(0).npl_sent.len(), "every copy");
    assert!(dropped.iter().all(|from| *from == 0));
    assert_eq!(
        first_difference(&r3),
        (
            2,
            DiffAt::Output {
                user: "alice".into(),
                index: 0
            }
        )
    );
    let state = |r: &RoundReport, i: usize| r.node(i).state.clone().unwrap().hash;
    assert_eq!(state(&r3, 0), state(&r3, 1));
    assert_ne!(state(&r3, 0), state(&r3, 2));
    history.push(expected);

    // Round 4: all proposals arrive again and every node decides the same,
    // but node 2's kept history still differs: without a state sync it stays
    // apart.
    let r4 = c.round().unwrap();
    r4.assert_outputs("alice", &[&decided(&r4)]);
    assert_eq!(
        first_difference(&r4),
        (
            2,
            DiffAt::File {
                path: "vote.json".into()
            }
        )
    );
    history.push(decided(&r4));

    // The engine's sync gives node 2 the state the majority proposes; from
    // then on the nodes agree.
    sync_state(&c, 0, 2);
    let r5 = c.round().unwrap();
    r5.assert_agree().assert_outputs("alice", &[&decided(&r5)]);
    history.push(decided(&r5));

    // Round 6: node 0's proposal reaches only node 0. Now the majority
    // (nodes 1 and 2) records no decision, the same on both, and node 0 is
    // the odd one out.
    let r6 = c.round().unwrap();
    assert_eq!(r6.node(0).output_strings("alice"), [decided(&r6)]);
    for i in [1, 2] {
        assert_eq!(r6.node(i).output_strings("alice"), [undecided(6)]);
    }
    assert_eq!(state(&r6, 1), state(&r6, 2));
    assert_eq!(first_difference(&r6).0, 1);
    history.push(undecided(6));

    sync_state(&c, 1, 0);
    let r7 = c.round().unwrap();
    r7.assert_agree().assert_outputs("alice", &[&decided(&r7)]);
    history.push(decided(&r7));

    // A read request returns the kept results, the same on every node.
    let read = c.read("alice", "latest").unwrap();
    read.assert_agree()
        .assert_outputs("alice", &[&format!("[{}]", history.join(","))]);
}

#[test]
fn a_late_node_gets_the_proposals_it_missed_and_every_node_decides() {
    // Node 2 starts only after nodes 0 and 1 sent their proposals, so it
    // loses both first copies, whatever the timing; a 100 ms delay on top.
    let mut c = Cluster::builder(cargo_example("npl_vote").unwrap())
        .nodes(3)
        .user("alice")
        .start_after_npl(2, 2)
        .start_delay(2, Duration::from_millis(100))
        .build()
        .unwrap();
    for _ in 0..3 {
        let r = c.round().unwrap();
        let lost_before_start = r
            .node(2)
            .npl_lost
            .iter()
            .filter(|l| l.reason == "the receiver's contract was not running")
            .count();
        assert!(lost_before_start >= 2, "{:?}", r.node(2).npl_lost);
        r.assert_agree()
            .assert_success()
            .assert_outputs("alice", &[&decided(&r)]);
        assert_eq!(heard_from(&r, 2), [0, 1, 2]);
    }
}

/// 100 seeded rounds on `nodes` nodes: in each, one node drawn from the
/// seed starts up to the NPL timeout (400 ms) less 100 ms late, and the
/// messages to another are delayed by up to 30 ms more (on top of every
/// node's own arrival order and start skew). Every node decides, the same,
/// in every round.
fn every_node_decides_alike(nodes: usize, seed: u8) {
    let mut c = Cluster::builder(cargo_example("npl_vote").unwrap())
        .nodes(nodes)
        .user("alice")
        .build()
        .unwrap();
    let mut rng = hotpocket::Rng::from_seed_bytes(&[seed; 32]);
    let n = nodes as u64;
    for round in 0..100 {
        let late = rng.below(n) as usize;
        let ms = rng.below(400 - 100 + 1);
        let slow = rng.below(n) as usize;
        let delay = Duration::from_millis(rng.below(31));
        for i in 0..nodes {
            c.set_start_delay(i, Duration::ZERO);
        }
        c.set_start_delay(late, Duration::from_millis(ms));
        c.set_npl_faults(vec![NplFault::delay_to(slow, delay)]);
        let r = c.round().unwrap();
        let context =
            format!("{nodes} nodes, round {round}: node {late} {ms} ms late, to {slow} +{delay:?}");
        r.assert_agree().assert_success().assert_no_hazards();
        assert_eq!(
            r.node(0).output_strings("alice"),
            [decided(&r).as_str()],
            "{context}"
        );
    }
}

#[test]
fn every_node_decides_alike_over_100_seeded_rounds_of_late_starts_and_delays() {
    every_node_decides_alike(3, 12);
}

#[test]
fn five_nodes_decide_alike_over_100_seeded_rounds() {
    every_node_decides_alike(5, 13);
}

#[test]
fn seven_nodes_decide_alike_over_100_seeded_rounds() {
    every_node_decides_alike(7, 14);
}
