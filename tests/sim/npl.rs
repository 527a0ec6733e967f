//! NPL between simulated nodes: self-delivery, sender tags, loss, delay,
//! observers and late starters.
//!
//! Each test tells the echo contract how many messages each node will get
//! (`NPL_WANT`), so every contract stops waiting when its last message
//! arrives: no outcome depends on how fast the machine is.

use std::time::Duration;

use hotpocket::sim::{Cluster, ClusterBuilder, DiffAt, NplFault, Verdict};

const ECHO: &str = env!("CARGO_BIN_EXE_test-echo");

fn exchange(nodes: usize) -> ClusterBuilder {
    Cluster::builder(ECHO)
        .nodes(nodes)
        .user("alice")
        .env("NPL_EXCHANGE", "1")
}

fn prefix(c: &Cluster, i: usize) -> String {
    c.node_keys(i).public_key[..10].to_owned()
}

#[test]
fn every_node_hears_everyone_including_itself() {
    let mut c = exchange(3).build().unwrap();
    let r = c.round().unwrap();
    r.assert_agree().assert_no_hazards();
    let mut all: Vec<String> = (0..3).map(|i| prefix(&c, i)).collect();
    all.sort();
    r.assert_outputs("alice", &[&format!("npl:{}", all.join(","))]);
    for n in &r.nodes {
        assert_eq!(n.npl_sent.len(), 1);
        let mut from: Vec<usize> = n.npl_received.iter().map(|m| m.from).collect();
        from.sort();
        assert_eq!(from, [0, 1, 2], "node {}", n.index);
        for m in &n.npl_received {
            assert_eq!(m.public_key, c.node_keys(m.from).public_key);
            assert_eq!(
                m.data,
                format!("hello from {}", prefix(&c, m.from)).into_bytes()
            );
        }
        assert!(n.npl_lost.is_empty());
    }
}

/// A node hears its own message first, even when its contract is busy for
/// 100 ms before it speaks (its peers' messages wait for it), and a contract
/// that listens before it speaks still hears its peers (they are released
/// once it waits).
#[test]
fn own_message_first_and_listeners_still_hear() {
    let c = exchange(3).build().unwrap();
    let slow = prefix(&c, 2);
    let mut c = exchange(3).env("NPL_SLOW", &slow).build().unwrap();
    let r = c.round().unwrap();
    r.assert_agree().assert_no_hazards();
    for n in &r.nodes {
        let from: Vec<usize> = n.npl_received.iter().map(|m| m.from).collect();
        assert_eq!(from.first(), Some(&n.index), "node {}: {from:?}", n.index);
    }
    let leader = prefix(&c, 0);
    let mut c = exchange(3).env("NPL_LEADER", &leader).build().unwrap();
    let r = c.round().unwrap();
    r.assert_agree().assert_no_hazards();
    for n in &r.nodes {
        let from: Vec<usize> = n.npl_received.iter().map(|m| m.from).collect();
        assert_eq!(from.len(), 3, "node {}: {from:?}", n.index);
        if n.index != 0 {
            assert_eq!(from.first(), Some(&0), "node {}: {from:?}", n.index);
        }
    }
}

/// `NPL_WANT` entry: node `i` gets `n` messages.
fn want(i: usize, n: usize) -> String {
    format!("{}={n}", &hotpocket::sim::KeyPair::node(i).public_key[..10])
}

#[test]
fn dropped_messages_make_nodes_disagree() {
    let mut c = exchange(3)
        .env("NPL_WANT", &want(2, 0))
        .npl_fault(NplFault::drop_to(2))
        .build()
        .unwrap();
    let r = c.round().unwrap();
    r.assert_disagree();
    let Verdict::Differ(d) = &r.verdict else {
        unreachable!()
    };
    assert_eq!(d.node, 2);
    assert_eq!(
        d.at,
        DiffAt::Output {
            user: "alice".into(),
            index: 0
        }
    );
    assert_eq!(d.found, "\"npl:\"");
    let n2 = r.node(2);
    assert!(n2.npl_received.is_empty());
    assert_eq!(n2.npl_lost.len(), 3);
    assert!(
        n2.npl_lost
            .iter()
            .all(|l| l.reason.contains("NplFault") && l.to == 2)
    );
}

#[test]
fn drop_from_one_sender_in_one_round() {
    let mut c = exchange(2)
        .npl_fault(NplFault::drop_to(1).from(0).in_round(2))
        .build()
        .unwrap();
    c.round().unwrap().assert_agree();
    c.config_mut()
        .environment
        .insert("NPL_WANT".into(), want(1, 1));
    let r = c.round().unwrap();
    r.assert_disagree();
    assert_eq!(r.node(1).npl_received.len(), 1);
    assert_eq!(r.node(1).npl_received[0].from, 1);
    assert_eq!(r.node(1).npl_lost[0].from, 0);
    c.config_mut().environment.remove("NPL_WANT");
    c.round().unwrap().assert_agree();
}

#[test]
fn delayed_messages_still_arrive() {
    let mut c = exchange(3)
        .npl_fault(NplFault::delay_to(1, Duration::from_millis(150)))
        .build()
        .unwrap();
    let r = c.round().unwrap();
    r.assert_agree();
    assert_eq!(r.node(1).npl_received.len(), 3);
}

#[test]
fn observers_send_nothing() {
    let mut c = exchange(3)
        .env("NPL_WANT", "2")
        .observer(2)
        // Two proposers of three close a ledger only below the default 80%.
        .configure(|c| c.consensus.threshold = 66)
        .build()
        .unwrap();
    let r = c.round().unwrap();
    // Nobody hears node 2, node 2 hears the others: all see the same two senders.
    r.assert_agree();
    assert!(r.node(2).observer);
    let mut expected = [prefix(&c, 0), prefix(&c, 1)];
    expected.sort();
    r.assert_outputs("alice", &[&format!("npl:{}", expected.join(","))]);
    assert_eq!(
        r.node(2).npl_sent.len(),
        1,
        "it sent, the engine did not broadcast"
    );
    for n in &r.nodes {
        assert!(n.npl_received.iter().all(|m| m.from != 2));
    }
}

#[test]
fn late_starter_misses_earlier_messages() {
    // Node 2 starts once nodes 0 and 1 sent their message, so it gets only
    // its own; the others wait for its message too.
    let mut c = exchange(3)
        .env("NPL_WANT", &want(2, 1))
        .start_after_npl(2, 2)
        .build()
        .unwrap();
    let r = c.round().unwrap();
    r.assert_disagree();
    let late = r.node(2);
    assert!(
        late.npl_received.iter().all(|m| m.from == 2),
        "only its own message"
    );
    assert_eq!(late.npl_lost.len(), 2);
    assert!(
        late.npl_lost
            .iter()
            .all(|l| l.reason.contains("not running"))
    );
    // The early nodes heard the late one.
    assert_eq!(r.node(0).npl_received.len(), 3);
}

#[test]
fn a_node_that_fails_to_run_releases_a_held_node() {
    // Opening "/" read-write fails on every node before its contract runs;
    // node 1, held until others send, must not wait for node 0 forever.
    let r = exchange(2)
        .start_after_npl(1, 1)
        .leak_file("/")
        .build()
        .unwrap()
        .round();
    assert!(
        matches!(r, Err(hotpocket::sim::SimError::Io { .. })),
        "{r:?}"
    );
}

#[test]
fn start_delay_holds_a_node_back() {
    let r = Cluster::builder(ECHO)
        .nodes(2)
        .user("alice")
        .start_delay(1, Duration::from_millis(200))
        .build()
        .unwrap()
        .round()
        .unwrap();
    r.assert_agree();
    // A lower bound only: the delay is a sleep before the spawn.
    assert!(r.wall >= Duration::from_millis(200), "{r}");
}

#[test]
fn no_npl_in_read_requests() {
    let mut c = exchange(2).build().unwrap();
    let r = c.read("alice", b"q").unwrap();
    r.assert_agree().assert_outputs("alice", &["echo:q"]);
    assert!(
        r.nodes
            .iter()
            .all(|n| n.npl_sent.is_empty() && n.npl_received.is_empty())
    );
}
