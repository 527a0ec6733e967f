//! examples/counter.rs on a simulated 3-node cluster: typed commands, state
//! kept across rounds, a refused overflow, a malformed input answered, and read
//! requests that answer from the state without changing it.

use hotpocket::sim::Cluster;

use crate::cargo_example;

#[test]
fn counts_across_rounds_and_answers_read_requests_from_the_state() {
    let mut c = Cluster::builder(cargo_example("counter").unwrap())
        .nodes(3)
        .user("alice")
        .user("zed")
        .build()
        .unwrap();
    // The engine visits users in ascending public-key order; here that is
    // alice, then zed.
    assert!(c.user_public_key("alice") < c.user_public_key("zed"));

    c.input("alice", r#"{"Add":5}"#)
        .input("zed", r#"{"Add":-2}"#)
        .input("alice", r#""Get""#);
    let r1 = c.round().unwrap();
    r1.assert_agree()
        .assert_success()
        .assert_no_hazards()
        .assert_outputs(
            "alice",
            &[r#"{"value":5,"changes":1}"#, r#"{"value":5,"changes":1}"#],
        )
        .assert_outputs("zed", &[r#"{"value":3,"changes":2}"#]);

    // A round without inputs changes nothing.
    let r2 = c.round().unwrap();
    r2.assert_agree()
        .assert_outputs("alice", &[])
        .assert_outputs("zed", &[]);
    assert_eq!(r1.state_hash(), r2.state_hash());

    // Overflow and a malformed input are refused with a reply in the
    // counter's format; the rest goes on, and the log has nothing to say.
    c.input("alice", format!(r#"{{"Add":{}}}"#, i64::MAX))
        .input("zed", "add five")
        .input("zed", r#""Reset""#)
        .input("zed", r#"{"Add":7}"#);
    let r3 = c.round().unwrap();
    r3.assert_agree()
        .assert_success()
        .assert_outputs(
            "alice",
            &[r#"{"error":"3 + 9223372036854775807 does not fit in an i64"}"#],
        )
        .assert_outputs(
            "zed",
            &[
                r#"{"error":"input is not a valid JSON command: expected value at line 1 column 1"}"#,
                r#"{"value":0,"changes":3}"#,
                r#"{"value":7,"changes":4}"#,
            ],
        );
    for node in &r3.nodes {
        assert_eq!(
            String::from_utf8_lossy(&node.stderr),
            "",
            "node {}",
            node.index
        );
    }
    let saved = std::fs::read_to_string(c.state_dir(2).join("counter.json")).unwrap();
    assert_eq!(saved, r#"{"value":7,"changes":4}"#);

    // Read requests: answered from the saved state, never saved themselves.
    let read = c.read("alice", r#""Get""#).unwrap();
    read.assert_agree()
        .assert_no_hazards()
        .assert_outputs("alice", &[r#"{"value":7,"changes":4}"#]);
    let refused = c.read("zed", r#"{"Add":1}"#).unwrap();
    refused.assert_agree().assert_outputs(
        "zed",
        &[r#"{"error":"read requests only answer \"Get\"; send Add and Reset as inputs"}"#],
    );
    let r4 = c.round().unwrap();
    r4.assert_agree();
    assert_eq!(r4.state_hash(), r3.state_hash());
}

/// The layout `hpdevkit deploy` and Evernode's bootstrap contract produce
/// (README, "Deploying for real"): the contract is a file in the state
/// directory and `bin_path` names it relative to that directory. (A small
/// script that execs the built example stands in for the binary, which would
/// make every round hash megabytes of state.)
#[test]
fn runs_from_the_state_directory_with_a_relative_bin_path() {
    let bin = cargo_example("counter").unwrap();
    let script = format!("#!/bin/sh\nexec '{}' \"$@\"\n", bin.display());
    let mut c = Cluster::builder(&bin)
        .nodes(3)
        .seed_executable("counter", script)
        .configure(|cfg| cfg.bin_path = "counter".into())
        .build()
        .unwrap();
    c.input("alice", r#"{"Add":2}"#);
    let r = c.round().unwrap();
    r.assert_agree()
        .assert_success()
        .assert_outputs("alice", &[r#"{"value":2,"changes":1}"#]);
    assert_eq!(c.patch_config().bin_path, "counter");
}
