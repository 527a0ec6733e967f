//! Each simulated node on a host of its own, and the "not varied" list when
//! the machine (or the test) does not allow a variation.

use hotpocket::sim::{Cluster, ClusterBuilder, RoundReport};

const BIN: &str = env!("CARGO_BIN_EXE_test-hazard-catalogue");

/// A 3-node cluster running catalogue case `case`.
fn cluster(case: &str) -> ClusterBuilder {
    Cluster::builder(BIN)
        .nodes(3)
        .user("alice")
        .env("HC_CASE", case)
}

/// What each node sent alice in `r`, node by node.
fn outputs(r: &RoundReport) -> Vec<String> {
    r.nodes
        .iter()
        .map(|n| {
            let o = n.outputs.iter().find(|u| u.user == "alice");
            o.and_then(|u| u.messages.first())
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn hosts_differ_by_default_and_stay_alike_when_asked() {
    for case in ["hostname", "boot_id", "cpu_count", "argv0", "dir_order"] {
        let r = cluster(case).build().unwrap().round().unwrap();
        r.assert_disagree();
        let r = cluster(case)
            .alike_hosts()
            .build()
            .unwrap()
            .round()
            .unwrap();
        let got = outputs(&r);
        // argv0 and dir_order: the one binary, one file system.
        assert!(got.windows(2).all(|w| w[0] == w[1]), "{case}: {got:?}\n{r}");
    }
}

#[test]
fn without_namespaces_the_host_name_stays_alike_and_the_report_says_so() {
    let mut c = cluster("hostname").without_namespaces().build().unwrap();
    let r = c.round().unwrap();
    let got = outputs(&r);
    assert!(got.windows(2).all(|w| w[0] == w[1]), "{got:?}\n{r}");
    let lines: Vec<String> = c.not_varied().iter().map(ToString::to_string).collect();
    let host = lines
        .iter()
        .filter(|l| l.starts_with("not varied: the host name and boot id (because "))
        .count();
    assert_eq!(host, 1, "{lines:#?}");
    let clocks = "not varied: the monotonic and boot-time clocks";
    assert!(lines.iter().any(|l| l.starts_with(clocks)), "{lines:#?}");
    // The other variations still apply.
    cluster("cpu_count")
        .without_namespaces()
        .build()
        .unwrap()
        .round()
        .unwrap()
        .assert_disagree();
}

#[test]
fn dev_mode_prints_what_it_left_alike_once() {
    let out = std::process::Command::new(BIN)
        .env("HC_CASE", "control_btreemap")
        .args(["--dev", "--nodes", "3", "--rounds", "3"])
        .args(["--input", "alice:x", "--env", "HC_CASE=control_btreemap"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let memory = stdout
        .lines()
        .filter(|l| l.starts_with("not varied: free memory"))
        .count();
    assert_eq!(memory, 1, "{stdout}");
    // Dev mode straddles a second, so that line is absent.
    assert!(!stdout.contains("seconds resolution"), "{stdout}");
    assert_eq!(out.status.code(), Some(0), "{stdout}");
}
