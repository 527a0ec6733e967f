//! examples/post_exec.rs on a simulated 3-node cluster: an upgrade scheduled
//! for ledger 4 is kept (exit 3) after rounds 1 to 3, applied and removed
//! (exit 0) after round 4; a script that fails (exit 1) fails every round
//! until the contract removes it; validation errors are typed replies.

use hotpocket::sim::{Cluster, PostExecOutcome, RoundReport};

use crate::cargo_example;

fn post_exec(r: &RoundReport) -> Option<PostExecOutcome> {
    r.assert_agree().assert_success().assert_no_hazards();
    let outcomes: Vec<Option<PostExecOutcome>> = r
        .nodes
        .iter()
        .map(|n| n.post_exec.as_ref().map(|p| p.outcome))
        .collect();
    assert!(outcomes.windows(2).all(|w| w[0] == w[1]), "{outcomes:?}");
    outcomes[0]
}

fn version(current: &str, pending: Option<(&str, u64)>) -> String {
    let pending = match pending {
        Some((v, at)) => format!(r#"{{"version":"{v}","at":{at}}}"#),
        None => "null".into(),
    };
    format!(r#"{{"version":{{"current":"{current}","pending":{pending}}}}}"#)
}

#[test]
fn a_scheduled_upgrade_is_kept_until_its_ledger_then_applied_and_removed() {
    let c = Cluster::builder(cargo_example("post_exec").unwrap())
        .nodes(3)
        .user("admin")
        .user("zed");
    let admin = c.user_public_key("admin");
    let mut c = c.env("ADMINS", &admin).build().unwrap();

    // Round 1: schedule 1.1 for ledger 4, with the refusals around it.
    c.input("admin", r#""version""#)
        .input("admin", r#"{"schedule":{"version":"1.1","at":1}}"#)
        .input("admin", r#"{"schedule":{"version":"1.1 beta","at":4}}"#)
        .input("admin", r#"{"schedule":{"version":"1.1","at":4}}"#)
        .input("admin", r#"{"schedule":{"version":"1.2","at":6}}"#)
        .input("admin", r#""upgrade""#)
        .input("zed", r#"{"schedule":{"version":"6.6.6","at":5}}"#)
        .input("zed", r#""version""#);
    let r1 = c.round().unwrap();
    r1.assert_outputs(
        "admin",
        &[
            &version("1.0", None),
            r#"{"error":{"kind":"ledger_passed","at":1,"ledger":1}}"#,
            r#"{"error":{"kind":"invalid_version"}}"#,
            r#"{"scheduled":{"version":"1.1","at":4}}"#,
            r#"{"error":{"kind":"already_pending","version":"1.1","at":4}}"#,
            r#"{"error":{"kind":"bad_command","reason":"unknown variant `upgrade`, expected one of `version`, `schedule`, `cancel` at line 1 column 9"}}"#,
        ],
    );
    r1.assert_outputs(
        "zed",
        &[
            r#"{"error":{"kind":"not_authorised"}}"#,
            &version("1.0", Some(("1.1", 4))),
        ],
    );
    // The script ran after the round and asked to be kept.
    assert_eq!(post_exec(&r1), Some(PostExecOutcome::Kept));
    let n0 = r1.node(0);
    assert_eq!(n0.post_exec.as_ref().unwrap().exit.to_string(), "exit 3");
    let files = &n0.state.as_ref().unwrap().files;
    let executables: Vec<&String> = files
        .iter()
        .filter(|(_, digest)| digest.starts_with("exec:"))
        .map(|(path, _)| path)
        .collect();
    assert_eq!(executables, ["post_exec.sh"]);
    assert!(files.contains_key("pending/version") && files.contains_key("pending/at"));

    // Rounds 2 and 3: still before ledger 4.
    for _ in 2..=3 {
        assert_eq!(post_exec(&c.round().unwrap()), Some(PostExecOutcome::Kept));
    }
    // Round 4: the contract still sees 1.0 (it runs before the script); the
    // script then installs 1.1 and exits 0, and the engine deletes it.
    c.input("zed", r#""version""#);
    let r4 = c.round().unwrap();
    r4.assert_outputs("zed", &[&version("1.0", Some(("1.1", 4)))]);
    assert_eq!(post_exec(&r4), Some(PostExecOutcome::Deleted));
    let state = c.state_dir(2);
    assert_eq!(
        std::fs::read_to_string(state.join("version")).unwrap(),
        "1.1\n"
    );
    assert!(!state.join("post_exec.sh").exists() && !state.join("pending").exists());
    let files: Vec<&String> = r4.node(0).state.as_ref().unwrap().files.keys().collect();
    assert_eq!(files, ["version"]);

    // Round 5: upgraded, nothing left to run.
    c.input("zed", r#""version""#);
    let r5 = c.round().unwrap();
    r5.assert_outputs("zed", &[&version("1.1", None)]);
    assert_eq!(post_exec(&r5), None);
    c.read("zed", r#""version""#)
        .unwrap()
        .assert_agree()
        .assert_outputs("zed", &[&version("1.1", None)]);
    c.read("admin", r#""cancel""#)
        .unwrap()
        .assert_agree()
        .assert_outputs("admin", &[r#"{"error":{"kind":"read_only"}}"#]);
}

#[test]
fn a_failing_script_fails_every_round_until_the_contract_removes_it() {
    let c = Cluster::builder(cargo_example("post_exec").unwrap())
        .nodes(3)
        .user("admin");
    let admin = c.user_public_key("admin");
    let mut c = c.env("ADMINS", &admin).build().unwrap();
    c.input("admin", r#"{"schedule":{"version":"2.0","at":9}}"#);
    assert_eq!(post_exec(&c.round().unwrap()), Some(PostExecOutcome::Kept));

    // The staged ledger number goes missing on every node: the script exits
    // 1, and the engine would discard each such round's results.
    for i in 0..3 {
        std::fs::remove_file(c.state_dir(i).join("pending/at")).unwrap();
    }
    for _ in 0..2 {
        let r = c.round().unwrap();
        assert_eq!(post_exec(&r), Some(PostExecOutcome::Failed));
        assert!(r.nodes.iter().all(|n| n.results_discarded()));
        assert_eq!(
            r.node(0).post_exec.as_ref().unwrap().exit.to_string(),
            "exit 1"
        );
    }

    // The contract runs before the script, so "cancel" ends it.
    c.input("admin", r#""cancel""#);
    let r = c.round().unwrap();
    r.assert_outputs("admin", &[r#"{"cancelled":null}"#]);
    assert_eq!(post_exec(&r), None);
    c.input("admin", r#""cancel""#)
        .input("admin", r#""version""#);
    let r = c.round().unwrap();
    r.assert_outputs(
        "admin",
        &[
            r#"{"error":{"kind":"nothing_pending"}}"#,
            &version("1.0", None),
        ],
    );
    assert_eq!(post_exec(&r), None);
}
