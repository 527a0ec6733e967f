//! examples/fallback.rs on a simulated 3-node cluster (engine variant
//! `mode`): notes in consensus rounds without any NPL; in fallback rounds the
//! nodes check who is reachable, and from the third round without consensus
//! the side holding a majority of the UNL takes the unreachable node out of
//! `patch.cfg`, while a node cut off alone changes nothing.

use hotpocket::sim::{
    Cluster, Hazard, HazardKind, NplFault, PatchChange, RoundReport, Schedule, Variant,
};

use crate::cargo_example;

fn noted(number: u64, ledger: u64) -> String {
    format!(r#"{{"noted":{{"number":{number},"ledger":{ledger}}}}}"#)
}

/// The UNL a node wrote to its patch.cfg this round, if it changed it.
fn new_unl(r: &RoundReport, i: usize) -> Option<Vec<String>> {
    match &r.node(i).patch_change {
        None => None,
        Some(PatchChange::Valid(update)) => Some(update.config.unl.clone()),
        Some(PatchChange::Invalid(why)) => panic!("node {i} wrote an invalid patch.cfg: {why}"),
    }
}

fn state_hash(r: &RoundReport, i: usize) -> String {
    r.node(i).state.clone().unwrap().hash
}

#[test]
fn notes_in_consensus_rounds_and_a_majority_recovery_in_fallback_rounds() {
    let mut c = Cluster::builder(cargo_example("fallback").unwrap())
        .nodes(3)
        .variant(Variant::Mode)
        .user("alice")
        .user("zed")
        .build()
        .unwrap();
    let keys: Vec<String> = (0..3).map(|i| c.node_keys(i).public_key).collect();

    // A consensus round: normal work, and no NPL phase at all.
    c.input("alice", "first note")
        .input("zed", "second note")
        .input("alice", "third note");
    let r1 = c.round().unwrap();
    r1.assert_agree()
        .assert_success()
        .assert_no_hazards()
        .assert_outputs("alice", &[&noted(1, 1), &noted(2, 1)])
        .assert_outputs("zed", &[&noted(3, 1)]);
    for n in &r1.nodes {
        assert!(n.npl_sent.is_empty() && n.npl_received.is_empty());
    }

    // Two fallback rounds with every node reachable: each hears all three
    // (itself included) and nothing changes.
    for _ in 0..2 {
        let f = c.fallback_round().unwrap();
        f.assert_agree().assert_success().assert_no_hazards();
        for n in &f.nodes {
            assert_eq!(n.npl_received.len(), 3, "node {}", n.index);
            assert!(n.patch_change.is_none());
        }
        assert_eq!(f.state_hash(), r1.state_hash());
    }

    // The third: node 2 is cut off from nodes 0 and 1 in both directions.
    c.set_npl_faults(vec![
        NplFault::drop_to(2).from(0),
        NplFault::drop_to(2).from(1),
        NplFault::drop_to(0).from(2),
        NplFault::drop_to(1).from(2),
    ]);
    let f3 = c.fallback_round().unwrap();
    f3.assert_success().assert_no_hazards();
    let mut majority_sorted = vec![keys[0].clone(), keys[1].clone()];
    majority_sorted.sort();
    assert_eq!(new_unl(&f3, 0), Some(majority_sorted.clone()));
    assert_eq!(new_unl(&f3, 1), Some(majority_sorted.clone()));
    // Node 2 heard only itself: not a majority, so it changes nothing.
    assert_eq!(f3.node(2).npl_received.len(), 1);
    assert_eq!(new_unl(&f3, 2), None);
    assert_eq!(state_hash(&f3, 0), state_hash(&f3, 1));
    assert_eq!(state_hash(&f3, 2), r1.state_hash().unwrap());
    f3.assert_disagree();
    assert!(f3.config_applied.is_none(), "the nodes' files differ");

    // Nodes 0 and 1 recorded the recovery.
    let read = c.read("zed", "").unwrap();
    let reply: serde_json::Value =
        serde_json::from_str(&read.node(0).output_strings("zed")[0]).unwrap();
    assert_eq!(reply["notebook"]["notes"].as_array().unwrap().len(), 3);
    assert_eq!(
        reply["notebook"]["recoveries"],
        serde_json::json!([{
            "non_consensus_rounds": 3,
            "removed": [keys[2]],
            "unl": majority_sorted,
        }])
    );
    let on_node2: serde_json::Value =
        serde_json::from_str(&read.node(2).output_strings("zed")[0]).unwrap();
    assert_eq!(on_node2["notebook"]["recoveries"], serde_json::json!([]));
}

#[test]
fn a_node_nobody_hears_is_taken_out_by_every_node_alike() {
    // Node 2 is an observer: it sends no proposals and its NPL messages
    // never leave it. The environment lowers the threshold to the first
    // round without consensus: the dev-mode command of the example's doc
    // comment.
    let mut c = Cluster::builder(cargo_example("fallback").unwrap())
        .nodes(3)
        .variant(Variant::Mode)
        .user("alice")
        .observer(2)
        .env("FALLBACK_RECOVER_AFTER", "1")
        .build()
        .unwrap();
    let mut two: Vec<String> = (0..2).map(|i| c.node_keys(i).public_key).collect();
    two.sort();
    // Two proposers of three are below the 80% threshold: the engine
    // closes no ledger, and the note waits.
    c.input("alice", "first note");
    let lost = c.round().unwrap();
    let why = lost
        .no_ledger
        .as_deref()
        .expect("no ledger with an observer");
    assert!(
        why.starts_with("Not enough peers proposing to perform consensus. votes:2 needed:3"),
        "{why}"
    );
    assert_eq!(lost.lcl_seq_no, 0);
    let f = c.fallback_round().unwrap();
    f.assert_agree().assert_success().assert_no_hazards();
    for i in 0..3 {
        assert_eq!(new_unl(&f, i), Some(two.clone()));
    }
    // Every node wrote the same valid file: applied for the next rounds.
    let applied = f.config_applied.as_ref().expect("patch.cfg applied");
    assert_eq!(applied.config.unl, two);
    assert_eq!(c.patch_config().unl, two);
    // Both remaining UNL nodes propose: consensus is back, with the note.
    c.round()
        .unwrap()
        .assert_agree()
        .assert_outputs("alice", &[&noted(1, 1)]);
}

#[test]
fn a_node_that_finds_out_at_stage_3_gets_only_what_is_left_of_the_round() {
    // A schedule under which node 0 finds the votes unreliable at stage 3
    // (150 ms left of a 1000 ms round) and node 1 at stage 1 (650 ms left).
    let schedule = (1..500)
        .map(Schedule::new)
        .find(|s| s.plan(1, 3, 1000).fallback_stages[..2] == [3, 1])
        .expect("some seed plans it");
    let mut c = Cluster::builder(cargo_example("fallback").unwrap())
        .nodes(3)
        .variant(Variant::Mode)
        .observer(2)
        .schedule(schedule)
        .build()
        .unwrap();
    // Nobody hears node 2, so nodes 0 and 1 wait out the example's 300 ms.
    let f = c.fallback_round().unwrap();
    let late = f.node(0).hazards.iter().find_map(|h| match h {
        Hazard::Timeout { limit_ms } => Some(*limit_ms),
        _ => None,
    });
    assert_eq!(late, Some(150), "{f}");
    assert!(!f.node(1).has_hazard(HazardKind::Timeout), "{f}");
}

/// The lcl split seen on a real cluster: node 2 is gone, and nodes 0 and 1
/// closed different ledgers (node 1 missed the last one). The engine drops
/// NPL between nodes on different lcls, so in every fallback round each
/// node hears only itself: not a majority, so no contract can take node 2
/// out, and none does (none can tell a peer on another lcl from a dead
/// one). Once both are on one lcl again (what the operator brings about,
/// see the example's docs), the next fallback round recovers.
#[test]
fn nodes_on_different_lcls_cannot_recover_until_they_share_one() {
    let mut c = Cluster::builder(cargo_example("fallback").unwrap())
        .nodes(3)
        .variant(Variant::Mode)
        .user("alice")
        .observer(2)
        .npl_fault(NplFault::drop_to(2))
        .env("FALLBACK_RECOVER_AFTER", "1")
        .build()
        .unwrap();
    // Before node 2 went, its proposals made up the 80% threshold; with it
    // modelled as an observer from the start, a 60% threshold lets the two
    // live nodes close the ledgers that the split starts from.
    c.config_mut().consensus.threshold = 60;
    c.input("alice", "first note");
    c.round().unwrap().assert_agree();
    c.input("alice", "second note");
    c.round().unwrap().assert_agree();
    c.set_lcl_behind(1, 1).unwrap();
    let keys: Vec<String> = (0..2).map(|i| c.node_keys(i).public_key).collect();
    for round in 0..5 {
        let f = c.fallback_round().unwrap();
        f.assert_success().assert_no_hazards();
        for (i, other) in [(0, 1), (1, 0)] {
            assert_eq!(
                new_unl(&f, i),
                None,
                "round {round}: node {i} changed the UNL"
            );
            let heard: Vec<usize> = f.node(i).npl_received.iter().map(|m| m.from).collect();
            assert_eq!(heard, [i], "round {round}: node {i} hears only itself");
            let lost = &f.node(i).npl_lost;
            assert!(
                lost.iter().any(|l| l.from == other
                    && l.reason.contains("the engine drops it as irrelevant NPL")),
                "round {round}, node {i}: {lost:?}"
            );
        }
    }
    // A node cannot be put further back than the ledgers the cluster closed.
    assert!(
        c.set_lcl_behind(1, 17).is_err(),
        "more than the cluster remembers"
    );

    c.set_lcl_behind(1, 0).unwrap();
    let f = c.fallback_round().unwrap();
    let mut two = keys;
    two.sort();
    for i in [0, 1] {
        assert_eq!(new_unl(&f, i), Some(two.clone()), "node {i}");
    }
}
