//! What a real cluster does that a single round cannot show: an observer in
//! a small UNL stops consensus, and the round after a round-time change is
//! lost (tests/sim/patch.rs covers the latter through a contract's change).

use hotpocket::sim::Cluster;

const ECHO: &str = env!("CARGO_BIN_EXE_test-echo");

#[test]
fn an_observer_in_a_three_node_unl_closes_no_ledger() {
    let mut c = Cluster::builder(ECHO)
        .nodes(3)
        .user("alice")
        .observer(2)
        .build()
        .unwrap();
    c.input("alice", b"hi");
    for _ in 0..2 {
        let r = c.round().unwrap();
        let why = r.no_ledger.as_deref().expect("no ledger");
        assert!(
            why.starts_with("Not enough peers proposing to perform consensus. votes:2 needed:3"),
            "{why}"
        );
        assert!(r.nodes.is_empty() && r.lcl_seq_no == 0, "{r}");
    }
    // A lower threshold lets the two proposers close ledgers; the input
    // waited for it.
    c.config_mut().consensus.threshold = 60;
    c.round()
        .unwrap()
        .assert_agree()
        .assert_outputs("alice", &["echo:hi"]);
    assert_eq!(c.lcl().0, 1);
}

#[test]
fn enough_non_observers_keep_consensus_going() {
    let mut c = Cluster::builder(ECHO)
        .nodes(5)
        .user("alice")
        .observer(4)
        .build()
        .unwrap();
    c.input("alice", b"hi");
    let r = c.round().unwrap();
    assert!(r.no_ledger.is_none(), "4 of 5 proposers meet 80%: {r}");
    r.assert_agree().assert_outputs("alice", &["echo:hi"]);
}

#[test]
fn dev_mode_flags_an_observer_that_stops_consensus() {
    let mut out = Vec::new();
    let args: Vec<String> = [
        "--dev",
        "--nodes",
        "3",
        "--observer",
        "2",
        "--input",
        "alice:hi",
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect();
    hotpocket::sim::dev::run(ECHO.as_ref(), &args, &mut out);
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("NO LEDGER in round [1], as the engine would: Not enough peers proposing"),
        "{out}"
    );
}

#[test]
fn inputs_over_the_message_limit_never_reach_a_node() {
    let big = vec![b'x'; hotpocket::sim::MAX_USER_MESSAGE_BYTES + 1];
    let mut c = Cluster::builder(ECHO)
        .nodes(2)
        .user("alice")
        .build()
        .unwrap();
    c.input("alice", &big).input("alice", b"small");
    let r = c.round().unwrap();
    assert_eq!(r.oversized_inputs, [("alice".to_owned(), 0, big.len())]);
    r.assert_agree().assert_outputs("alice", &["echo:small"]);
    assert!(r.to_string().contains("NEVER REACHES THE ENGINE"), "{r}");

    let read = c.read("alice", &big).unwrap();
    assert_eq!(read.oversized_inputs, [("alice".to_owned(), 0, big.len())]);
    assert!(read.nodes.is_empty(), "no node runs it");

    let path = std::env::temp_dir().join(format!("hp-oversized-{}", std::process::id()));
    std::fs::write(&path, &big).unwrap();
    let mut out = Vec::new();
    let file = format!("alice:{}", path.display());
    let args: Vec<String> = ["--dev", "--input-file", &file]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
    hotpocket::sim::dev::run(ECHO.as_ref(), &args, &mut out);
    let _ = std::fs::remove_file(&path);
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("1 input over the engine's 5 MiB user message limit"),
        "{out}"
    );
}

#[test]
fn a_read_request_is_its_node_s_answer_the_others_a_labelled_check() {
    let mut c = Cluster::builder(ECHO)
        .nodes(3)
        .user("alice")
        .build()
        .unwrap();
    let read = c.read_on(1, "alice", b"q").unwrap();
    assert_eq!(read.read_node, Some(1));
    assert_eq!(read.outputs("alice"), ["echo:q"]);
    let text = read.to_string();
    assert!(
        text.contains(
            "read request, answered by node 1 (the user's node: the engine runs it there only)"
        ),
        "{text}"
    );
    assert!(
        text.contains("the simulator's extra check: all 3 nodes give the same answer"),
        "{text}"
    );
    assert!(!text.contains("all 3 nodes agree"), "{text}");
    assert!(c.read_on(3, "alice", b"q").is_err());

    // Without the check, only the user's node runs it.
    let mut one = Cluster::builder(ECHO)
        .nodes(3)
        .user("alice")
        .check_reads(false)
        .build()
        .unwrap();
    let read = one.read_on(2, "alice", b"q").unwrap();
    assert_eq!(read.nodes.len(), 1);
    assert_eq!(read.node(2).index, 2, "the report holds node 2 only");
    read.assert_agree().assert_outputs("alice", &["echo:q"]);
}

#[test]
fn a_raised_message_limit_lets_larger_inputs_through() {
    let big = vec![b'x'; hotpocket::sim::MAX_USER_MESSAGE_BYTES + 1];
    let mut c = Cluster::builder(ECHO)
        .user("alice")
        .max_user_message_bytes(2 * big.len())
        .build()
        .unwrap();
    let r = c.input("alice", &big).round().unwrap();
    assert!(r.oversized_inputs.is_empty());
    assert_eq!(r.node(0).outputs[0].messages.len(), 1, "{r}");
}
