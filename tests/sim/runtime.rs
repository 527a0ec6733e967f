//! A contract built on the hotpocket runtime under the simulator, and its
//! dev mode end to end (the binary simulating itself).

use std::process::{Command, Stdio};

use hotpocket::sim::{Cluster, Variant};

const COUNTER: &str = env!("CARGO_BIN_EXE_test-runtime-counter");

#[test]
fn runtime_contract_agrees_and_keeps_state() {
    for variant in [Variant::Readonly, Variant::Mode] {
        let mut c = Cluster::builder(COUNTER)
            .nodes(3)
            .user("alice")
            .user("zed")
            .variant(variant)
            // The fallback run's limit is what the round time leaves after its stage check, less 100 ms.
            .configure(|c| c.consensus.roundtime = 60_000)
            .build()
            .unwrap();
        c.input("alice", "5").input("zed", "2");
        c.round()
            .unwrap()
            .assert_agree()
            .assert_success()
            .assert_outputs("alice", &["5"])
            .assert_outputs("zed", &["7"]);
        c.input("zed", "-1");
        c.round()
            .unwrap()
            .assert_agree()
            .assert_outputs("zed", &["6"]);
        c.read("alice", "?")
            .unwrap()
            .assert_agree()
            .assert_no_hazards()
            .assert_outputs("alice", &["total 6"]);
        if variant == Variant::Mode {
            c.fallback_round().unwrap().assert_agree().assert_success();
        }
    }
}

/// Issue-level check of the runtime's wire protocol: a contract built only on
/// the runtime API, as a real child process with the engine's fd layout,
/// 3 users × several inputs; the host de-frames the outputs the way the engine
/// does (128 KiB reads, 4-byte big-endian headers).
#[test]
fn runtime_contract_frames_outputs_for_three_users() {
    for variant in [Variant::Readonly, Variant::Mode] {
        let mut c = Cluster::builder(COUNTER).variant(variant).build().unwrap();
        for (user, inputs) in [
            ("carol", ["100", "-1", "7", "0"]),
            ("alice", ["1", "2", "3", "4"]),
            ("zed", ["10", "20", "30", "40"]),
        ] {
            for i in inputs {
                c.input(user, i);
            }
        }
        let r = c.round().unwrap();
        r.assert_success().assert_no_hazards();
        // Users in ascending public-key order share one running total; which
        // user comes first is fixed by the keys, so compute the expectation.
        let mut order: Vec<(&str, [i64; 4])> = vec![
            ("alice", [1, 2, 3, 4]),
            ("zed", [10, 20, 30, 40]),
            ("carol", [100, -1, 7, 0]),
        ];
        order.sort_by_key(|(u, _)| c.user_public_key(u));
        let mut total = 0;
        for (user, adds) in order {
            let want: Vec<String> = adds
                .iter()
                .map(|n| {
                    total += n;
                    total.to_string()
                })
                .collect();
            let want: Vec<&str> = want.iter().map(String::as_str).collect();
            r.assert_outputs(user, &want);
        }
    }
}

#[test]
fn bad_input_is_reported_and_the_round_goes_on() {
    let mut c = Cluster::builder(COUNTER).user("alice").build().unwrap();
    c.input("alice", "x").input("alice", "3");
    let r = c.round().unwrap();
    r.assert_outputs("alice", &["3"]);
    assert!(
        String::from_utf8_lossy(&r.node(0).stderr).contains("not a number"),
        "{r}"
    );
}

#[test]
fn dev_mode_end_to_end() {
    let out = Command::new(COUNTER)
        .args([
            "--dev", "--nodes", "3", "--input", "alice:4", "--input", "zed:1", "--rounds", "2",
            "--read", "alice:?",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.starts_with("hotpocket dev mode: test-runtime-counter on 3 nodes"),
        "{text}"
    );
    assert!(
        text.contains("  all 3 nodes agree:\n    -> alice: 4\n    -> zed: 5\n  node 0 "),
        "{text}"
    );
    assert!(text.contains("-> alice: \"total 5\""), "{text}");
    // One compact line per node and round; consensus rounds show the state hash.
    let node_lines: Vec<&str> = text.lines().filter(|l| l.starts_with("  node ")).collect();
    assert_eq!(node_lines.len(), 9, "{text}");
    assert!(
        node_lines[..6]
            .iter()
            .all(|l| l.contains(" wall, ") && l.contains(", state ")),
        "{text}"
    );
    assert!(
        text.contains("summary: 3 rounds, 9 executions in"),
        "{text}"
    );
    assert!(text.contains("all nodes agree; 0 hazards"), "{text}");
}

/// The cluster's `contract.environment` and dev mode's `--env` are what
/// `Round::env` reads, and nothing else is (the engine passes no `PATH`).
#[test]
fn the_contract_environment_reaches_round_env() {
    let mut c = Cluster::builder(COUNTER)
        .nodes(2)
        .user("alice")
        .env("GREETING", "ahoy")
        .build()
        .unwrap();
    c.input("alice", "env=GREETING").input("alice", "env=PATH");
    c.round()
        .unwrap()
        .assert_agree()
        .assert_success()
        .assert_outputs("alice", &["ahoy", "<unset>"]);

    let out = Command::new(COUNTER)
        .args([
            "--dev",
            "--nodes",
            "1",
            "--env",
            "GREETING=hi",
            "--input",
            "alice:env=GREETING",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("-> alice: \"hi\""), "{text}");
}

#[test]
fn dev_mode_never_triggers_under_the_engine() {
    // The engine hands a pipe on stdin and no `--dev`: engine mode, even with
    // arguments that look like dev-mode options.
    let r = Cluster::builder(COUNTER)
        .bin_args("--nodes 3")
        .user("alice")
        .build()
        .unwrap()
        .input("alice", "1")
        .round()
        .unwrap();
    r.assert_success().assert_outputs("alice", &["1"]);
    assert!(r.node(0).stdout.is_empty());
}
