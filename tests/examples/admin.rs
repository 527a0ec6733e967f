//! examples/admin.rs on a simulated 3-node cluster: round-time and UNL
//! changes through patch.cfg, applied by the cluster once every node wrote
//! the same valid file; a peer changeset on the control channel; validation
//! errors, unauthorised users and read requests answered with typed replies.

use hotpocket::sim::{Cluster, ControlMeaning, RoundReport};

use crate::cargo_example;

fn say(r: &RoundReport, user: &str, expected: &[String]) {
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    r.assert_agree()
        .assert_success()
        .assert_no_hazards()
        .assert_outputs(user, &expected);
}

#[test]
fn authorised_changes_are_validated_applied_and_audited() {
    let c = Cluster::builder(cargo_example("admin").unwrap())
        .nodes(3)
        .user("admin")
        .user("zed");
    let admin = c.user_public_key("admin");
    let mut c = c.env("ADMINS", &admin).build().unwrap();
    let extra = c.node_keys(3).public_key;
    let mut unl: Vec<String> = (0..3).map(|i| c.node_keys(i).public_key).collect();
    unl.sort();
    let config = |roundtime: u32, unl: &[String]| {
        format!(
            r#"{{"config":{{"version":"1.0","roundtime":{roundtime},"threshold":80,"unl":{}}}}}"#,
            serde_json::to_string(unl).unwrap()
        )
    };

    // Round 1: a refused round time, a good one, a peer request; zed may
    // read the config but not change it.
    c.input("admin", r#"{"set_roundtime":0}"#)
        .input("admin", r#"{"set_roundtime":2000}"#)
        .input("admin", r#""config""#)
        .input(
            "admin",
            r#"{"add_peers":["10.0.0.5:22861","node-7.example:22861"]}"#,
        )
        .input("admin", r#"{"add_peers":["10.0.0.5"]}"#)
        .input("admin", r#"{"set_roundtime":"fast"}"#)
        .input("zed", r#"{"set_roundtime":5}"#)
        .input("zed", r#""config""#);
    let r1 = c.round().unwrap();
    say(
        &r1,
        "admin",
        &[
            r#"{"error":{"kind":"invalid_config","key":"consensus.roundtime","message":"must be 1..=3600000 (milliseconds), found 0"}}"#.into(),
            r#"{"roundtime_set":{"from":1000,"to":2000}}"#.into(),
            config(2000, &unl),
            r#"{"peers_requested":{"add":["10.0.0.5:22861","node-7.example:22861"],"remove":[]}}"#.into(),
            r#"{"error":{"kind":"invalid_peer","message":"peer \"10.0.0.5\": expected \"host:port\" with exactly one ':'"}}"#.into(),
            r#"{"error":{"kind":"bad_command","reason":"invalid type: string \"fast\", expected u32 at line 1 column 23"}}"#.into(),
        ],
    );
    say(
        &r1,
        "zed",
        &[
            r#"{"error":{"kind":"not_authorised"}}"#.into(),
            config(2000, &unl),
        ],
    );
    for node in &r1.nodes {
        let meanings: Vec<&ControlMeaning> = node
            .control
            .iter()
            .map(|m| &m.meaning)
            .filter(|m| matches!(m, ControlMeaning::PeerChangeset { .. }))
            .collect();
        assert_eq!(
            meanings,
            [&ControlMeaning::PeerChangeset {
                add: vec!["10.0.0.5:22861".into(), "node-7.example:22861".into()],
                remove: Some(vec![]),
            }],
            "node {}",
            node.index
        );
    }
    // Every node wrote the same valid file, so the cluster applies it, and
    // the next round comes 2000 ms later.
    let applied = r1.config_applied.as_ref().expect("patch.cfg applied");
    assert_eq!(applied.config.consensus.roundtime, 2000);
    assert_eq!(c.patch_config().consensus.roundtime, 2000);
    // The round after a round-time change closes no ledger, as on a real
    // cluster.
    let lost = c.round().unwrap();
    assert!(lost.no_ledger.is_some(), "{lost}");

    // Round 2: UNL changes, each building on the last.
    c.input(
        "admin",
        format!(
            r#"{{"add_unl_node":"{}"}}"#,
            extra.to_uppercase().replacen("ED", "ed", 1)
        ),
    )
    .input("admin", format!(r#"{{"add_unl_node":"{extra}"}}"#))
    .input("admin", r#"{"add_unl_node":"edzz"}"#)
    .input("admin", format!(r#"{{"remove_unl_node":"{}"}}"#, unl[0]))
    .input("admin", format!(r#"{{"remove_unl_node":"{}"}}"#, unl[0]));
    let r2 = c.round().unwrap();
    assert_eq!(
        r2.timestamp - r1.timestamp,
        4000,
        "the lost round's time passed too"
    );
    let mut with_extra = unl.clone();
    with_extra.push(extra.clone());
    with_extra.sort();
    say(
        &r2,
        "admin",
        &[
            format!(r#"{{"unl_node_added":{{"node":"{extra}","unl_size":4}}}}"#),
            format!(r#"{{"error":{{"kind":"no_change","reason":"{extra} is already in the UNL"}}}}"#),
            // Sorted in, "edzz" is the fifth entry.
            r#"{"error":{"kind":"invalid_config","key":"unl[4]","message":"must be \"ed\" followed by 64 hex digits, found \"edzz\""}}"#.into(),
            format!(r#"{{"unl_node_removed":{{"node":"{}","unl_size":3}}}}"#, unl[0]),
            format!(r#"{{"error":{{"kind":"no_change","reason":"{} is not in the UNL"}}}}"#, unl[0]),
        ],
    );
    let mut expected_unl = with_extra;
    expected_unl.retain(|k| *k != unl[0]);
    assert_eq!(c.patch_config().unl, expected_unl);

    // Read requests: the config as applied; changes refused.
    let read = c.read("zed", r#""config""#).unwrap();
    say(&read, "zed", &[config(2000, &expected_unl)]);
    let read = c.read("admin", r#"{"set_roundtime":3000}"#).unwrap();
    say(
        &read,
        "admin",
        &[r#"{"error":{"kind":"read_only"}}"#.into()],
    );

    // The audit log holds the applied changes, with who and when.
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(c.state_dir(0).join("admin.json")).unwrap()).unwrap();
    let audit = saved["audit"].as_array().unwrap();
    let changes: Vec<String> = audit.iter().map(|e| e["change"].to_string()).collect();
    assert_eq!(
        changes,
        [
            r#"{"roundtime_set":{"from":1000,"to":2000}}"#.to_owned(),
            r#"{"peers_requested":{"add":["10.0.0.5:22861","node-7.example:22861"],"remove":[]}}"#
                .to_owned(),
            format!(r#"{{"unl_node_added":{{"node":"{extra}","unl_size":4}}}}"#),
            format!(
                r#"{{"unl_node_removed":{{"node":"{}","unl_size":3}}}}"#,
                unl[0]
            ),
        ]
    );
    assert!(audit.iter().all(|e| e["admin"] == admin.as_str()));
    assert_eq!(audit[0]["ledger"], 1);
    assert_eq!(audit[0]["timestamp"], r1.timestamp);
    assert_eq!(audit[3]["ledger"], 2);
}
