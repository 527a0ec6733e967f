//! Exploration: `--explore N` and `Cluster::explore` find a perturbation
//! schedule that splits a contract deciding on "whatever NPL arrived before
//! its timeout", and the schedule replays; a contract without NPL survives.

use std::process::Command;

use hotpocket::sim::{Cluster, Schedule, Verdict};

const BIN: &str = env!("CARGO_BIN_EXE_test-hazard-catalogue");

/// The catalogue contract `case` on 3 nodes with two users.
fn builder(case: &str) -> hotpocket::sim::ClusterBuilder {
    Cluster::builder(BIN)
        .nodes(3)
        .user("alice")
        .user("bob")
        .env("HC_CASE", case)
}

/// Dev mode on `case` with the README's cluster and `extra` flags: exit
/// code and stdout.
fn dev(case: &str, extra: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(BIN)
        .env("HC_CASE", case)
        .args(["--dev", "--nodes", "3", "--rounds", "2"])
        .args(["--input", "alice:hello", "--input", "bob:world"])
        .args(["--env", &format!("HC_CASE={case}")])
        .args(extra)
        .output()
        .expect("dev mode runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn line<'a>(stdout: &'a str, prefix: &str) -> &'a str {
    stdout
        .lines()
        .map(str::trim_start)
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line in\n{stdout}"))
}

#[test]
fn dev_mode_explore_prints_a_replay_command_that_splits_again() {
    let (code, stdout) = dev("npl_window", &["--explore", "50"]);
    assert_eq!(code, Some(1), "{stdout}");
    let summary = line(&stdout, "summary:");
    let round: String = summary
        .split("in round ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("the summary names the round")
        .to_owned();
    let replay = line(&stdout, "replay:")
        .trim_start_matches("replay:")
        .trim();
    assert!(replay.contains(" --schedule "), "{replay}");
    assert!(!replay.contains("--explore"), "{replay}");
    let out = Command::new("sh")
        .args(["-c", replay])
        .env("HC_CASE", "npl_window")
        .output()
        .expect("the replay command runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{replay}\n{stdout}");
    let summary = line(&stdout, "summary:");
    let disagreed = summary
        .split("DISAGREE in round [")
        .nth(1)
        .and_then(|r| r.split(']').next())
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(
        disagreed.split(", ").any(|r| r == round),
        "round {round} split under exploration, the replay split {disagreed}"
    );
}

#[test]
fn cluster_explore_finds_a_schedule_that_replays() {
    let found = Cluster::explore(50, || builder("npl_window"), |c| c.rounds(2)).unwrap();
    let split = found.split.expect("a schedule splits npl_window");
    assert!(found.tried <= 50);
    assert_eq!(split.schedule, Schedule::new(split.schedule.seed()));
    let report = split.report().expect("the split round's report");
    assert!(matches!(report.verdict, Verdict::Differ(_)));
    let mut replay = builder("npl_window")
        .schedule(split.schedule)
        .build()
        .unwrap();
    assert_eq!(replay.round_plan(split.round), Some(split.plan.clone()));
    let reports = replay.rounds(2).unwrap();
    let again = reports.iter().find(|r| r.number == split.round).unwrap();
    assert!(
        matches!(again.verdict, Verdict::Differ(_)),
        "{}\n{again}",
        split.plan
    );
}

#[test]
fn a_contract_without_npl_survives_every_schedule() {
    let found = Cluster::explore(3, || builder("control_btreemap"), |c| c.rounds(2)).unwrap();
    assert_eq!(found.tried, 3);
    assert!(found.split.is_none() && found.unstable.is_empty());
    let (code, stdout) = dev("control_btreemap", &["--explore", "2"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains("none of the 2 schedules split the nodes"),
        "{stdout}"
    );
}
