//! examples/lottery.rs on simulated clusters (real processes): every node
//! draws the same number in every round whichever node starts late; a first
//! copy lost is made good by the re-send; a reveal lost for good leaves
//! every node lacking it with the same incomplete draw.
//!
//! Commit-reveal needs two exchanges after the last node starts (its
//! commitment and the re-sends, then every reveal), so a late start must
//! leave room for both before the NPL timeout of the nodes that started on
//! time: 200 ms of the example's 600 here (300 ms on 5 and 7 nodes, whose
//! slowest peers are further away in the simulator and whose contracts
//! share the machine's cores).

use std::time::Duration;

use hotpocket::Rng;
use hotpocket::sim::{Cluster, ClusterBuilder, NplFault, RoundReport};

use crate::cargo_example;

/// The example's `npl_timeout_ms`.
const NPL_TIMEOUT_MS: u64 = 600;

fn lottery(nodes: usize) -> ClusterBuilder {
    Cluster::builder(cargo_example("lottery").unwrap())
        .nodes(nodes)
        .user("alice")
}

/// Asserts every node drew, and the same; returns what alice was told.
fn drew_alike(r: &RoundReport, context: &str) -> String {
    r.assert_agree().assert_success().assert_no_hazards();
    let told = r.node(0).output_strings("alice");
    assert_eq!(told.len(), 1, "{context}: {told:?}");
    let expected = format!(r#"{{"Won":{{"ledger":{},"number":""#, r.lcl_seq_no);
    assert!(told[0].starts_with(&expected), "{context}: {told:?}");
    told[0].clone()
}

/// `rounds` rounds on `nodes` nodes, each with one node (drawn from the
/// seed) starting 0 to NPL timeout - `room` ms late.
fn seeded_rounds(nodes: usize, rounds: usize, seed: u8, room: u64) {
    let mut c = lottery(nodes).build().unwrap();
    let mut rng = Rng::from_seed_bytes(&[seed; 32]);
    let mut numbers = std::collections::BTreeSet::new();
    for round in 0..rounds {
        let late = rng.below(nodes as u64) as usize;
        let ms = rng.below(NPL_TIMEOUT_MS - room + 1);
        for i in 0..nodes {
            c.set_start_delay(i, Duration::ZERO);
        }
        c.set_start_delay(late, Duration::from_millis(ms));
        c.input("alice", "enter");
        let r = c.round().unwrap();
        let context = format!("{nodes} nodes, round {round}: node {late} {ms} ms late");
        numbers.insert(drew_alike(&r, &context));
        assert!(
            r.node(0).output_strings("alice")[0].contains(&c.user_public_key("alice")),
            "{context}: the only entrant wins"
        );
    }
    assert_eq!(numbers.len(), rounds, "a fresh number every round");
}

#[test]
fn three_nodes_draw_alike_over_100_seeded_rounds_with_a_late_starter() {
    seeded_rounds(3, 100, 3, 200);
}

#[test]
fn five_and_seven_nodes_draw_alike_with_a_late_starter() {
    seeded_rounds(5, 20, 5, 300);
    seeded_rounds(7, 10, 7, 300);
}

#[test]
fn a_lost_first_copy_is_made_good_and_a_reveal_lost_for_good_splits_alike() {
    // Node 0's first message (its commitment) never reaches node 1: the
    // re-send on first hearing from node 1 does.
    let mut c = lottery(3)
        .npl_fault(NplFault::drop_to(1).from(0).index(0).in_round(1))
        .build()
        .unwrap();
    let r = c.round().unwrap();
    drew_alike(&r, "first copy lost");
    // Besides the dropped copy, a later re-send may reach node 1 after it
    // decided and closed its socket or ended: lost, and harmless.
    let done = [
        "the receiver's contract ended before delivery",
        "the contract closed its NPL socket",
    ];
    let lost = &r.node(1).npl_lost;
    let dropped: Vec<_> = lost
        .iter()
        .filter(|l| !done.contains(&l.reason.as_str()))
        .map(|l| (l.from, l.reason.as_str()))
        .collect();
    assert_eq!(dropped, [(0, "dropped by an NplFault")], "{lost:?}");

    // Every copy of node 2's reveal is lost to nodes 0 and 1: both record the
    // same incomplete draw; node 2, holding every reveal, draws.
    c.set_npl_faults(vec![
        NplFault::drop_to(0).from(2).topic("reveal"),
        NplFault::drop_to(1).from(2).topic("reveal"),
    ]);
    let r = c.round().unwrap();
    let no_draw = format!(r#"{{"Incomplete":{{"ledger":{}}}}}"#, r.lcl_seq_no);
    for i in [0, 1] {
        assert_eq!(
            r.node(i).output_strings("alice"),
            [no_draw.as_str()],
            "node {i}"
        );
        assert!(r.node(i).npl_lost.iter().all(|l| l.from == 2));
    }
    assert!(r.node(2).output_strings("alice")[0].starts_with(r#"{"Won""#));
    // Its commitment did arrive: only reveals were dropped.
    assert!(
        r.node(0)
            .npl_received
            .iter()
            .any(|m| m.from == 2 && m.data.starts_with(br#"{"hp_agree":"commit""#))
    );
}
