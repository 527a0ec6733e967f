//! A cluster kept in a directory (`ClusterBuilder::keep_state`) is continued by the
//! next cluster given that directory: state, lcl chain, round numbers, clock
//! and configuration carry on; a different cluster is refused.

use std::path::PathBuf;

use hotpocket::sim::{Cluster, ClusterBuilder, GENESIS_MS, SimError, Variant};

const COUNTER: &str = env!("CARGO_BIN_EXE_test-runtime-counter");

/// A fresh directory for one test, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("hp-sim-keep-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Dir(dir)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn kept(dir: &Dir) -> ClusterBuilder {
    Cluster::builder(COUNTER)
        .nodes(3)
        .user("alice")
        .keep_state(&dir.0)
}

#[test]
fn two_runs_accumulate_state_and_continue_the_lcl() {
    let dir = Dir::new("continue");
    let first = {
        let mut c = kept(&dir).build().unwrap();
        assert_eq!(c.resumed(), None, "nothing to continue yet");
        c.input("alice", "4");
        let r = c.round().unwrap();
        r.assert_agree().assert_outputs("alice", &["4"]);
        r
    };
    assert!(dir.0.join("cluster.json").is_file());

    let mut c = kept(&dir).build().unwrap();
    let resumed = c.resumed().cloned().expect("continues the kept cluster");
    assert_eq!(
        (resumed.rounds, resumed.lcl_seq_no, resumed.timestamp),
        (1, 1, first.timestamp)
    );
    assert_eq!(resumed.lcl_hash, first.lcl_hash);
    assert!(resumed.config_changes.is_empty(), "{resumed:?}");
    assert_eq!(c.lcl(), (1, first.lcl_hash.clone()));
    c.input("alice", "4");
    let second = c.round().unwrap();
    second.assert_agree().assert_outputs("alice", &["8"]);
    assert_eq!(second.number, 2);
    assert_eq!(second.lcl_seq_no, 2);
    assert_eq!(second.timestamp, first.timestamp + 1000);
    c.read("alice", "?")
        .unwrap()
        .assert_outputs("alice", &["total 8"]);

    // Exactly what one cluster running both rounds gives.
    let mut whole = Cluster::builder(COUNTER)
        .nodes(3)
        .user("alice")
        .build()
        .unwrap();
    whole.input("alice", "4");
    whole.round().unwrap();
    whole.input("alice", "4");
    let continuous = whole.round().unwrap();
    assert_eq!(continuous.lcl_hash, second.lcl_hash);
    assert_eq!(continuous.timestamp, second.timestamp);
    assert_eq!(continuous.state_hash(), second.state_hash());
}

#[test]
fn a_different_cluster_is_refused_and_fresh_starts_over() {
    let dir = Dir::new("mismatch");
    let mut c = kept(&dir).build().unwrap();
    c.input("alice", "4");
    c.round().unwrap().assert_agree();
    drop(c);

    let refused = |c: ClusterBuilder| match c.build() {
        Err(SimError::KeptState { dir: d, problem }) => {
            assert_eq!(d, dir.0);
            problem
        }
        other => panic!("expected KeptState, got {other:?}"),
    };
    let problem = refused(kept(&dir).nodes(2));
    assert_eq!(problem, "it has 3 nodes, not 2");
    let problem = refused(kept(&dir).variant(Variant::Mode));
    assert!(problem.contains("`readonly` variant"), "{problem}");
    let problem = refused(kept(&dir).contract_id("11111111-2222-4333-8444-555555555555"));
    assert!(problem.contains("contract id"), "{problem}");
    // The message says what to do.
    let e = kept(&dir).nodes(1).build().unwrap_err().to_string();
    assert!(e.contains("ClusterBuilder::fresh"), "{e}");

    // Nothing was touched: the original cluster still continues.
    let mut c = kept(&dir).build().unwrap();
    c.input("alice", "1");
    c.round().unwrap().assert_outputs("alice", &["5"]);
    drop(c);

    // A fresh start discards it, even with another shape.
    let mut c = Cluster::builder(COUNTER)
        .nodes(2)
        .user("alice")
        .keep_state(&dir.0)
        .fresh()
        .build()
        .unwrap();
    assert_eq!(c.resumed(), None);
    c.input("alice", "1");
    let r = c.round().unwrap();
    r.assert_outputs("alice", &["1"]);
    assert_eq!((r.number, r.lcl_seq_no), (1, 1));
    assert!(!dir.0.join("node2").exists(), "the third node is gone");
    drop(c);
    let c = Cluster::builder(COUNTER)
        .nodes(2)
        .keep_state(&dir.0)
        .build()
        .unwrap();
    assert_eq!(c.resumed().map(|r| r.rounds), Some(1));
}

#[test]
fn configuration_carries_over_with_the_operators_changes() {
    let dir = Dir::new("config");
    let mut c = kept(&dir).env("A", "1").env("B", "1").build().unwrap();
    // The contract changes the round time; the nodes apply it.
    c.input("alice", "roundtime=2000");
    let r = c.round().unwrap();
    assert!(r.config_applied.is_some(), "{r}");
    let after_first = c.round().unwrap().timestamp;
    drop(c);

    // Next run: A changed, B removed, C added (an operator editing hp.cfg).
    let mut c = kept(&dir).env("A", "2").env("C", "1").build().unwrap();
    let resumed = c.resumed().cloned().unwrap();
    let keys: Vec<&str> = resumed
        .config_changes
        .iter()
        .map(|ch| ch.key.as_str())
        .collect();
    assert_eq!(keys, ["environment.A", "environment.B", "environment.C"]);
    let cfg = c.patch_config();
    assert_eq!(cfg.consensus.roundtime, 2000, "the contract's change stays");
    assert_eq!(
        cfg.environment.iter().collect::<Vec<_>>(),
        [
            (&"A".to_owned(), &"2".to_owned()),
            (&"C".to_owned(), &"1".to_owned())
        ]
    );
    // Written to every node's patch.cfg, and the clock steps by 2000.
    let file = std::fs::read_to_string(dir.0.join("node1/patch.cfg")).unwrap();
    assert!(
        file.contains("\"C\": \"1\"") && file.contains("2000"),
        "{file}"
    );
    let r = c.round().unwrap();
    r.assert_agree();
    assert_eq!(r.timestamp, after_first + 2000);
}

#[test]
fn an_unreadable_manifest_is_refused() {
    let dir = Dir::new("corrupt");
    kept(&dir).build().unwrap().round().unwrap();
    std::fs::write(dir.0.join("cluster.json"), "{").unwrap();
    match kept(&dir).build() {
        Err(SimError::KeptState { problem, .. }) => {
            assert!(problem.contains("cluster.json"), "{problem}")
        }
        other => panic!("expected KeptState, got {other:?}"),
    }
}

#[test]
fn a_directory_without_a_manifest_starts_fresh() {
    let dir = Dir::new("plain");
    std::fs::create_dir_all(dir.0.join("node0/state")).unwrap();
    std::fs::write(dir.0.join("node0/state/counter.json"), "{\"total\":41}").unwrap();
    std::fs::write(dir.0.join("notes.txt"), "mine").unwrap();
    let mut c = kept(&dir).build().unwrap();
    c.input("alice", "1");
    let r = c.round().unwrap();
    r.assert_agree().assert_outputs("alice", &["1"]);
    assert_eq!(r.timestamp, GENESIS_MS + 1000);
    assert_eq!(
        std::fs::read_to_string(dir.0.join("notes.txt")).unwrap(),
        "mine"
    );
}
