//! Round limits, rlimits, the process environment and post_exec.sh, as the
//! engine applies them.

use hotpocket::sim::{Cluster, Exit, HazardKind, KeyPair, PostExecOutcome};

const HAZARDS: &str = env!("CARGO_BIN_EXE_test-hazards");
const ECHO: &str = env!("CARGO_BIN_EXE_test-echo");

#[test]
fn user_output_limit_closes_the_socket() {
    let r = Cluster::builder(HAZARDS)
        .user("alice")
        .env("HAZARD", "flood-output")
        .configure(|c| c.round_limits.user_output_bytes = 10_000)
        .build()
        .unwrap()
        .round()
        .unwrap();
    r.assert_hazard(HazardKind::UserOutputLimit);
    let n = r.node(0);
    // The contract writes until a write fails, which happens once the engine
    // read past the limit (10 messages of 1004 bytes) and closed the socket.
    let stderr = String::from_utf8_lossy(&n.stderr);
    let sent: usize = stderr
        .strip_prefix("flood: ")
        .and_then(|s| s.strip_suffix(" sent, then a write failed: true\n"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{stderr}"));
    let got = n.outputs_to("alice").len();
    // At most one more than the complete writes: a write cut short by the close.
    assert!(
        got >= 10 && got <= sent + 1,
        "{got} outputs kept of {sent} sent"
    );
    assert_eq!(n.exit, Exit::Code(0));
}

#[test]
fn npl_output_limit_then_incoming_message_kills() {
    // Node 0 sends three packets of 1000 bytes: the third crosses the limit
    // and closes the engine's socket. Only then does node 1 start and send
    // one message, which node 0's engine fails to write.
    let r = Cluster::builder(HAZARDS)
        .nodes(2)
        .user("alice")
        .env("HAZARD", "flood-npl")
        .env("FLOOD_NPL_LATE", &KeyPair::node(1).public_key)
        .configure(|c| c.round_limits.npl_output_bytes = 2500)
        .start_after_npl(1, 3)
        .build()
        .unwrap()
        .round()
        .unwrap();
    let n = r.node(0);
    assert!(n.has_hazard(HazardKind::NplOutputLimit), "{r}");
    assert_eq!(
        n.npl_sent.len(),
        2,
        "the packet crossing the limit is not broadcast"
    );
    assert!(n.has_hazard(HazardKind::NplWriteFailed), "{r}");
    assert_eq!(n.exit, Exit::Signal(9));
}

#[test]
fn user_input_limit_rejects_inputs() {
    let mut c = Cluster::builder(ECHO)
        .user("alice")
        .configure(|c| c.round_limits.user_input_bytes = 5)
        .build()
        .unwrap();
    c.input("alice", b"abc")
        .input("alice", b"de")
        .input("alice", b"f");
    let r = c.round().unwrap();
    r.assert_outputs("alice", &["echo:abc", "echo:de"]);
    assert_eq!(r.rejected_inputs, [("alice".to_owned(), 2, 1)]);
}

#[test]
fn process_set_up_matches_the_engine() {
    let leak = std::env::temp_dir().join(format!("hp-sim-leak-{}", std::process::id()));
    let r = Cluster::builder(HAZARDS)
        .user("alice")
        .user("bob")
        .env("HAZARD", "inspect")
        .env("FOO", "bar")
        .bin_args("one  two")
        .leak_engine_fds()
        .leak_file(&leak)
        .configure(|c| c.round_limits.proc_ofd_count = 200)
        .build()
        .unwrap()
        .round()
        .unwrap();
    let n = r.node(0);
    let out = n.output_strings("alice");
    let find = |k: &str| {
        out.iter()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(find("argv"), r#"["one", "two"]"#);
    assert_eq!(find("env"), r#"["FOO=bar", "HAZARD=inspect"]"#);
    assert_eq!(find("cwd_is_state"), "true");
    assert_eq!(find("control"), "seqpacket");
    assert_eq!(find("npl"), "seqpacket");
    assert_eq!(find("input"), "/memfd:buffer_store");
    assert_eq!(find("user0"), "stream");
    assert_eq!(find("user1"), "stream");
    assert_eq!(find("stdin_is_pipe"), "true");
    // stdio + control + npl + input + 2 users + 3 leaked, and the contract's
    // own directory listing; nothing the simulator inherited.
    assert_eq!(
        find("open_fds"),
        "12",
        "{}",
        String::from_utf8_lossy(&n.stderr)
    );
    assert_eq!(n.leaked_fds.len(), 3);
    // The contract's stdout is captured: it printed its args.
    assert_eq!(String::from_utf8_lossy(&n.stdout), n.args_json);
    let _ = std::fs::remove_file(leak);
}

#[test]
fn post_exec_success_deletes_the_script() {
    let mut c = Cluster::builder(HAZARDS)
        .nodes(2)
        .user("alice")
        .env("HAZARD", "post-exec")
        .build()
        .unwrap();
    let r = c.round().unwrap();
    r.assert_agree();
    let p = r.node(0).post_exec.as_ref().unwrap();
    assert_eq!(
        (p.exit, p.outcome),
        (Exit::Code(0), PostExecOutcome::Deleted)
    );
    assert_eq!(String::from_utf8_lossy(&p.output), "post-exec-ran\n");
    let state = c.state_dir(0);
    assert!(!state.join("post_exec.sh").exists());
    // argv[1] is the single string "<seq> <hash>".
    let log = std::fs::read_to_string(state.join("post.log")).unwrap();
    assert_eq!(log, format!("argc=1 arg1=1 {}\n", r.lcl_hash));
    // Its changes count toward the state hash.
    assert!(
        r.node(0)
            .state
            .as_ref()
            .unwrap()
            .files
            .contains_key("post.log")
    );
}

#[test]
fn post_exec_exit_3_to_125_keeps_the_script() {
    let mut c = Cluster::builder(HAZARDS)
        .user("alice")
        .env("HAZARD", "post-exec")
        .env("POST_EXEC_CODE", "7")
        .build()
        .unwrap();
    let r1 = c.round().unwrap();
    assert_eq!(
        r1.node(0).post_exec.as_ref().unwrap().outcome,
        PostExecOutcome::Kept
    );
    let r2 = c.round().unwrap();
    assert_eq!(
        r2.node(0).post_exec.as_ref().unwrap().outcome,
        PostExecOutcome::Kept
    );
    let log = std::fs::read_to_string(c.state_dir(0).join("post.log")).unwrap();
    assert_eq!(log.lines().count(), 2);
    // Not in read requests.
    assert!(c.read("alice", b"x").unwrap().node(0).post_exec.is_none());
}

#[test]
fn post_exec_failure_codes() {
    for code in ["1", "2", "126", "200"] {
        let r = Cluster::builder(HAZARDS)
            .user("alice")
            .env("HAZARD", "post-exec")
            .env("POST_EXEC_CODE", code)
            .build()
            .unwrap()
            .round()
            .unwrap();
        let n = r.node(0);
        let p = n.post_exec.as_ref().unwrap();
        assert_eq!(p.outcome, PostExecOutcome::Failed, "exit {code}");
        assert!(n.results_discarded());
    }
}

#[test]
fn post_exec_without_exec_bit_fails() {
    let r = Cluster::builder(ECHO)
        .user("alice")
        .seed_file("post_exec.sh", "#!/bin/sh\nexit 0\n")
        .build()
        .unwrap()
        .round()
        .unwrap();
    let p = r.node(0).post_exec.as_ref().unwrap();
    assert_eq!(
        (p.exit, p.outcome),
        (Exit::Code(1), PostExecOutcome::Failed)
    );
}
