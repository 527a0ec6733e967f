//! The simulator against the raw echo contract: one and many nodes, rounds,
//! read requests, fallback rounds, both engine variants.

use hotpocket::sim::{Cluster, Exit, HazardKind, Mode, Variant};

const ECHO: &str = env!("CARGO_BIN_EXE_test-echo");

#[test]
fn one_node_echo() {
    let report = Cluster::builder(ECHO)
        .user("alice")
        .build()
        .unwrap()
        .input("alice", b"hi")
        .round()
        .unwrap();
    report
        .assert_success()
        .assert_no_hazards()
        .assert_outputs("alice", &["echo:hi"]);
    assert_eq!(report.mode, Mode::Consensus);
    assert_eq!(report.lcl_seq_no, 1);
    assert!(String::from_utf8_lossy(&report.node(0).stderr).contains("echo: 1 users"));
}

#[test]
fn three_nodes_agree_and_keep_state_across_rounds() {
    let mut c = Cluster::builder(ECHO)
        .nodes(3)
        .user("alice")
        .user("bob")
        .build()
        .unwrap();
    c.input("alice", b"a1")
        .input("bob", b"b1")
        .input("alice", b"a2");
    let r1 = c.round().unwrap();
    r1.assert_agree()
        .assert_outputs("alice", &["echo:a1", "echo:a2"])
        .assert_outputs("bob", &["echo:b1"]);
    let r2 = c.round().unwrap();
    r2.assert_agree().assert_outputs("alice", &[]);
    c.input("bob", b"b2");
    let r3 = c.round().unwrap();
    r3.assert_agree();
    let state = c.state_dir(1);
    assert_eq!(
        std::fs::read_to_string(state.join("count.txt")).unwrap(),
        "4\n"
    );
    // lcl chains and timestamps advance by the round time.
    assert_eq!((r1.lcl_seq_no, r2.lcl_seq_no, r3.lcl_seq_no), (1, 2, 3));
    assert_ne!(r1.lcl_hash, r2.lcl_hash);
    assert_eq!(r2.timestamp - r1.timestamp, 1000);
    assert_ne!(r1.state_hash(), r3.state_hash());
    assert_eq!(r1.state_hash(), r2.state_hash());
}

// fd numbers in the args are not compared: they depend on what else the
// process has open, here other tests' rounds running in parallel (as in the
// engine, contracts must read them from the JSON).
#[test]
fn runs_are_reproducible() {
    let without_fds = |json: &str| {
        let mut args: serde_json::Value = serde_json::from_str(json).unwrap();
        for key in ["control_fd", "npl_fd", "user_in_fd"] {
            args[key] = 0.into();
        }
        for user in args["users"].as_object_mut().unwrap().values_mut() {
            user[0] = 0.into();
        }
        args
    };
    let run = || {
        let mut c = Cluster::builder(ECHO)
            .nodes(2)
            .user("alice")
            .build()
            .unwrap();
        c.input("alice", b"x");
        let r = c.round().unwrap();
        (
            r.lcl_hash.clone(),
            r.timestamp,
            r.state_hash().map(str::to_owned),
            without_fds(&r.node(1).args_json),
        )
    };
    assert_eq!(run(), run());
}

#[test]
fn users_sorted_and_listed_without_inputs() {
    let r = Cluster::builder(ECHO)
        .user("zed")
        .user("amy")
        .user("kim")
        .build()
        .unwrap()
        .round()
        .unwrap();
    let args: serde_json::Value = serde_json::from_str(&r.node(0).args_json).unwrap();
    let keys: Vec<&String> = args["users"].as_object().unwrap().keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys.len(), 3);
    // serde_json sorts too, so check the raw text order.
    let json = &r.node(0).args_json;
    let pos: Vec<usize> = sorted
        .iter()
        .map(|k| json.find(k.as_str()).unwrap())
        .collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]));
    for v in args["users"].as_object().unwrap().values() {
        assert_eq!(
            v.as_array().unwrap().len(),
            1,
            "a user without inputs is [out_fd]"
        );
    }
}

#[test]
fn input_offsets_are_4096_aligned_and_grow() {
    let mut c = Cluster::builder(ECHO).user("alice").build().unwrap();
    c.input("alice", vec![b'x'; 5000]).input("alice", b"y");
    let r1 = c.round().unwrap();
    c.input("alice", b"z");
    let r2 = c.round().unwrap();
    let offsets = |r: &hotpocket::sim::RoundReport| -> Vec<(u64, u64)> {
        let a: serde_json::Value = serde_json::from_str(&r.node(0).args_json).unwrap();
        let user = a["users"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .as_array()
            .unwrap()
            .clone();
        user[1..]
            .iter()
            .map(|p| (p[0].as_u64().unwrap(), p[1].as_u64().unwrap()))
            .collect()
    };
    assert_eq!(offsets(&r1), [(0, 5000), (8192, 1)]);
    assert_eq!(offsets(&r2), [(12288, 1)]);
    r2.assert_outputs("alice", &["echo:z"]);
}

#[test]
fn read_request_is_read_only() {
    let mut c = Cluster::builder(ECHO)
        .nodes(2)
        .user("alice")
        .user("bob")
        .env("ECHO_META", "1")
        .build()
        .unwrap();
    c.input("alice", b"a");
    c.round().unwrap().assert_agree();
    let r = c.read("bob", b"q").unwrap();
    r.assert_agree().assert_no_hazards();
    assert_eq!(r.mode, Mode::ReadRequest);
    assert_eq!(r.timestamp, 0);
    let n = r.node(0);
    assert_eq!(n.outputs.len(), 1, "only the requesting user");
    assert_eq!(
        n.output_strings("bob"),
        [
            "meta:readonly=true seq=null ts=0 hp=0.6.4 cwd_state=true patch=true",
            "echo:q"
        ]
    );
    assert!(n.state.is_none() && n.npl_sent.is_empty());
    let args: serde_json::Value = serde_json::from_str(&n.args_json).unwrap();
    assert!(args.get("npl_fd").is_none() && args.get("lcl_seq_no").is_none());
    // The count file was not touched by the read request.
    assert_eq!(
        std::fs::read_to_string(c.state_dir(0).join("count.txt")).unwrap(),
        "1\n"
    );
    // A read request does not advance the lcl.
    assert_eq!(c.lcl().0, 1);
}

#[test]
fn mode_variant_and_fallback_rounds() {
    // A fallback run's time limit is what the round time leaves after its stage check, less 100 ms: a long
    // round time, so that a loaded machine never hits it.
    let mut c = Cluster::builder(ECHO)
        .nodes(2)
        .variant(Variant::Mode)
        .user("alice")
        .env("ECHO_META", "1")
        .configure(|c| c.consensus.roundtime = 60_000)
        .build()
        .unwrap();
    c.input("alice", b"a");
    let r1 = c.round().unwrap();
    r1.assert_agree();
    assert_eq!(
        r1.outputs("alice")[0],
        "meta:readonly=false seq=1 ts=1704067260000 hp=0.6.5 cwd_state=true patch=true"
    );
    let args: serde_json::Value = serde_json::from_str(&r1.node(0).args_json).unwrap();
    assert_eq!(args["mode"], "consensus");
    assert!(args.get("readonly").is_none());
    let unl_entry = args["unl"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    assert_eq!(unl_entry["lcl_seq_no"], 1);

    let f1 = c.fallback_round().unwrap();
    let f2 = c.fallback_round().unwrap();
    f2.assert_agree().assert_success();
    assert_eq!(f1.mode, Mode::ConsensusFallback);
    assert_eq!(f2.lcl_seq_no, 1, "fallback rounds do not create ledgers");
    let args: serde_json::Value = serde_json::from_str(&f2.node(0).args_json).unwrap();
    assert_eq!(args["mode"], "consensus_fallback");
    assert_eq!(args["user_in_fd"], 0);
    assert_eq!(args["users"], serde_json::json!({}));
    assert_eq!(args["non_consensus_rounds"], 2);
    assert!(args["npl_fd"].is_i64());
    assert!(f2.node(0).post_exec.is_none());
    assert_eq!(
        std::fs::read_to_string(c.state_dir(0).join("fallback.txt")).unwrap(),
        "2 0\n"
    );
    // Back to consensus: the counter resets and the lcl moves on.
    assert_eq!(c.round().unwrap().lcl_seq_no, 2);
    let f3 = c.fallback_round().unwrap();
    let args: serde_json::Value = serde_json::from_str(&f3.node(0).args_json).unwrap();
    assert_eq!(args["non_consensus_rounds"], 1);
}

#[test]
fn fallback_needs_mode_variant() {
    let err = Cluster::builder(ECHO)
        .build()
        .unwrap()
        .fallback_round()
        .unwrap_err();
    assert!(err.to_string().contains("variant"), "{err}");
}

#[test]
fn missing_binary_is_a_simulator_error() {
    let err = Cluster::builder("/nonexistent/contract")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/contract"), "{err}");
}

#[test]
fn exit_codes_are_reported_but_count_as_success() {
    // A contract panicking on bad args exits with 101; the engine calls that success.
    let r = Cluster::builder(ECHO)
        .map_args(|_, _| "not json".into())
        .build()
        .unwrap()
        .round()
        .unwrap();
    assert_eq!(r.node(0).exit, Exit::Code(101));
    assert!(!r.has_hazard(HazardKind::KilledBySignal));
    assert!(String::from_utf8_lossy(&r.node(0).stderr).contains("args JSON"));
}

#[test]
fn patch_cfg_keys_and_usage() {
    let mut c = Cluster::builder(hotpocket::sim::cargo_bin("test-echo").unwrap())
        .nodes(3)
        .user("alice")
        .build()
        .unwrap();
    let r = c.round().unwrap();
    let root = c.root().to_owned();
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("node2/patch.cfg")).unwrap())
            .unwrap();
    let mut unl: Vec<String> = (0..3).map(|i| c.node_keys(i).public_key).collect();
    unl.sort();
    assert_eq!(cfg["unl"], serde_json::json!(unl));
    assert!(cfg["bin_path"].as_str().unwrap().ends_with("test-echo"));
    assert_eq!(cfg["consensus"]["roundtime"], 1000);
    assert_eq!(cfg["round_limits"]["exec_timeout"], 300_000);
    // wait4's resource usage is recorded.
    assert!(r.nodes.iter().all(|n| n.usage.max_rss_kib > 0));
    // The temporary root goes away with the cluster.
    drop(c);
    assert!(!root.exists());
}
