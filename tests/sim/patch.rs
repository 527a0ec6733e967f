//! patch.cfg as the engine handles it (`hotpocket::guide::protocol`, "patch.cfg"): a contract's
//! valid change applies once every node has it, an invalid one is a hazard,
//! and nodes that disagree on it disagree.

use hotpocket::sim::{Cluster, DiffAt, GENESIS_MS, HazardKind, PatchChange, Variant, Verdict};

const PATCH: &str = env!("CARGO_BIN_EXE_test-patch");
const COUNTER: &str = env!("CARGO_BIN_EXE_test-runtime-counter");

fn changed_keys(r: &hotpocket::sim::RoundReport) -> Vec<String> {
    r.config_applied
        .as_ref()
        .map(|u| u.changes.iter().map(|c| c.key.clone()).collect())
        .unwrap_or_default()
}

fn patch_file(c: &Cluster, node: usize) -> serde_json::Value {
    let path = c.root().join(format!("node{node}/patch.cfg"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn valid_change_on_every_node_applies_to_the_next_round() {
    let mut c = Cluster::builder(PATCH)
        .nodes(3)
        .user("alice")
        .build()
        .unwrap();
    c.input("alice", "set consensus.roundtime 2000")
        .input("alice", "set round_limits.user_output_bytes 100")
        .input("alice", r#"set environment {"FOO":"bar"}"#)
        .input("alice", r#"set bin_args "x  y""#);
    let r1 = c.round().unwrap();
    r1.assert_agree().assert_no_hazards();
    assert_eq!(r1.timestamp, GENESIS_MS + 1000);
    assert_eq!(
        changed_keys(&r1),
        [
            "bin_args",
            "consensus.roundtime",
            "environment.FOO",
            "round_limits.user_output_bytes"
        ],
        "{r1}"
    );
    let roundtime = &r1.config_applied.as_ref().unwrap().changes[1];
    assert_eq!(
        (roundtime.from.as_str(), roundtime.to.as_str()),
        ("1000", "2000")
    );
    assert!(
        r1.nodes
            .iter()
            .all(|n| matches!(n.patch_change, Some(PatchChange::Valid(_))))
    );
    let text = r1.to_string();
    assert!(
        text.contains("patch.cfg applied for the next rounds: bin_args \"\" -> \"x  y\""),
        "{text}"
    );
    assert_eq!(c.patch_config().consensus.roundtime, 2000);
    assert_eq!(c.patch_config().round_limits.user_output_bytes, 100);

    // The round time changed, so the next round closes no ledger, as on a
    // real cluster ("Not enough stage 3 proposals"): nothing runs, its
    // inputs wait, and its time passes.
    c.input("alice", "show").input("alice", "big 500");
    let lost = c.round().unwrap();
    let why = lost
        .no_ledger
        .as_deref()
        .expect("the round after the change is lost");
    assert!(why.starts_with("Not enough stage 3 proposals"), "{why}");
    assert!(why.contains("1000 -> 2000 ms"), "{why}");
    assert!(lost.nodes.is_empty());
    assert_eq!(
        (lost.lcl_seq_no, lost.timestamp),
        (r1.lcl_seq_no, GENESIS_MS + 3000)
    );
    assert!(lost.to_string().contains("NO LEDGER"), "{lost}");

    // The one after runs with it: new environment, arguments, clock step
    // and output limit.
    let r2 = c.round().unwrap();
    r2.assert_agree();
    assert!(r2.no_ledger.is_none(), "only one round is lost");
    assert_eq!(r2.lcl_seq_no, r1.lcl_seq_no + 1);
    assert_eq!(r2.timestamp, GENESIS_MS + 5000);
    assert_eq!(
        r2.node(0)
            .output_strings("alice")
            .first()
            .map(String::as_str),
        Some(format!("FOO=bar argv=[\"x\", \"y\"] ts={}", GENESIS_MS + 5000).as_str()),
        "{r2}"
    );
    r2.assert_hazard(HazardKind::UserOutputLimit);
    // Unchanged since it was applied: nothing to report.
    assert!(r2.config_applied.is_none());
    assert!(r2.nodes.iter().all(|n| n.patch_change.is_none()));
}

#[test]
fn runtime_update_applies_and_fallback_uses_the_new_round_time() {
    // Round::update_patch_config keeps the fallback key the `mode` engine requires.
    let mut c = Cluster::builder(COUNTER)
        .nodes(2)
        .user("alice")
        .variant(Variant::Mode)
        .build()
        .unwrap();
    // Long enough that the fallback run's limit (round time - 100 ms) is
    // never hit on a loaded machine.
    c.input("alice", "roundtime=60000");
    let r1 = c.round().unwrap();
    r1.assert_agree()
        .assert_no_hazards()
        .assert_outputs("alice", &["patched"]);
    assert_eq!(changed_keys(&r1), ["consensus.roundtime"]);
    let f = c.fallback_round().unwrap();
    f.assert_agree().assert_no_hazards();
    assert_eq!(f.timestamp, r1.timestamp + 60_000);
}

#[test]
fn fallback_rounds_apply_changes_too() {
    let mut c = Cluster::builder(PATCH)
        .nodes(2)
        .variant(Variant::Mode)
        .env(
            "PATCH_ON_FALLBACK",
            r#"set consensus.fallback {"execute":false}"#,
        )
        // The fallback run's limit is what the round time leaves after its stage check, less 100 ms.
        .configure(|c| c.consensus.roundtime = 60_000)
        .build()
        .unwrap();
    let f = c.fallback_round().unwrap();
    f.assert_agree().assert_no_hazards();
    assert_eq!(changed_keys(&f), ["consensus.fallback.execute"], "{f}");
    // The engine no longer runs the contract in fallback rounds.
    let err = c.fallback_round().unwrap_err().to_string();
    assert!(err.contains("consensus.fallback.execute is false"), "{err}");
}

#[test]
fn invalid_change_is_a_hazard_every_round_until_fixed() {
    let mut c = Cluster::builder(PATCH)
        .nodes(2)
        .user("alice")
        .build()
        .unwrap();
    c.input("alice", "set consensus.roundtime 0");
    let r1 = c.round().unwrap();
    // Both nodes wrote the same bytes: they agree, on a file the engine rejects.
    r1.assert_agree()
        .assert_hazard(HazardKind::InvalidPatchConfig);
    assert!(r1.config_applied.is_none());
    for n in &r1.nodes {
        let Some(PatchChange::Invalid(message)) = &n.patch_change else {
            panic!("node {}: {:?}", n.index, n.patch_change);
        };
        assert!(message.contains("consensus.roundtime"), "{message}");
    }
    let text = r1.to_string();
    assert!(
        text.contains("HAZARD: invalid ../patch.cfg: `consensus.roundtime`"),
        "{text}"
    );
    assert!(text.contains("stall this node"), "{text}");
    assert_eq!(c.patch_config().consensus.roundtime, 1000);

    // Still invalid: the engine would still be stalled.
    let r2 = c.round().unwrap();
    assert_eq!(r2.hazards().len(), 2, "{r2}");
    assert_eq!(r2.timestamp, r1.timestamp + 1000);

    // Repaired: applied.
    c.input("alice", "set consensus.roundtime 1500");
    let r3 = c.round().unwrap();
    r3.assert_no_hazards();
    assert_eq!(c.patch_config().consensus.roundtime, 1500);
}

#[test]
fn unparsable_and_variant_invalid_files_are_hazards() {
    let cases = [
        (Variant::Readonly, "raw not json", "not valid JSON"),
        (
            Variant::Readonly,
            "del round_limits.exec_timeout",
            "round_limits.exec_timeout",
        ),
        (Variant::Readonly, "set unl []", "unl"),
        // The fallback-hpsh engine requires consensus.fallback.execute.
        (
            Variant::Mode,
            "del consensus.fallback",
            "consensus.fallback",
        ),
    ];
    for (variant, command, expected) in cases {
        let mut c = Cluster::builder(PATCH)
            .user("alice")
            .variant(variant)
            .build()
            .unwrap();
        c.input("alice", command);
        let r = c.round().unwrap();
        let hazards = r.hazards();
        let [(0, hotpocket::sim::Hazard::InvalidPatchConfig { message })] = hazards.as_slice()
        else {
            panic!("{command}: {r}");
        };
        assert!(message.contains(expected), "{command}: {message}");
    }
}

#[test]
fn nodes_differing_in_patch_cfg_disagree() {
    let mut c = Cluster::builder(PATCH)
        .nodes(3)
        .user("alice")
        .build()
        .unwrap();
    let key = c.node_keys(1).public_key;
    c.input("alice", format!("only {key} set consensus.roundtime 2000"));
    let r = c.round().unwrap();
    r.assert_disagree();
    let Verdict::Differ(d) = &r.verdict else {
        unreachable!()
    };
    assert_eq!(d.node, 1);
    assert_eq!(
        d.at,
        DiffAt::File {
            path: "../patch.cfg".into()
        }
    );
    assert!(r.to_string().contains("../patch.cfg"));
    assert!(r.node(0).patch_change.is_none());
    assert!(matches!(
        r.node(1).patch_change,
        Some(PatchChange::Valid(_))
    ));
    // Not agreed on, so not applied.
    assert!(r.config_applied.is_none());
    assert_eq!(c.patch_config().consensus.roundtime, 1000);
    assert_eq!(patch_file(&c, 1)["consensus"]["roundtime"], 2000);
}

#[test]
fn changes_between_rounds_are_written_to_patch_cfg() {
    let mut c = Cluster::builder(PATCH)
        .nodes(2)
        .user("alice")
        .build()
        .unwrap();
    let r1 = c.round().unwrap();
    let unl = c.patch_config().unl.clone();
    assert_eq!(unl.len(), 2, "the UNL is filled in with the cluster's keys");
    c.config_mut().consensus.roundtime = 3000;
    c.config_mut().environment.insert("FOO".into(), "op".into());
    c.input("alice", "show");
    let r2 = c.round().unwrap();
    r2.assert_agree().assert_no_hazards().assert_outputs(
        "alice",
        &[&format!("FOO=op argv=[] ts={}", r1.timestamp + 3000)],
    );
    assert!(r2.config_applied.is_none());
    for node in 0..2 {
        assert_eq!(patch_file(&c, node)["consensus"]["roundtime"], 3000);
    }
}

#[test]
fn read_requests_cannot_change_patch_cfg() {
    let mut c = Cluster::builder(PATCH).user("alice").build().unwrap();
    c.round().unwrap();
    let r = c.read("alice", "set consensus.roundtime 2000").unwrap();
    let hazards = r.hazards();
    // The contract answers a `set` with nothing: the engine would send the
    // client no reply either.
    let [
        (0, hotpocket::sim::Hazard::ReadOnlyWrite { files }),
        (0, hotpocket::sim::Hazard::UnansweredRead { user }),
    ] = hazards.as_slice()
    else {
        panic!("{r}");
    };
    assert_eq!(user, "alice");
    assert_eq!(files, &["../patch.cfg"]);
    assert_eq!(patch_file(&c, 0)["consensus"]["roundtime"], 1000);
    assert!(c.round().unwrap().config_applied.is_none());
}

#[test]
fn an_invalid_configuration_is_refused_up_front() {
    let err = Cluster::builder(PATCH)
        .configure(|c| c.consensus.threshold = 0)
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("consensus.threshold"), "{err}");
}
