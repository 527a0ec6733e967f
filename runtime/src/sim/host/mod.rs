//! One contract execution on one node, done the way hpcore's `sc.cpp` does it.
//!
//! Set-up: one SOCK_STREAM socketpair per user, SOCK_SEQPACKET pairs for
//! control and NPL (no NPL in read requests), a duplicate of the node's input
//! memfd (fd 0 in fallback rounds), the args JSON on a stdin pipe, only the
//! configured environment, `bin_path` (relative to the state directory) with
//! `bin_args` split on spaces, the state directory as working directory, and
//! the configured rlimits.
//!
//! The monitor loop mirrors `contract_monitor_loop`: poll (20 ms, or 0 right
//! after traffic), read at most one control packet, one NPL packet and one
//! 128 KiB chunk per user per pass, write at most one incoming NPL message
//! (two packets: sender key, then data) while the contract runs, stop once the
//! contract has exited and a pass reads nothing, SIGKILL on timeout. Output
//! limits close the host's end of the socket, as the engine does.
//!
//! Deliberate differences, all in the simulator's favour and none visible to
//! the contract: host fds are non-blocking (a full NPL socket delays the
//! message instead of blocking the loop), fds at EOF leave the poll set (the
//! engine spins on them), stdout/stderr are captured for the report, and a
//! wake-up socket replaces the engine's 20 ms polling for NPL arrivals.

mod control;
mod isolate;
mod monitor;
mod post_exec;
mod rules;
mod spawn;
mod sys;

use std::io;
use std::os::fd::{OwnedFd, RawFd};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::libc;

use super::config::Variant;
use super::npl::NplHub;
use super::report::{Exit, Hazard, Mode, NodeReport, Usage};
use crate::config::PatchConfig;
pub(crate) use isolate::{Namespaces, NodeHost, Support, own_cpus, support};
use monitor::{Monitor, Observed};
pub(crate) use post_exec::run_post_exec;
use rules::Budget;
use spawn::Fds;

/// A pipe's default capacity on Linux: args JSON beyond it deadlocks the engine.
pub(crate) const PIPE_CAPACITY: usize = 64 * 1024;

/// A user taking part in the execution, with input offsets into the memfd.
pub(crate) struct RunUser {
    pub(crate) name: String,
    pub(crate) public_key: String,
    pub(crate) inputs: Vec<(u64, u64)>,
}

/// A UNL entry as handed to the contract.
pub(crate) struct RunUnl {
    pub(crate) public_key: String,
    pub(crate) active_on: u64,
    pub(crate) lcl_seq_no: u64,
    pub(crate) lcl_hash: String,
}

/// Rewrites the args JSON of one node before it is written (malformed-argument tests).
pub type ArgsMap = dyn Fn(usize, &str) -> String + Send + Sync;

/// Everything one execution needs, shared by all nodes of a round.
pub(crate) struct ExecSpec<'a> {
    /// The configuration in force: `bin_path`, `bin_args`, `environment`,
    /// `round_limits` and (fallback time limit) `consensus.roundtime` apply.
    pub(crate) config: &'a PatchConfig,
    pub(crate) variant: Variant,
    pub(crate) kind: Mode,
    pub(crate) contract_id: &'a str,
    pub(crate) timestamp: u64,
    pub(crate) lcl_seq_no: u64,
    pub(crate) lcl_hash: &'a str,
    pub(crate) non_consensus_rounds: u64,
    pub(crate) users: &'a [RunUser],
    pub(crate) unl: &'a [RunUnl],
    pub(crate) map_args: Option<&'a ArgsMap>,
    pub(crate) leak_files: &'a [PathBuf],
    /// Stdin is a memfd holding the whole args JSON instead of a pipe
    /// (`ClusterBuilder::args_via_file`).
    pub(crate) args_via_file: bool,
    /// The cluster's own binary as `bin_path` names it: where the
    /// configuration names it, each node runs its own copy instead.
    pub(crate) cluster_bin: Option<&'a str>,
}

/// The node-specific part of one execution.
pub(crate) struct NodeExec<'a> {
    pub(crate) index: usize,
    pub(crate) public_key: &'a str,
    pub(crate) private_key: &'a str,
    pub(crate) observer: bool,
    pub(crate) workdir: PathBuf,
    /// The input store memfd (`None` in fallback rounds, where `user_in_fd` is 0).
    pub(crate) inputs: Option<&'a OwnedFd>,
    pub(crate) start_delay: Duration,
    /// How much later than the others this node's engine forks the
    /// contract, NPL messages queueing meanwhile (the skew of real nodes'
    /// start times, unlike `start_delay`, which loses them).
    pub(crate) skew: Duration,
    /// How this node's host differs from the others'.
    pub(crate) host: &'a NodeHost,
    /// The execution's time limit in ms (0: none): `exec_timeout`, or in a
    /// fallback round what the cluster computed is left of this node's round.
    pub(crate) timeout_ms: u64,
    /// Start only once the other nodes sent this many NPL packets (before
    /// `start_delay`).
    pub(crate) start_after_npl: Option<usize>,
    /// NPL routing and this node's wake-up socket (absent in read requests).
    pub(crate) npl: Option<(&'a NplHub, UnixDatagram)>,
}

/// Marks node `.1` as ended in the NPL hub when dropped.
struct EndedOnDrop<'a>(Option<&'a NplHub>, usize);

impl Drop for EndedOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(hub) = self.0 {
            hub.set_running(self.1, false);
        }
    }
}

/// Runs the contract once on one node and reports what it did. Errors are
/// the simulator's own (fds, files), never the contract's.
pub(crate) fn execute(spec: &ExecSpec<'_>, node: NodeExec<'_>) -> io::Result<NodeReport> {
    // However this returns (an error, a panic), the node counts as ended, so
    // that nodes held back by `start_after_npl` never wait for it forever.
    let _ended = EndedOnDrop(node.npl.as_ref().map(|(hub, _)| *hub), node.index);
    if let (Some(messages), Some((hub, _))) = (node.start_after_npl, &node.npl) {
        hub.wait_for_sent(node.index, messages);
    }
    if !node.start_delay.is_zero() {
        std::thread::sleep(node.start_delay);
    }
    let mut fds = Fds::open(spec, &node)?;
    let (args_json, args_hazard) = spawn::args_json(spec, &node, &fds);
    let hazards: Vec<Hazard> = args_hazard.into_iter().collect();
    let mut cmd = spawn::command(spec, &node, &fds, &args_json)?;
    let bin = spawn::node_bin(spec, &node);
    let who = (node.index, node.public_key, node.observer);
    let (hub, wake) = match node.npl {
        Some((hub, wake)) => (Some(hub), Some(wake)),
        None => (None, None),
    };
    // The engine's execution context (which accepts NPL) exists from just
    // before the fork; messages arriving now are queued for the contract.
    if let Some(hub) = hub {
        hub.set_running(node.index, true);
    }
    // The skew delays the fork, not the execution context: what arrives
    // meanwhile waits for the contract (losing it is `start_delay`'s job).
    if !node.skew.is_zero() {
        std::thread::sleep(node.skew);
    }
    let spawned_at = Instant::now();
    let leaked_fds = std::mem::take(&mut fds.leaked_fds);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            if let Some(hub) = hub {
                hub.set_running(node.index, false);
            }
            return Ok(NodeReport {
                stderr: format!("simulator: cannot start {}: {e}", bin.display()).into_bytes(),
                ..blank_report(who, Exit::NotStarted, hazards, args_json, leaked_fds)
            });
        }
    };
    // The contract's ends now live in the child only.
    drop(std::mem::take(&mut fds.contract));
    // A pid always fits pid_t; refusing beats wait4(0), which would reap any child.
    let pid =
        libc::pid_t::try_from(child.id()).map_err(|_| io::Error::other("pid out of range"))?;
    let pidfd = spawn::pidfd(pid);
    spawn::write_args(&mut child, &args_json);
    let pipe = |p: Option<OwnedFd>| p.map(std::fs::File::from);
    let mut monitor = Monitor {
        index: node.index,
        observer: node.observer,
        hub,
        wake,
        pid,
        pidfd,
        timeout_ms: node.timeout_ms,
        users: fds.users,
        user_output_bytes: spec.config.round_limits.user_output_bytes,
        control_hp: Some(fds.control_hp),
        npl_hp: fds.npl_hp,
        npl_budget: Budget::new(spec.config.round_limits.npl_output_bytes),
        stdout_pipe: pipe(child.stdout.take().map(OwnedFd::from)),
        stderr_pipe: pipe(child.stderr.take().map(OwnedFd::from)),
        hazards,
        observed: Observed::default(),
    };
    monitor.prepare()?;
    monitor.run()?;
    let wall = spawned_at.elapsed();
    let (exit, usage) = monitor.close();
    let outputs = monitor.finish(exit);
    let o = monitor.observed;
    Ok(NodeReport {
        outputs,
        control: o.control,
        npl_sent: o.npl_sent,
        npl_received: o.npl_received,
        // Filled in by the cluster once every node is done: other nodes may
        // still offer messages to this one after its contract ended.
        npl_lost: Vec::new(),
        stdout: o.stdout,
        stderr: o.stderr,
        usage,
        wall,
        ..blank_report(who, exit, monitor.hazards, args_json, leaked_fds)
    })
}

/// A node's report with what every execution has and nothing observed; the
/// cluster adds state, post_exec and patch.cfg results afterwards.
fn blank_report(
    (index, public_key, observer): (usize, &str, bool),
    exit: Exit,
    hazards: Vec<Hazard>,
    args_json: String,
    leaked_fds: Vec<RawFd>,
) -> NodeReport {
    NodeReport {
        index,
        public_key: public_key.to_owned(),
        observer,
        exit,
        outputs: Vec::new(),
        control: Vec::new(),
        npl_sent: Vec::new(),
        npl_received: Vec::new(),
        npl_lost: Vec::new(),
        stdout: Vec::new(),
        stderr: Vec::new(),
        state: None,
        post_exec: None,
        patch_cfg: None,
        patch_change: None,
        hazards,
        args_json,
        leaked_fds,
        usage: Usage::default(),
        wall: Duration::ZERO,
    }
}
