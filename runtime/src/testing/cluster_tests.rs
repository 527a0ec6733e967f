//! The cluster harness's delivery rules, on a contract that records what it
//! hears.

use super::*;
use crate::{HandlerError, Node, Npl, Result};

/// Sends `hi` at the start and one `re` for each peer message it hears;
/// never done on its own, so its NPL phase ends at the timeout.
#[derive(Default)]
struct Echo {
    heard: Vec<(String, String)>,
}

impl Contract for Echo {
    const HAS_NPL: bool = true;
    const NPL_TIMEOUT_MS: Option<u64> = Some(200);
    fn load() -> Result<Self> {
        Ok(Echo::default())
    }
    fn on_round_start(&mut self, r: &mut Round) -> Result<(), HandlerError> {
        r.npl_send("hi").map_err(HandlerError::extract)
    }
    fn on_npl(&mut self, r: &mut Round, from: &Node, m: &[u8]) -> Result<Npl, HandlerError> {
        let m = String::from_utf8_lossy(m).into_owned();
        if m == "hi" && !from.is_self() {
            r.npl_send("re").map_err(HandlerError::extract)?;
        }
        self.heard.push((from.public_key().to_owned(), m));
        Ok(Npl::Continue)
    }
}

fn nodes(n: usize) -> Vec<Echo> {
    (0..n).map(|_| Echo::default()).collect()
}

fn senders(r: &NodeRound) -> Vec<usize> {
    r.npl_received.iter().map(|(f, _)| *f).collect()
}

#[test]
fn own_message_first_every_message_everywhere_and_timeouts() {
    let mut c = Cluster::new(4);
    let r = c.seed(3).round(&mut nodes(4));
    assert_eq!(r.number, 1);
    for n in &r.nodes {
        assert_eq!(senders(n)[0], n.index, "own message first");
        // 4 "hi" and each node's 3 "re": 4 + 12 messages reach everyone.
        assert_eq!(n.npl_received.len(), 16, "node {}", n.index);
        assert_eq!(n.npl_sent.len(), 4);
        assert!(n.npl_lost.is_empty());
        assert!(n.timed_out && n.ended_at == 200, "{n:?}");
    }
}

#[test]
fn the_same_seed_gives_the_same_run_and_orders_differ_between_nodes() {
    let run = |seed: u64| {
        let mut c = Cluster::new(5);
        c.seed(seed);
        (0..3)
            .map(|_| c.round(&mut nodes(5)).nodes.iter().map(senders).collect())
            .collect::<Vec<Vec<Vec<usize>>>>()
    };
    assert_eq!(run(11), run(11));
    assert_ne!(run(11), run(12));
    let orders = &run(11)[0];
    let peers_first: Vec<usize> = orders.iter().map(|o| o[1]).collect();
    assert!(
        peers_first.iter().any(|p| *p != peers_first[0]),
        "the first peer heard differs between nodes: {peers_first:?}"
    );
}

#[test]
fn late_starters_lose_what_came_before_and_drops_are_chosen() {
    let mut c = Cluster::new(3);
    c.start_late(2, 50)
        .drop_npl(NplDrop::from(0).to(1).index(0));
    let mut n = nodes(3);
    let r = c.round(&mut n);
    let lost = &r.node(2).npl_lost;
    assert_eq!(r.node(2).started_at, 50);
    assert!(
        lost.iter()
            .all(|l| l.reason == "the receiver's contract had not started"),
        "{lost:?}"
    );
    // Nodes 0 and 1's "hi" and their "re" to each other came before node 2 ran.
    assert_eq!(lost.len(), 3, "{lost:?}");
    assert_eq!(
        r.node(1).npl_lost,
        [LostNpl {
            from: 0,
            index: 0,
            reason: "dropped by an NplDrop"
        }]
    );
    assert!(
        !n[1]
            .heard
            .iter()
            .any(|(k, m)| k == &c.keys()[0] && m == "hi")
    );
    // Messages after a node ended are lost too.
    assert!(r.node(0).ended_at == 200 && r.node(2).ended_at == 250);
    assert!(
        r.node(2)
            .npl_received
            .iter()
            .all(|(from, _)| *from == 2 || r.node(*from).ended_at >= 50)
    );

    c.clear_faults();
    let r = c.round(&mut n);
    assert!(r.nodes.iter().all(|n| n.npl_lost.is_empty()));
    assert_eq!(r.number, 2);
}

#[test]
fn inputs_reach_every_node_and_outputs_are_kept() {
    #[derive(Default)]
    struct Say;
    impl Contract for Say {
        fn load() -> Result<Self> {
            Ok(Say)
        }
        fn on_input(
            &mut self,
            r: &mut Round,
            u: &crate::User,
            i: &[u8],
        ) -> Result<(), HandlerError> {
            let reply = format!(
                "{}:{}",
                r.lcl_seq_no().unwrap_or(0),
                String::from_utf8_lossy(i)
            );
            u.send(reply).map_err(HandlerError::extract)
        }
    }
    let mut c = Cluster::new(2);
    c.input("alice", "x");
    let mut n = [Say, Say];
    c.round(&mut n);
    let r = c.round(&mut n);
    for node in &r.nodes {
        assert_eq!(node.outputs("alice"), ["2:x"]);
        assert_eq!(node.ended_at, 0, "no NPL phase: ends at once");
    }
}

/// Counts its rounds in the state file, and the messages it heard in a field
/// the file does not hold.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Saved {
    rounds: u64,
    #[serde(skip)]
    heard: u64,
}

impl Contract for Saved {
    const HAS_NPL: bool = true;
    const SAVES_STATE: bool = true;
    const NPL_TIMEOUT_MS: Option<u64> = Some(50);
    fn load() -> Result<Self> {
        Ok(Saved::default())
    }
    fn state_codec() -> Option<crate::state::StateCodec<Self>> {
        Some(crate::state::json_codec("saved.json"))
    }
    fn on_round_start(&mut self, r: &mut Round) -> Result<(), HandlerError> {
        self.rounds += 1;
        r.npl_send("hi").map_err(HandlerError::extract)
    }
    fn on_npl(&mut self, _: &mut Round, _: &Node, _: &[u8]) -> Result<Npl, HandlerError> {
        self.heard += 1;
        Ok(Npl::Continue)
    }
}

#[test]
fn a_state_file_contract_starts_each_node_round_from_its_saved_file() {
    let mut c = Cluster::new(3);
    let mut nodes: Vec<Saved> = (0..3).map(|_| Saved::default()).collect();
    c.round(&mut nodes);
    nodes.iter_mut().for_each(|n| n.heard = 99);
    c.round(&mut nodes);
    for n in &nodes {
        assert_eq!(n.rounds, 2, "the saved count goes on");
        assert_eq!(n.heard, 0, "a skipped field does not outlive its round");
    }
}

#[test]
fn topic_drops_pick_agreement_envelopes_of_that_topic_only() {
    let rule = NplDrop::from(0).topic("commit");
    assert!(rule.matches(0, 1, 3, Some("commit")));
    assert!(!rule.matches(0, 1, 3, Some("reveal")));
    assert!(!rule.matches(1, 1, 3, Some("commit")), "another sender");
    assert!(!rule.matches(0, 1, 3, None), "not an envelope");
    // The cluster's "hi" messages are no envelopes: a topic rule keeps them.
    let mut c = Cluster::new(3);
    c.drop_npl(NplDrop::on_topic("hi"));
    let r = c.round(&mut nodes(3));
    assert!(r.nodes.iter().all(|n| n.npl_lost.is_empty()));
}
