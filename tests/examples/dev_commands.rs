//! Every example's doc comment gives a dev-mode command; this runs each one
//! as written (the shell expands it, dev mode runs in-process on the built
//! example) and checks that it works and that the nodes agree, except where
//! the doc says they will not.

use std::path::Path;
use std::process::Command;

use hotpocket::sim::dev;

use crate::cargo_example;

/// The `cargo run --example <name> -- ...` commands in the example's doc
/// comment, each as the argument list the shell would pass to the binary.
fn doc_commands(name: &str) -> Vec<Vec<String>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("examples/{name}.rs"));
    let source = std::fs::read_to_string(&path).unwrap();
    let mut script = String::new();
    let mut in_block = false;
    for line in source.lines() {
        let Some(doc) = line.strip_prefix("//!") else {
            continue;
        };
        let doc = doc.strip_prefix(' ').unwrap_or(doc);
        match (in_block, doc.trim()) {
            (false, "```sh") => in_block = true,
            (true, "```") => in_block = false,
            (true, _) => {
                script.push_str(doc);
                script.push('\n');
            }
            _ => {}
        }
    }
    let cargo = format!("cargo run --example {name} --");
    assert!(
        script.contains(&cargo),
        "{name}: no `{cargo}` in the doc comment"
    );
    // Let the shell do the quoting and variables; print each argument list
    // NUL-separated, ending in a record separator.
    let script = format!(
        "args() {{ printf '%s\\0' \"$@\"; printf '\\036'; }}\n{}",
        script.replace(&cargo, "args")
    );
    let out = Command::new("sh").arg("-c").arg(&script).output().unwrap();
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .split('\u{1e}')
        .filter(|record| !record.is_empty())
        .map(|record| {
            record
                .split('\0')
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

/// Runs the example's documented commands; returns each one's exit code and
/// report.
fn run(name: &str) -> Vec<(i32, String)> {
    let bin = cargo_example(name).unwrap();
    doc_commands(name)
        .into_iter()
        .map(|args| {
            assert_eq!(args.first().map(String::as_str), Some("--dev"), "{name}");
            let mut out = Vec::new();
            let code = dev::run(&bin, &args, &mut out);
            (code, String::from_utf8(out).unwrap())
        })
        .collect()
}

fn assert_agree(name: &str, (code, report): &(i32, String)) {
    assert_eq!(*code, 0, "{name}:\n{report}");
    assert!(
        report.contains("; all nodes agree; 0 hazards;"),
        "{name}:\n{report}"
    );
}

#[test]
fn echo() {
    let runs = run("echo");
    assert_eq!(runs.len(), 1);
    assert_agree("echo", &runs[0]);
    assert!(
        runs[0].1.contains(r#"-> alice: "echo: hello""#),
        "{}",
        runs[0].1
    );
}

#[test]
fn counter() {
    let runs = run("counter");
    assert_eq!(runs.len(), 1);
    assert_agree("counter", &runs[0]);
    assert!(
        runs[0].1.contains(r#"-> alice: {"value":3,"changes":2}"#),
        "{}",
        runs[0].1
    );
}

#[test]
fn ledger() {
    let runs = run("ledger");
    assert_eq!(runs.len(), 1);
    let report = &runs[0].1;
    assert_agree("ledger", &runs[0]);
    for expected in [
        r#"-> alice: {"error":{"kind":"not_a_minter"}}"#,
        r#""amount":30,"balance":70}}"#,
        r#"-> zed: {"error":{"kind":"negative_amount","amount":-1}}"#,
        r#""balance":30}}"#,
    ] {
        assert!(report.contains(expected), "{expected}\n{report}");
    }
}

#[test]
fn npl_vote() {
    let runs = run("npl_vote");
    assert_eq!(runs.len(), 4);
    assert_agree("npl_vote", &runs[0]);
    // A late node (2 of 3 at 100 ms, 4 of 5 at 300 ms) still gets every
    // proposal (the re-sends): all decide in each of the 3 rounds.
    for late in &runs[1..3] {
        assert_agree("npl_vote", late);
        assert!(!late.1.contains(r#""value":null"#), "{}", late.1);
        assert_eq!(
            late.1.matches(r#"-> alice: {"ledger":"#).count(),
            3,
            "{}",
            late.1
        );
    }
    // With every message to node 2 dropped, node 2 records no decision.
    let (code, report) = &runs[3];
    assert_eq!(*code, 1, "{report}");
    assert!(
        report.contains("DISAGREE: node 2 differs from node 0"),
        "{report}"
    );
    assert!(report.contains(r#"\"value\":null}"#), "{report}");
}

#[test]
fn lottery() {
    let runs = run("lottery");
    assert_eq!(runs.len(), 1);
    let report = &runs[0].1;
    // Node 2 starts late; every node still draws, and the same.
    assert_agree("lottery", &runs[0]);
    assert!(
        report.contains(r#"-> alice: {"Won":{"ledger":1,"number":""#),
        "{report}"
    );
}

#[test]
fn admin() {
    let runs = run("admin");
    assert_eq!(runs.len(), 1);
    let report = &runs[0].1;
    assert_agree("admin", &runs[0]);
    for expected in [
        "patch.cfg applied for the next rounds: consensus.roundtime 1000 -> 2000",
        "round 2: consensus, lcl 1-",
        "NO LEDGER: no contract ran, the inputs wait for the next round: Not enough stage 3 proposals",
        "round 3: consensus, lcl 2-",
        "timestamp 1704067205000",
        r#"control: peer changeset add ["10.0.0.5:22861"] remove []"#,
        r#"-> bob: {"error":{"kind":"not_authorised"}}"#,
    ] {
        assert!(report.contains(expected), "{expected}\n{report}");
    }
}

#[test]
fn fallback() {
    let runs = run("fallback");
    assert_eq!(runs.len(), 1);
    let report = &runs[0].1;
    assert_agree("fallback", &runs[0]);
    assert!(report.contains("round 2: consensus fallback"), "{report}");
    assert!(
        report.contains("patch.cfg applied for the next rounds: unl"),
        "{report}"
    );
}

#[test]
fn post_exec() {
    let runs = run("post_exec");
    assert_eq!(runs.len(), 1);
    let report = &runs[0].1;
    assert_agree("post_exec", &runs[0]);
    // All nodes agree, so each round's post_exec.sh result is shown once:
    // kept after rounds 1 and 2, deleted after round 3.
    assert_eq!(
        report.matches("post_exec.sh: exit 3 -> Kept").count(),
        2,
        "{report}"
    );
    assert_eq!(
        report.matches("post_exec.sh: exit 0 -> Deleted").count(),
        1,
        "{report}"
    );
    assert!(
        report.contains(r#"{"version":{"current":"1.1","pending":null}}"#),
        "{report}"
    );
}
