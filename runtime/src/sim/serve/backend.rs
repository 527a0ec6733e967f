//! The simulator's [`Cluster`] as a served cluster's backend, and the public
//! entry point [`serve`].

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::driver::{Backend, Ran, drive};
use super::hash::Hash;
use super::hub::{Hub, HubConfig, NodeRound, RoundInputs, RoundResult};
use super::reply::LedgerId;
use super::server::{Shared, listen};
use crate::sim::{Cluster, KeyPair, RoundReport, SimError, Verdict};

/// How to serve a cluster.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Node `i` listens on `127.0.0.1:port + i`.
    pub port: u16,
    /// A consensus round every this long (the engine's `roundtime`).
    pub round_time: Duration,
}

/// The simulator's hashes (SHA-256, 64 hex characters) as the 32 bytes the
/// protocol carries.
fn bytes32(hex_text: &str) -> Hash {
    hex::decode(hex_text)
        .ok()
        .and_then(|b| Hash::try_from(b).ok())
        .unwrap_or_default()
}

fn key_bytes(k: &str) -> Vec<u8> {
    hex::decode(k).unwrap_or_default()
}

/// A round's report line after `ledger N:`.
fn summary(r: &RoundReport) -> String {
    if let Some(why) = &r.no_ledger {
        return format!("NO LEDGER (no contract ran, the inputs wait): {why}");
    }
    let verdict = match &r.verdict {
        Verdict::Agree => format!("all {} nodes agree", r.nodes.len()),
        Verdict::Differ(d) => format!("DISAGREE: node {} differs", d.node),
    };
    let hazards = r.hazards();
    let mut line = format!("{verdict}, {} hazards", hazards.len());
    for (node, h) in hazards.iter().take(3) {
        line += &format!("; node {node}: {h}");
    }
    line
}

impl Backend for Cluster {
    fn round(&mut self, inputs: &RoundInputs) -> Result<Ran, String> {
        let keys: Vec<String> = inputs.iter().map(|(k, _)| k.clone()).collect();
        self.set_user_keys(&keys);
        for (user, list) in inputs {
            for data in list {
                self.input(user, data);
            }
        }
        let r = Cluster::round(self).map_err(|e| e.to_string())?;
        let nodes = r
            .nodes
            .iter()
            .map(|n| NodeRound {
                outputs: n
                    .outputs
                    .iter()
                    .filter(|u| !u.messages.is_empty())
                    .map(|u| (key_bytes(&u.public_key), u.messages.clone()))
                    .collect(),
                state_hash: n
                    .state
                    .as_ref()
                    .map(|s| bytes32(&s.hash))
                    .unwrap_or_default(),
            })
            .collect();
        Ok(Ran {
            result: RoundResult {
                ledger: LedgerId {
                    seq_no: r.lcl_seq_no,
                    hash: bytes32(&r.lcl_hash),
                },
                timestamp: r.timestamp,
                nodes,
                unl: r
                    .config_applied
                    .as_ref()
                    .map(|u| u.config.unl.iter().map(|k| key_bytes(k)).collect()),
            },
            summary: summary(&r),
        })
    }

    fn read(&mut self, node: usize, user: &str, content: &[u8]) -> Result<Vec<Vec<u8>>, String> {
        let r = Cluster::read(self, user, content).map_err(|e| e.to_string())?;
        // The engine runs a read request on the node the user is connected
        // to, and only there; the simulator answers with that node's run.
        let n = r.nodes.get(node).ok_or_else(|| format!("no node {node}"))?;
        Ok(n.outputs
            .iter()
            .filter(|u| u.public_key == user)
            .flat_map(|u| u.messages.clone())
            .collect())
    }
}

/// Serves `cluster` to real HotPocket clients until `stop` is set: node `i`
/// on `ws://127.0.0.1:PORT+i`, a consensus round every round time, one line
/// per round (quiet rounds summarised) to `log`.
pub fn serve(
    mut cluster: Cluster,
    nodes: usize,
    opts: &ServeOptions,
    stop: Arc<AtomicBool>,
    log: Arc<dyn Fn(&str) + Send + Sync>,
) -> Result<(), SimError> {
    // The contract's own lcl after a kept state run continues from there.
    let resumed = cluster.resumed().is_some();
    let cfg = HubConfig {
        contract_id: cluster.current_contract_id().to_owned(),
        contract_version: cluster.patch_config().version.clone(),
        round_time_ms: u64::try_from(opts.round_time.as_millis()).unwrap_or(u64::MAX),
        nodes: (0..nodes).map(KeyPair::node).collect(),
    };
    let mut hub = Hub::new(cfg);
    // A kept state may carry a UNL changed in an earlier run (before the
    // first round the configuration's UNL is still empty: every node).
    let unl: Vec<Vec<u8>> = cluster
        .patch_config()
        .unl
        .iter()
        .map(|k| key_bytes(k))
        .collect();
    if !unl.is_empty() {
        hub.change_unl(&unl);
    }
    if resumed {
        let (seq_no, hash) = cluster.lcl();
        hub.resume_at(LedgerId {
            seq_no,
            hash: bytes32(&hash),
        });
    }
    let sink = Arc::clone(&log);
    let shared = Shared::new(hub, Box::new(move |l| sink(l)), stop);
    let mut listeners = Vec::new();
    for i in 0..nodes {
        let port = opts
            .port
            .checked_add(u16::try_from(i).unwrap_or(u16::MAX))
            .ok_or_else(|| SimError::Usage(format!("port {} + {i} is past 65535", opts.port)))?;
        let l = listen(Arc::clone(&shared), i, port)
            .map_err(|e| SimError::Usage(format!("cannot listen on 127.0.0.1:{port}: {e}")))?;
        listeners.push(l);
        log(&format!(
            "node {i}: ws://127.0.0.1:{port} ({})",
            KeyPair::node(i).public_key
        ));
    }
    drive(&shared, &mut cluster, opts.round_time, &|l| log(l));
    for l in listeners {
        let _ = l.join();
    }
    Ok(())
}

/// Set by the SIGINT handler.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: nix::libc::c_int) {
    INTERRUPTED.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Dev mode's `--serve`: [`serve`] until Ctrl-C, log lines on stderr.
pub(crate) fn serve_until_interrupted(
    cluster: Cluster,
    nodes: usize,
    port: u16,
    roundtime_ms: u64,
) -> Result<(), SimError> {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let action = SigAction::new(
        SigHandler::Handler(on_sigint),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe { sigaction(Signal::SIGINT, &action) }
        .map_err(|e| SimError::Usage(format!("cannot handle Ctrl-C: {e}")))?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    std::thread::spawn(move || {
        while !INTERRUPTED.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
        }
        flag.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let opts = ServeOptions {
        port,
        round_time: Duration::from_millis(roundtime_ms),
    };
    let log: Arc<dyn Fn(&str) + Send + Sync> = Arc::new(|l: &str| eprintln!("{l}"));
    let result = serve(cluster, nodes, &opts, stop, Arc::clone(&log));
    log("stopped");
    result
}
