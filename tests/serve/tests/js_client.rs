//! The official JS client (`hotpocket-js-client` 0.5.7, installed from
//! tests/node's lockfile) against clusters served by `hotpocket::sim::serve`:
//! the counter example on 3 nodes (JSON and BSON, every node, inputs,
//! outputs, reads, status, lcl, ledger events and queries); the echo test
//! contract, whose string outputs the client verifies in JSON mode too, with
//! 50 clients × 20 inputs at once; the admin example changing the UNL
//! under subscribed clients; and a client sending each kind of bad message
//! while a good client carries on.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use hotpocket::sim::serve::{ServeOptions, serve};
use hotpocket::sim::{Cluster, KeyPair, cargo_bin, cargo_example};

fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../node")
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// `node`, after `npm ci` in tests/node if the client is not installed.
fn node() -> &'static Path {
    static NODE: OnceLock<PathBuf> = OnceLock::new();
    NODE.get_or_init(|| {
        let node = find_in_path("node").expect("these tests need `node` on PATH");
        let dir = node_dir();
        if !dir
            .join("node_modules/hotpocket-js-client/index.js")
            .is_file()
        {
            let npm = find_in_path("npm").expect("these tests need `npm` on PATH");
            let out = Command::new(npm)
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .output()
                .expect("running npm ci");
            assert!(
                out.status.success(),
                "npm ci failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        node
    })
}

/// A served cluster on three free consecutive ports, stopped on drop.
struct Served {
    base: u16,
    nodes: usize,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

fn free_base(nodes: usize) -> u16 {
    for _ in 0..50 {
        let first = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = first.local_addr().unwrap().port();
        drop(first);
        let all = (0..nodes).all(|i| {
            u16::try_from(i)
                .ok()
                .and_then(|i| base.checked_add(i))
                .is_some_and(|p| TcpListener::bind(("127.0.0.1", p)).is_ok())
        });
        if all {
            return base;
        }
    }
    panic!("no free ports");
}

impl Served {
    fn start(bin: PathBuf, nodes: usize, round_ms: u64) -> Served {
        Served::start_with(bin, nodes, round_ms, &[])
    }

    /// [`start`](Self::start) with these environment variables for the contract.
    fn start_with(bin: PathBuf, nodes: usize, round_ms: u64, env: &[(&str, &str)]) -> Served {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let base = free_base(nodes);
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (s, l) = (Arc::clone(&stop), Arc::clone(&log));
        let thread = thread::spawn(move || {
            let builder = env
                .iter()
                .fold(Cluster::builder(bin).nodes(nodes), |b, (k, v)| b.env(k, v));
            let cluster = builder.build().unwrap();
            let opts = ServeOptions {
                port: base,
                round_time: Duration::from_millis(round_ms),
            };
            let sink: Arc<dyn Fn(&str) + Send + Sync> =
                Arc::new(move |line: &str| l.lock().unwrap().push(line.to_owned()));
            serve(cluster, nodes, &opts, s, sink).unwrap();
        });
        // Listening starts after the cluster's first set-up.
        for _ in 0..500 {
            if log.lock().unwrap().len() >= nodes {
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        Served {
            base,
            nodes,
            stop,
            log,
            thread: Some(thread),
        }
    }

    fn unl(&self) -> String {
        (0..self.nodes)
            .map(|i| KeyPair::node(i).public_key)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Runs a script in tests/node with the cluster's port, size and UNL.
    fn script(&self, name: &str, extra: &[&str]) -> String {
        let out = Command::new(node())
            .arg(node_dir().join(name))
            .args([self.base.to_string(), self.nodes.to_string(), self.unl()])
            .args(extra)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "{name} failed:\n{text}\n--- cluster log ---\n{}",
            self.log.lock().unwrap().join("\n")
        );
        text
    }

    fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn the_js_client_uses_every_node_of_a_served_counter_in_json_and_bson() {
    let served = Served::start(cargo_example("counter").unwrap(), 3, 300);
    let out = served.script("serve_client.js", &[]);
    println!("{out}");
    assert!(out.ends_with("ok\n"), "{out}");
    let log = served.log_lines();
    assert!(
        log.iter().any(|l| l.contains("all 3 nodes agree")),
        "{log:?}"
    );
    assert!(!log.iter().any(|l| l.contains("DISAGREE")), "{log:?}");
}

#[test]
fn fifty_clients_with_twenty_inputs_each_get_verified_outputs_in_nonce_order() {
    let served = Served::start(cargo_bin("test-echo").unwrap(), 3, 1000);
    let out = served.script("serve_echo.js", &["50", "20"]);
    println!("{out}");
    let log = served.log_lines();
    let busy: Vec<&String> = log.iter().filter(|l| l.starts_with("ledger ")).collect();
    println!(
        "round lines:\n{}",
        busy.iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(out.contains("ok: 50 clients x 20 inputs"), "{out}");
    assert!(
        busy.iter().all(|l| l.contains("all 3 nodes agree")),
        "{log:?}"
    );
}

#[test]
fn a_unl_change_reaches_subscribed_clients_and_later_outputs_still_verify() {
    let admin = KeyPair::user("admin");
    let served = Served::start_with(
        cargo_example("admin").unwrap(),
        3,
        300,
        &[("ADMINS", admin.public_key.as_str())],
    );
    let out = served.script("serve_unl.js", &[&admin.private_key]);
    println!("{out}");
    assert!(out.ends_with("ok\n"), "{out}");
    let log = served.log_lines();
    assert!(
        log.iter().any(|l| l.starts_with("UNL changed: ")),
        "{log:?}"
    );
    assert!(!log.iter().any(|l| l.contains("DISAGREE")), "{log:?}");
}

#[test]
fn bad_clients_get_the_engines_replies_or_are_dropped_and_the_good_client_carries_on() {
    let served = Served::start(cargo_example("counter").unwrap(), 3, 300);
    let out = served.script("serve_bad.js", &[]);
    println!("{out}");
    assert!(out.ends_with("ok\n"), "{out}");
    let log = served.log_lines().join("\n");
    for line in [
        "handshake refused, closed: challenge signature",
        "bad message: bad_msg_format",
        "input rejected: max_ledger_expired",
        "input rejected at consensus: bad_sig",
        "session closed:",
    ] {
        assert!(log.contains(line), "no {line:?} in the log:\n{log}");
    }
}
