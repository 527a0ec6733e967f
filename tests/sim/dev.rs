//! Dev mode's command line and report, driven against the raw echo contract.

use hotpocket::sim::dev;

fn run(args: &[&str]) -> (i32, String) {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let mut out = Vec::new();
    let code = dev::run(env!("CARGO_BIN_EXE_test-echo").as_ref(), &args, &mut out);
    (code, String::from_utf8(out).unwrap())
}

#[test]
fn report_for_inputs_rounds_reads_and_fallback() {
    let file = std::env::temp_dir().join(format!("hp-sim-dev-input-{}", std::process::id()));
    std::fs::write(&file, "from a file").unwrap();
    let (code, out) = run(&[
        "--dev",
        "--nodes",
        "3",
        "--input",
        "alice:hello",
        "--input-json",
        r#"zed:{"Add":5}"#,
        &format!("--input-file=alice:{}", file.display()),
        "--rounds",
        "2",
        "--read",
        "zed:q",
        "--fallback",
        // The fallback run's limit is what the round time leaves after its stage check, less 100 ms.
        "--roundtime",
        "60000",
    ]);
    let _ = std::fs::remove_file(file);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with(
            "hotpocket dev mode: test-echo on 3 nodes, engine variant mode (hp_version 0.6.5)"
        ),
        "{out}"
    );
    // Agreeing nodes: the outputs once, then one line per node.
    assert!(
        out.contains(
            r#"  all 3 nodes agree:
    -> alice: "echo:hello"
    -> alice: "echo:from a file"
    -> zed: "echo:{\"Add\":5}"
  node 0 "#
        ),
        "{out}"
    );
    assert_eq!(out.matches("-> alice: \"echo:hello\"").count(), 1, "{out}");
    assert!(
        out.contains("    stderr| echo: 2 users\n  node 1 "),
        "{out}"
    );
    assert!(out.contains("    stderr| (same as node 0)"), "{out}");
    assert!(out.contains("round 3: read request"), "{out}");
    assert!(out.contains("-> zed: \"echo:q\""), "{out}");
    assert!(out.contains("round 4: consensus fallback"), "{out}");
    // Four rounds on three nodes.
    assert!(out.contains("summary: 4 rounds, 12 executions in"), "{out}");
    assert!(out.contains("all nodes agree; 0 hazards; state "), "{out}");
}

#[test]
fn disagreement_sets_the_exit_code() {
    let (code, out) = run(&[
        "--nodes",
        "2",
        "--env",
        "NPL_EXCHANGE=1",
        "--env",
        // Node 1 hears nobody (not even itself): it need not wait.
        &format!(
            "NPL_WANT={}=0",
            &hotpocket::sim::KeyPair::node(1).public_key[..10]
        ),
        "--drop-npl-to",
        "1",
        "--user",
        "alice",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "\n  DISAGREE: node 1 differs from node 0 at output #0 to alice: \
             node 0 has \"npl:"
        ),
        "{out}"
    );
    // Each node's outputs, since they differ.
    assert!(out.contains("\n    -> alice: \"npl:\"\n"), "{out}");
    assert_eq!(out.matches("    -> alice: \"npl:").count(), 2, "{out}");
    assert!(out.contains("nodes DISAGREE in round [1]"), "{out}");
}

#[test]
fn keep_state_and_verbose() {
    let dir = std::env::temp_dir().join(format!("hp-sim-dev-keep-{}", std::process::id()));
    let (code, out) = run(&[
        "--input",
        "alice:x",
        "--keep-state",
        dir.to_str().unwrap(),
        "--verbose",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("node 0 args: {\"hp_version\":\"0.6.4\""),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "cluster kept in {}: run again with --keep-state {} to continue it",
            dir.display(),
            dir.display()
        )),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("node0/state/count.txt")).unwrap(),
        "1\n"
    );
    assert!(dir.join("node0/patch.cfg").exists());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn help_and_usage_errors() {
    let (code, out) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("--input-json USER:JSON") && out.contains("--keep-state DIR"));
    let (code, out) = run(&["--rounds", "many"]);
    assert_eq!(code, 2);
    assert!(
        out.contains("error: --rounds expects a number, got \"many\""),
        "{out}"
    );
}

#[test]
fn report_shows_an_applied_patch_cfg_change() {
    let args: Vec<String> = [
        "--nodes",
        "2",
        "--input",
        "alice:set consensus.roundtime 2000",
        "--rounds",
        "2",
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect();
    let mut out = Vec::new();
    let code = dev::run(env!("CARGO_BIN_EXE_test-patch").as_ref(), &args, &mut out);
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("    patch.cfg changed: consensus.roundtime 1000 -> 2000"),
        "{out}"
    );
    assert!(
        out.contains("  patch.cfg applied for the next rounds: consensus.roundtime 1000 -> 2000"),
        "{out}"
    );
    // Round 2 steps the clock by the new round time.
    assert!(out.contains("timestamp 1704067203000"), "{out}");
    assert!(
        out.contains("patch.cfg changed by the contract and applied after round [1]"),
        "{out}"
    );
}

#[test]
fn keep_state_continues_the_cluster_across_runs() {
    let dir = std::env::temp_dir().join(format!("hp-sim-dev-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let counter = |extra: &[&str]| {
        let mut args: Vec<String> = ["--input", "alice:4", "--keep-state"]
            .iter()
            .map(|a| (*a).to_owned())
            .collect();
        args.push(dir.display().to_string());
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let mut out = Vec::new();
        let code = dev::run(
            env!("CARGO_BIN_EXE_test-runtime-counter").as_ref(),
            &args,
            &mut out,
        );
        (code, String::from_utf8(out).unwrap())
    };
    let (code, out) = counter(&["--nodes", "3"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("-> alice: 4"), "{out}");
    assert!(!out.contains("continuing"), "{out}");

    // The second run adds to the kept state and continues the lcl and clock.
    let (code, out) = counter(&["--nodes", "3"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!(
            "continuing the cluster kept in {}: 1 round so far, lcl 1-",
            dir.display()
        )),
        "{out}"
    );
    assert!(out.contains("-> alice: 8"), "{out}");
    assert!(out.contains("round 2: consensus, lcl 2-"), "{out}");
    assert!(out.contains("timestamp 1704067202000"), "{out}");

    // Another shape is refused, saying how to start over.
    let (code, out) = counter(&["--nodes", "2"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&format!(
            "error: {} holds a cluster this run cannot continue: it has 3 nodes, not 2.",
            dir.display()
        )),
        "{out}"
    );
    assert!(out.contains("add --fresh"), "{out}");
    let (code, out) = counter(&["--nodes", "3", "--variant", "mode"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("`readonly` variant"), "{out}");

    // --fresh starts over.
    let (code, out) = counter(&["--nodes", "2", "--fresh"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("round 1: consensus, lcl 1-"), "{out}");
    assert!(out.contains("-> alice: 4"), "{out}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn inputs_per_round_full_outputs_and_keys() {
    let long = "y".repeat(300);
    let (code, out) = run(&[
        "--input",
        "alice:first",
        "--in-round",
        "2",
        "--input",
        &format!("bob:{long}"),
        "--verbose",
    ]);
    assert_eq!(code, 0, "{out}");
    let (round1, round2) = out.split_once("round 2:").unwrap();
    assert!(round1.contains("first") && !round1.contains("yyy"), "{out}");
    assert!(round2.contains(&long), "--verbose cuts nothing: {out}");
    assert!(!round2.contains("first"), "{out}");

    let (code, out) = run(&["--keys", "--nodes", "2", "--user", "alice"]);
    assert_eq!(code, 0, "{out}");
    let node0 = hotpocket::sim::KeyPair::node(0).public_key;
    let alice = hotpocket::sim::KeyPair::user("alice").public_key;
    assert!(out.contains(&format!("node 0: {node0}")), "{out}");
    assert!(out.contains(&format!("user alice: {alice}")), "{out}");
    assert!(!out.contains("round"), "--keys runs nothing: {out}");
}
