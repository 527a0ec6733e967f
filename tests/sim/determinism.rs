//! The verdict: a nondeterministic contract is caught, deterministic ones agree.

use hotpocket::sim::{Cluster, DiffAt, Verdict};

#[test]
fn nondeterministic_contract_disagrees_on_three_nodes() {
    let mut c = Cluster::builder(env!("CARGO_BIN_EXE_test-nondeterministic"))
        .nodes(3)
        .user("alice")
        .build()
        .unwrap();
    let r = c.round().unwrap();
    r.assert_disagree();
    let Verdict::Differ(d) = &r.verdict else {
        unreachable!()
    };
    assert!(
        matches!(&d.at, DiffAt::Output { user, .. } if user == "alice"),
        "{d}"
    );
    assert_ne!(d.expected, d.found);
    assert!(
        d.to_string()
            .starts_with(&format!("node {} differs from node 0 at output #", d.node))
    );
    // With no users there are no outputs; the state file still differs.
    let r = Cluster::builder(env!("CARGO_BIN_EXE_test-nondeterministic"))
        .nodes(3)
        .build()
        .unwrap()
        .round()
        .unwrap();
    let Verdict::Differ(d) = &r.verdict else {
        panic!("expected a difference\n{r}")
    };
    assert_eq!(
        d.at,
        DiffAt::File {
            path: "pid.txt".into()
        }
    );
    assert!(d.expected.starts_with("file:") && d.found.starts_with("file:"));
}

#[test]
fn deterministic_contract_agrees_over_rounds() {
    let mut c = Cluster::builder(env!("CARGO_BIN_EXE_test-echo"))
        .nodes(3)
        .user("alice")
        .user("bob")
        .build()
        .unwrap();
    for i in 0..3 {
        c.input("alice", format!("a{i}"))
            .input("bob", format!("b{i}"));
        let r = c.round().unwrap();
        r.assert_agree();
        assert!(r.nodes.iter().all(
            |n| n.state.as_ref().map(|s| &s.hash) == r.node(0).state.as_ref().map(|s| &s.hash)
        ));
    }
    c.read("bob", "q").unwrap().assert_agree();
}

#[test]
fn report_renders_outputs_and_verdict() {
    let mut c = Cluster::builder(env!("CARGO_BIN_EXE_test-nondeterministic"))
        .nodes(2)
        .user("alice")
        .build()
        .unwrap();
    let text = c.round().unwrap().to_string();
    assert!(text.contains("round 1: consensus, lcl 1-"), "{text}");
    assert!(text.contains("-> alice: \"pid:"), "{text}");
    assert!(
        text.contains("\n  DISAGREE: node 1 differs from node 0 at output #0 to alice"),
        "{text}"
    );
}
