//! Each engine hazard the simulator flags, provoked by the raw hazards contract.

use hotpocket::sim::{Cluster, ControlMeaning, Exit, Hazard, HazardKind, RoundReport};

const HAZARDS: &str = env!("CARGO_BIN_EXE_test-hazards");

fn run(hazard: &str) -> RoundReport {
    Cluster::builder(HAZARDS)
        .user("alice")
        .env("HAZARD", hazard)
        .build()
        .unwrap()
        .round()
        .unwrap()
}

#[test]
fn split_length_header() {
    let r = run("split-header");
    r.assert_hazard(HazardKind::SplitLengthHeader);
    // The simulator still de-frames correctly, so the report shows what was meant.
    r.assert_outputs("alice", &["one", "two"]);
    assert!(r.node(0).hazards.contains(&Hazard::SplitLengthHeader {
        user: "alice".into(),
        message: 1
    }));
}

#[test]
fn oversized_npl_packet_is_truncated() {
    let r = run("big-npl");
    r.assert_hazard(HazardKind::OversizedNplPacket);
    let n = r.node(0);
    assert_eq!(n.npl_sent.len(), 1);
    assert_eq!(n.npl_sent[0].len(), 128 * 1024, "the engine reads 128 KiB");
    assert!(
        n.hazards
            .contains(&Hazard::OversizedNplPacket { bytes: 140_000 })
    );
}

#[test]
fn oversized_control_packet() {
    let r = run("big-control");
    r.assert_hazard(HazardKind::OversizedControlPacket);
    // Truncated, it is no longer JSON.
    assert!(matches!(
        r.node(0).control[0].meaning,
        ControlMeaning::Ignored(_)
    ));
}

#[test]
fn empty_npl_packet() {
    let r = run("empty-npl");
    r.assert_hazard(HazardKind::EmptyNplPacket);
    let n = r.node(0);
    assert_eq!(
        n.npl_sent,
        [b"after".to_vec()],
        "the empty packet is never broadcast"
    );
    r.assert_outputs("alice", &["after"]);
}

#[test]
fn args_larger_than_a_pipe() {
    let mut c = Cluster::builder(env!("CARGO_BIN_EXE_test-echo"));
    for i in 0..1200 {
        c = c.user(&format!("user{i}"));
    }
    let mut c = c.build().unwrap();
    let r = c.round().unwrap();
    r.assert_hazard(HazardKind::ArgsExceedPipe).assert_success();
    assert!(r.node(0).args_json.len() > 64 * 1024);
}

#[test]
fn args_via_file_hands_complete_args_and_keeps_the_hazard() {
    let mut c = Cluster::builder(env!("CARGO_BIN_EXE_test-echo")).args_via_file(true);
    for i in 0..1200 {
        c = c.user(&format!("user{i}"));
    }
    let mut c = c.build().unwrap();
    c.input("user1199", "last");
    let r = c.round().unwrap();
    // Still true of the engine, so still reported.
    r.assert_hazard(HazardKind::ArgsExceedPipe).assert_success();
    assert!(r.node(0).args_json.len() > 64 * 1024);
    assert_eq!(r.node(0).outputs_to("user1199").len(), 1);

    // Stdin is a regular file then, not a pipe.
    let r = Cluster::builder(HAZARDS)
        .user("alice")
        .env("HAZARD", "inspect")
        .args_via_file(true)
        .build()
        .unwrap()
        .round()
        .unwrap();
    let lines: Vec<String> = r
        .node(0)
        .outputs_to("alice")
        .iter()
        .map(|o| String::from_utf8_lossy(o).into_owned())
        .collect();
    assert!(
        lines.iter().any(|l| l == "stdin_is_pipe=false"),
        "{lines:?}"
    );
}

#[test]
fn death_by_signal() {
    let r = Cluster::builder(HAZARDS)
        .user("alice")
        .env("HAZARD", "abort")
        .seed_executable("post_exec.sh", "#!/bin/sh\nexit 0\n")
        .build()
        .unwrap()
        .round()
        .unwrap();
    assert_eq!(r.node(0).exit, Exit::Signal(6));
    r.assert_hazard(HazardKind::KilledBySignal);
    assert!(
        r.node(0).post_exec.is_none(),
        "the engine skips post_exec.sh"
    );
    assert!(r.node(0).hazards[0].to_string().contains("SIGABRT"));
}

#[test]
fn exec_timeout_kills() {
    let r = Cluster::builder(HAZARDS)
        .user("alice")
        .env("HAZARD", "sleep")
        .exec_timeout(300)
        .build()
        .unwrap()
        .round()
        .unwrap();
    assert_eq!(r.node(0).exit, Exit::Signal(9));
    r.assert_hazard(HazardKind::Timeout);
    assert!(
        !r.has_hazard(HazardKind::KilledBySignal),
        "reported once, as a timeout"
    );
    assert!(r.node(0).wall.as_millis() >= 300);
}

#[test]
fn incomplete_last_output_is_delivered() {
    let r = run("incomplete");
    r.assert_hazard(HazardKind::IncompleteOutput)
        .assert_outputs("alice", &["abc"]);
}

#[test]
fn outputs_a_json_client_would_not_get_as_written() {
    let mut c = Cluster::builder(HAZARDS)
        .user("alice")
        .env("HAZARD", "raw-json")
        .build()
        .unwrap();
    let consensus = c.round().unwrap();
    let read = c.read("alice", b"x").unwrap();
    for r in [&consensus, &read] {
        r.assert_hazard(HazardKind::RawJsonOutput);
        let flagged: Vec<(usize, String)> = r
            .node(0)
            .hazards
            .iter()
            .filter_map(|h| match h {
                Hazard::RawJsonOutput {
                    user,
                    message,
                    problem,
                    ..
                } if user == "alice" => Some((*message, problem.to_string())),
                _ => None,
            })
            .collect();
        // `{"value":5}`, `2` and `-3` reach a JSON client as written.
        assert_eq!(
            flagged.iter().map(|f| f.0).collect::<Vec<_>>(),
            [1, 4, 5],
            "{flagged:?}"
        );
        assert!(flagged[0].1.contains("not valid JSON"), "{flagged:?}");
        assert!(
            flagged[1].1.contains("the number 1.50 as 1.5"),
            "{flagged:?}"
        );
        assert!(
            flagged[2]
                .1
                .contains("the number 9223372036854775807 as 9223372036854776000"),
            "{flagged:?}"
        );
        // Every node sees the same outputs, so every node flags them.
        assert!(r.nodes.iter().all(|n| n.hazards.len() == 3));
    }
    let text = consensus.to_string();
    assert!(
        text.contains(r#"HAZARD: output #1 to alice ("{abc}") looks like JSON"#),
        "{text}"
    );
}

#[test]
fn read_request_writing_state() {
    let mut c = Cluster::builder(HAZARDS)
        .user("alice")
        .env("HAZARD", "write-state")
        .build()
        .unwrap();
    let r = c.read("alice", b"x").unwrap();
    r.assert_hazard(HazardKind::ReadOnlyWrite)
        .assert_outputs("alice", &["wrote"]);
    assert!(r.node(0).hazards.contains(&Hazard::ReadOnlyWrite {
        files: vec!["written.txt".into()]
    }));
    assert!(!c.state_dir(0).join("written.txt").exists(), "discarded");
    // In a consensus round the same write is fine.
    c.round().unwrap().assert_no_hazards();
    assert!(c.state_dir(0).join("written.txt").exists());
}

#[test]
fn control_messages() {
    let r = run("control");
    let c = &r.node(0).control;
    assert_eq!(c.len(), 3);
    assert_eq!(
        c[0].meaning,
        ControlMeaning::PeerChangeset {
            add: vec!["10.0.0.1:22860".into()],
            remove: None
        }
    );
    assert!(matches!(&c[1].meaning, ControlMeaning::Ignored(why) if why.contains("contract_end")));
    assert!(matches!(&c[2].meaning, ControlMeaning::Ignored(why) if why.contains("JSON")));
    // Only the broken one is a hazard; unknown types are silently ignored.
    assert_eq!(r.hazards().len(), 1);
}
