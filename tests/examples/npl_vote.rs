//! examples/npl_vote.rs on a simulated 3-node cluster: with every proposal
//! delivered all nodes decide the same median; with a proposal lost, the
//! nodes that lack it record "no decision" and the cluster splits until the
//! odd node takes the majority's state (what the engine's state sync does,
//! emulated here by copying the file, since the simulator has no sync).

use hotpocket::sim::{Cluster, DiffAt, NplFault, RoundReport, Verdict, cargo_example};

/// The value every node should decide: the median of the proposals the
/// nodes sent (each node sends one, `{"ledger":n,"value":v}`).
fn median_of_sent(r: &RoundReport) -> u64 {
    let mut values: Vec<u64> = r
        .nodes
        .iter()
        .map(|n| {
            assert_eq!(n.npl_sent.len(), 1, "node {}", n.index);
            let p: serde_json::Value = serde_json::from_slice(&n.npl_sent[0]).unwrap();
            assert_eq!(p["ledger"], r.lcl_seq_no);
            p["value"].as_u64().unwrap()
        })
        .collect();
    values.sort();
    values[1]
}

fn decided(r: &RoundReport) -> String {
    format!(
        r#"{{"ledger":{},"value":{}}}"#,
        r.lcl_seq_no,
        median_of_sent(r)
    )
}

fn undecided(ledger: u64, missing: &str) -> String {
    format!(r#"{{"ledger":{ledger},"value":null,"missing":["{missing}"]}}"#)
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
    let node0 = c.node_keys(0).public_key;

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
        for n in &r.nodes {
            let mut from: Vec<usize> = n.npl_received.iter().map(|m| m.from).collect();
            from.sort();
            assert_eq!(from, [0, 1, 2], "node {}", n.index);
        }
        history.push(expected);
    }

    // Round 3: node 0's proposal never reaches node 2. Nodes 0 and 1 decide;
    // node 2 records that it lacks node 0's proposal.
    let r3 = c.round().unwrap();
    let expected = decided(&r3);
    for i in [0, 1] {
        assert_eq!(r3.node(i).output_strings("alice"), [expected.as_str()]);
    }
    assert_eq!(r3.node(2).output_strings("alice"), [undecided(3, &node0)]);
    let lost = &r3.node(2).npl_lost;
    assert_eq!((lost.len(), lost[0].from), (1, 0));
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
    // (nodes 1 and 2) records no decision and node 0 is the odd one out.
    let r6 = c.round().unwrap();
    assert_eq!(r6.node(0).output_strings("alice"), [decided(&r6)]);
    for i in [1, 2] {
        assert_eq!(r6.node(i).output_strings("alice"), [undecided(6, &node0)]);
    }
    assert_eq!(state(&r6, 1), state(&r6, 2));
    assert_eq!(first_difference(&r6).0, 1);
    history.push(undecided(6, &node0));

    sync_state(&c, 1, 0);
    let r7 = c.round().unwrap();
    r7.assert_agree().assert_outputs("alice", &[&decided(&r7)]);
    history.push(decided(&r7));

    // A read request returns the kept results, the same on every node.
    let read = c.read("alice", "latest").unwrap();
    read.assert_agree()
        .assert_outputs("alice", &[&format!("[{}]", history.join(","))]);
}
