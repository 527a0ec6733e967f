//! Fidelity against code we did not write: the official HotPocket Node
//! contract library (npm `hotpocket-nodejs-contract` 0.7.4 and 0.5.10) runs an
//! echo contract under the simulator, on one and three nodes, with NPL and
//! read requests. The test installs the packages itself (`npm ci` into
//! tests/node/node_modules) when they are missing, so a fresh clone runs it;
//! node and npm must be installed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use hotpocket::sim::{Cluster, ClusterBuilder, Exit, HazardKind, Variant};

fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node")
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The `node` binary, after making sure both library versions are installed.
fn node() -> &'static Path {
    static NODE: OnceLock<PathBuf> = OnceLock::new();
    NODE.get_or_init(|| {
        let node = find_in_path("node")
            .expect("the Node fidelity tests need `node` on PATH (apt-get install nodejs)");
        let dir = node_dir();
        let installed = ["hpc074", "hpc0510"]
            .iter()
            .all(|m| dir.join("node_modules").join(m).join("index.js").is_file());
        if !installed {
            let npm = find_in_path("npm")
                .expect("the Node fidelity tests need `npm` on PATH (apt-get install npm)");
            let out = Command::new(npm)
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .output()
                .expect("running npm ci");
            assert!(
                out.status.success(),
                "npm ci in {} failed:\n{}{}",
                dir.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        node
    })
}

fn cluster(lib: &str, nodes: usize) -> ClusterBuilder {
    let script = node_dir().join("echo.js");
    Cluster::builder(node())
        .bin_args(script.to_str().expect("UTF-8 path"))
        .nodes(nodes)
        .user("alice")
        .user("bob")
        .env("HP_LIB", lib)
        // Waits end with the last expected NPL message; these limits are
        // only there in case one never comes.
        .env("NPL_TIMEOUT_MS", "60000")
        .exec_timeout(60_000)
}

fn senders(c: &Cluster, nodes: usize) -> String {
    let mut s: Vec<String> = (0..nodes)
        .map(|i| {
            let pk = c.node_keys(i).public_key;
            format!("{}=hi-{}", &pk[..10], &pk[2..8])
        })
        .collect();
    s.sort();
    format!("npl:{}", s.join(","))
}

#[test]
fn v074_one_node_consensus_and_read_request() {
    let mut c = cluster("hpc074", 1).env("ECHO_META", "1").build().unwrap();
    c.input("alice", b"hi")
        .input("bob", b"yo")
        .input("alice", b"again");
    let r = c.round().unwrap();
    r.assert_success().assert_no_hazards();
    let meta = "meta:readonly=false seq=1 ts=1704067201000 unl=1 users=2";
    r.assert_outputs("alice", &[meta, "echo:hi", "echo:again"])
        .assert_outputs("bob", &[meta, "echo:yo"]);
    assert_eq!(
        std::fs::read_to_string(c.state_dir(0).join("count.txt")).unwrap(),
        "3\n"
    );

    let r = c.read("bob", b"question").unwrap();
    r.assert_success().assert_no_hazards();
    // The library hides the UNL in read-only mode and has no lcl there.
    r.assert_outputs(
        "bob",
        &[
            "meta:readonly=true seq=undefined ts=0 unl=0 users=1",
            "echo:question",
        ],
    );
    assert!(r.node(0).outputs_to("alice").is_empty());
}

#[test]
fn v074_three_nodes_npl_exchange_with_force_terminate() {
    let mut c = cluster("hpc074", 3)
        .env("NPL_EXCHANGE", "1")
        .env("FORCE_TERMINATE", "1")
        .build()
        .unwrap();
    c.input("alice", b"x");
    let r = c.round().unwrap();
    r.assert_agree();
    r.assert_outputs("alice", &["echo:x", &senders(&c, 3)])
        .assert_outputs("bob", &[&senders(&c, 3)]);
    // forceTerminate ends the process with SIGINT: the engine would skip post_exec.sh.
    for n in &r.nodes {
        assert_eq!(n.exit, Exit::Signal(2), "node {}", n.index);
        assert!(n.has_hazard(HazardKind::KilledBySignal));
        assert_eq!(n.npl_received.len(), 3);
    }
    c.read("alice", b"r")
        .unwrap()
        .assert_agree()
        .assert_outputs("alice", &["echo:r"]);
}

#[test]
fn v074_npl_without_force_terminate_never_exits() {
    // The engine never ends the NPL stream (guide::protocol, "NPL socket"):
    // the read stays blocked and the engine kills at exec_timeout.
    // The contract writes its output before it blocks, which on a loaded
    // machine (node starting slowly) can take longer than a short limit: the
    // limit doubles until the output made it before the kill.
    let mut limit = 1500;
    let (c, r) = loop {
        let mut c = cluster("hpc074", 1)
            .env("NPL_EXCHANGE", "1")
            .exec_timeout(limit)
            .build()
            .unwrap();
        let r = c.round().unwrap();
        if !r.node(0).outputs_to("alice").is_empty() || limit >= 48_000 {
            break (c, r);
        }
        limit *= 2;
    };
    r.assert_hazard(HazardKind::Timeout);
    assert_eq!(r.node(0).exit, Exit::Signal(9));
    // Its outputs were written before the kill and still count.
    r.assert_outputs("alice", &[&senders(&c, 1)]);
}

#[test]
fn v0510_always_self_sigints() {
    let mut c = cluster("hpc0510", 1).env("ECHO_META", "1").build().unwrap();
    c.input("alice", b"hi");
    let r = c.round().unwrap();
    assert_eq!(r.node(0).exit, Exit::Signal(2));
    r.assert_hazard(HazardKind::KilledBySignal);
    r.assert_outputs(
        "alice",
        &[
            "meta:readonly=false seq=1 ts=1704067201000 unl=1 users=2",
            "echo:hi",
        ],
    );
    let r = c.read("alice", b"q").unwrap();
    r.assert_outputs(
        "alice",
        &[
            "meta:readonly=true seq=undefined ts=0 unl=0 users=1",
            "echo:q",
        ],
    );
}

#[test]
fn v0510_three_nodes_npl_exchange() {
    let mut c = cluster("hpc0510", 3)
        .env("NPL_EXCHANGE", "1")
        .build()
        .unwrap();
    c.input("bob", b"b");
    let r = c.round().unwrap();
    r.assert_agree()
        .assert_outputs("bob", &["echo:b", &senders(&c, 3)]);
    // A second round: state persisted on every node.
    c.input("alice", b"a");
    c.round().unwrap().assert_agree();
    assert_eq!(
        std::fs::read_to_string(c.state_dir(2).join("count.txt")).unwrap(),
        "2\n"
    );
}

#[test]
fn published_library_does_not_speak_the_mode_variant() {
    // guide::protocol, "Round arguments": under fallback-hpsh, `readonly` is
    // absent, so the published library cannot tell a read request from a consensus round.
    let mut c = cluster("hpc074", 1)
        .variant(Variant::Mode)
        .env("ECHO_META", "1")
        .build()
        .unwrap();
    let r = c.read("alice", b"q").unwrap();
    r.assert_outputs(
        "alice",
        &[
            "meta:readonly=undefined seq=undefined ts=0 unl=1 users=1",
            "echo:q",
        ],
    );
    // So it writes its state in a read request, which the engine refuses.
    r.assert_hazard(HazardKind::ReadOnlyWrite);
}
