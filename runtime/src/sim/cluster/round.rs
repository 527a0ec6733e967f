//! One round as the engine runs it, in named steps: admit the inputs,
//! advance the ledger, stage the inputs in each node's store, prepare the
//! working directories, execute the nodes, collect what they left, apply
//! the configuration they agreed on.

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::time::Instant;

use super::super::config as simcfg;
use super::super::host::{self, ExecSpec, NodeExec, RunUnl, RunUser};
use super::super::keys::KeyPair;
use super::super::npl::NplHub;
use super::super::report::StateSnapshot as Snapshot;
use super::super::report::{
    ConfigUpdate, Hazard, Mode, NodeReport, PATCH_CFG, PatchChange, RoundReport, raw_json_hazards,
    verdict,
};
use super::super::snapshot;
use super::store::release_free_memory;
use super::{Cluster, NodeRt, SimError, hosts, io_err, patch_digest, read_patch_cfg, vary};
use hex::encode as hex;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The inputs a round admitted, per user in public-key order, and the ones
/// the engine would reject (over `user_input_bytes`): (user, index, length).
struct Admitted {
    inputs: Vec<Vec<Vec<u8>>>,
    rejected: Vec<(String, usize, usize)>,
    /// Over the engine's user message limit: (user, index, length).
    oversized: Vec<(String, usize, usize)>,
}

/// The host of a node the plan has none for (never, short of a bug).
static NO_HOST: host::NodeHost = host::NodeHost {
    bin: None,
    shell_pwd: false,
    cpus: None,
    ns: None,
};

/// Each node's `patch.cfg` after the round (`None`: deleted).
type PatchFiles = Vec<Option<Vec<u8>>>;

/// Where each node's contract runs, and (read requests) the state before.
struct Workdirs {
    dirs: Vec<PathBuf>,
    before: Vec<Snapshot>,
}

impl Cluster {
    /// Runs one round of `kind` (`read`: the read request's user and input).
    pub(super) fn run(
        &mut self,
        kind: Mode,
        read: Option<(String, Vec<u8>, usize)>,
    ) -> Result<RoundReport, SimError> {
        self.sync_config()?;
        let read_node = read.as_ref().map(|r| r.2);
        let read = read.map(|(user, data, _)| (user, data));
        let round_start = Instant::now();
        self.rt.rounds += 1;
        let number = self.rt.rounds;
        if kind == Mode::Consensus
            && let Some(why) = self.no_ledger()
        {
            return self.lost_round(number, why, round_start);
        }
        let users = self.round_users(kind, read.as_ref().map(|(u, _)| u.as_str()));
        let admitted = self.admit_inputs(kind, &users, read);
        let timestamp = self.advance_ledger(kind, &users, &admitted.inputs);
        let node_users = self.stage_inputs(kind, &users, &admitted.inputs)?;
        // The inputs are in the memfds now. Free them before the contracts
        // are forked: a forked child starts with a copy of the simulator's
        // anonymous memory, which the kernel counts in the contract's peak
        // RSS (`ru_maxrss`) even after exec.
        let rejected_inputs = admitted.rejected;
        let oversized_inputs = admitted.oversized;
        drop(admitted.inputs);
        release_free_memory();
        let work = self.prepare_workdirs(kind, number)?;
        let skews = self.skews(kind, number);
        let results = self.execute_nodes(kind, number, timestamp, &node_users, &work, &skews)?;
        let (mut nodes, patch_files) = self.collect(kind, results, &work)?;
        if let (Some(i), false) = (read_node, self.settings.check_reads) {
            // The engine runs a read on the user's node only.
            nodes.retain(|n| n.index == i);
        }
        self.free_inputs(kind, &node_users);
        let roundtime = self.settings.config.consensus.roundtime;
        let config_applied = self.apply_agreed_config(&nodes, &patch_files)?;
        self.note_roundtime_change(roundtime, config_applied.as_ref());
        let verdict = verdict(&nodes);
        let report = RoundReport {
            number,
            mode: kind,
            lcl_seq_no: self.rt.lcl_seq_no,
            lcl_hash: self.rt.lcl_hash.clone(),
            timestamp,
            rejected_inputs,
            oversized_inputs,
            nodes,
            verdict,
            config_applied,
            no_ledger: None,
            read_node,
            wall: round_start.elapsed(),
        };
        self.save()?;
        Ok(report)
    }

    /// The users of this execution, sorted by public key (the engine's
    /// std::map order): all in consensus rounds, the one asking in a read
    /// request, none in fallback rounds.
    fn round_users(&self, kind: Mode, reader: Option<&str>) -> Vec<(String, KeyPair)> {
        let mut users: Vec<(String, KeyPair)> = match (kind, reader) {
            (Mode::Consensus, _) => self.settings.users.clone(),
            (Mode::ReadRequest, Some(name)) => self
                .settings
                .users
                .iter()
                .filter(|(n, _)| n == name)
                .cloned()
                .collect(),
            _ => Vec::new(),
        };
        users.sort_by(|a, b| a.1.public_key.cmp(&b.1.public_key));
        users
    }

    /// Takes the queued inputs (consensus) or the read request's one, per
    /// user in the sorted order; inputs over `user_input_bytes` are rejected.
    fn admit_inputs(
        &mut self,
        kind: Mode,
        users: &[(String, KeyPair)],
        read: Option<(String, Vec<u8>)>,
    ) -> Admitted {
        let mut rejected = Vec::new();
        let mut oversized = Vec::new();
        let mut inputs: Vec<Vec<Vec<u8>>> = vec![Vec::new(); users.len()];
        match kind {
            Mode::Consensus => {
                let limit = self.settings.config.round_limits.user_input_bytes;
                // Per user: inputs queued so far (for the index) and bytes accepted.
                let mut counts = vec![(0usize, 0u64); users.len()];
                for (name, data) in std::mem::take(&mut self.pending) {
                    let Some(u) = users.iter().position(|(n, _)| *n == name) else {
                        continue;
                    };
                    let (Some((queued, bytes)), Some(list)) =
                        (counts.get_mut(u), inputs.get_mut(u))
                    else {
                        continue;
                    };
                    let index = *queued;
                    *queued += 1;
                    if self.over_message_limit(data.len()) {
                        oversized.push((name, index, data.len()));
                        continue;
                    }
                    if limit > 0 && *bytes + data.len() as u64 > limit {
                        rejected.push((name, index, data.len()));
                        continue;
                    }
                    *bytes += data.len() as u64;
                    list.push(data);
                }
            }
            Mode::ReadRequest => {
                if let (Some((_, data)), Some(slot)) = (read, inputs.first_mut()) {
                    slot.push(data);
                }
            }
            Mode::ConsensusFallback => {}
        }
        Admitted {
            inputs,
            rejected,
            oversized,
        }
    }

    /// Moves the clock and (consensus) the lcl on; the round's timestamp.
    fn advance_ledger(
        &mut self,
        kind: Mode,
        users: &[(String, KeyPair)],
        inputs: &[Vec<Vec<u8>>],
    ) -> u64 {
        let roundtime = u64::from(self.settings.config.consensus.roundtime);
        if kind == Mode::Consensus {
            self.remember_lcl();
        }
        let rt = &mut self.rt;
        match kind {
            Mode::Consensus => {
                rt.clock_ms += roundtime;
                rt.lcl_seq_no += 1;
                rt.non_consensus_rounds = 0;
                let mut h = Sha256::new()
                    .chain_update(rt.lcl_hash.as_bytes())
                    .chain_update(rt.lcl_seq_no.to_be_bytes())
                    .chain_update(rt.clock_ms.to_be_bytes());
                for (u, list) in users.iter().zip(inputs) {
                    h.update(u.1.public_key.as_bytes());
                    for data in list {
                        h.update(Sha256::digest(data));
                    }
                }
                rt.lcl_hash = hex(h.finalize());
                rt.clock_ms
            }
            Mode::ConsensusFallback => {
                rt.clock_ms += roundtime;
                rt.non_consensus_rounds += 1;
                rt.clock_ms
            }
            Mode::ReadRequest => 0,
        }
    }

    /// Writes the inputs into every node's store (offsets are per node).
    fn stage_inputs(
        &mut self,
        kind: Mode,
        users: &[(String, KeyPair)],
        inputs: &[Vec<Vec<u8>>],
    ) -> Result<Vec<Vec<RunUser>>, SimError> {
        let mut node_users = Vec::new();
        for n in &mut self.rt.nodes {
            let store = if kind == Mode::ReadRequest {
                &mut n.read_inputs
            } else {
                &mut n.inputs
            };
            let mut list = Vec::new();
            for (u, datas) in users.iter().zip(inputs) {
                let mut offs = Vec::new();
                for d in datas {
                    offs.push(store.write(d).map_err(io_err("writing the input memfd"))?);
                }
                list.push(RunUser {
                    name: u.0.clone(),
                    public_key: u.1.public_key.clone(),
                    inputs: offs,
                });
            }
            node_users.push(list);
        }
        Ok(node_users)
    }

    /// Each node's working directory: its state, or for a read request a
    /// throw-away copy (the engine's read-only session) and its snapshot.
    fn prepare_workdirs(&self, kind: Mode, round: u64) -> Result<Workdirs, SimError> {
        let work = self.workdirs(kind)?;
        if self.settings.vary_hosts && work.dirs.len() > 1 {
            for (i, dir) in work.dirs.iter().enumerate() {
                // Seconds and nanoseconds apart, as different hosts' clocks.
                let offset =
                    i as u64 * 1_333_333_337 + vary::draw("mtime", &[round, i as u64], 1 << 20);
                // A directory the test made immutable keeps its time: that
                // node's mtime is not varied, nothing else changes.
                let _ = hosts::set_dir_mtime(dir, offset);
            }
        }
        Ok(work)
    }

    /// How much later than the first node each node's contract starts: see
    /// [`hosts::skews`]; the whole-second straddle once, in the first
    /// consensus round.
    fn skews(&mut self, kind: Mode, round: u64) -> Vec<Duration> {
        let n = self.rt.nodes.len();
        if !self.settings.vary_hosts || kind == Mode::ReadRequest {
            return vec![Duration::ZERO; n];
        }
        let straddle =
            self.settings.straddle_second && kind == Mode::Consensus && !self.rt.straddled;
        self.rt.straddled |= straddle;
        hosts::skews(round, n, straddle)
    }

    /// The working directories of `kind` (see [`Self::prepare_workdirs`]).
    fn workdirs(&self, kind: Mode) -> Result<Workdirs, SimError> {
        let mut work = Workdirs {
            dirs: Vec::new(),
            before: Vec::new(),
        };
        for n in &self.rt.nodes {
            if kind == Mode::ReadRequest {
                let ro = n.dir.join("ro");
                let _ = fs::remove_dir_all(&ro);
                snapshot::copy_tree(&n.dir.join("state"), &ro.join("state"))
                    .map_err(io_err("copying state for a read request"))?;
                fs::copy(n.dir.join("patch.cfg"), ro.join("patch.cfg"))
                    .map_err(io_err("copying patch.cfg"))?;
                work.before
                    .push(snapshot::snapshot(&ro.join("state")).map_err(io_err("hashing state"))?);
                work.dirs.push(ro.join("state"));
            } else {
                work.dirs.push(n.dir.join("state"));
            }
        }
        Ok(work)
    }

    /// The UNL as node `viewer`'s contract sees it in round `round`, sorted
    /// by public key: the peers' lcl, and its own receive times.
    fn unl(&self, viewer: usize, round: u64) -> Vec<RunUnl> {
        let rt = &self.rt;
        let mut unl: Vec<RunUnl> = rt
            .nodes
            .iter()
            .enumerate()
            .map(|(peer, n)| {
                let (lcl_seq_no, lcl_hash) = self.node_lcl(peer);
                RunUnl {
                    public_key: n.keys.public_key.clone(),
                    active_on: vary::active_on(rt.clock_ms, round, viewer, peer),
                    lcl_seq_no,
                    lcl_hash,
                }
            })
            .collect();
        unl.sort_by(|a, b| a.public_key.cmp(&b.public_key));
        unl
    }

    /// The files leaked into node `n`'s contract.
    fn leak_files(&self, n: &NodeRt) -> Vec<PathBuf> {
        let mut l = self.settings.leak_files.clone();
        if self.settings.leak_engine_fds {
            l.push(n.dir.join("hp.cfg"));
            l.push(PathBuf::from("/dev/null"));
        }
        l
    }

    /// The round's NPL hub (none in read requests), with the nodes that
    /// start together marked ready before any of them spawns, so that
    /// "together" does not depend on thread start-up order.
    fn npl_hub(
        &self,
        kind: Mode,
        number: u64,
    ) -> Result<(Option<NplHub>, Vec<std::os::unix::net::UnixDatagram>), SimError> {
        if kind == Mode::ReadRequest {
            return Ok((None, Vec::new()));
        }
        let public_keys: Vec<String> = self
            .rt
            .nodes
            .iter()
            .map(|n| n.keys.public_key.clone())
            .collect();
        let lcls = (0..public_keys.len()).map(|i| self.node_lcl(i).0).collect();
        let (hub, wakes) = NplHub::new(public_keys, self.round_faults(number), number)
            .map_err(io_err("NPL sockets"))?;
        let hub = hub.with_lcls(lcls);
        let s = &self.settings;
        for i in 0..self.rt.nodes.len() {
            if self.start_delay(kind, number, i).is_zero() && !s.start_after_npl.contains_key(&i) {
                hub.set_running(i, true);
            }
        }
        Ok((Some(hub), wakes))
    }

    /// Runs every node's contract at once, one thread each; the lost NPL
    /// lists are filled in once all are done.
    fn execute_nodes(
        &self,
        kind: Mode,
        number: u64,
        timestamp: u64,
        node_users: &[Vec<RunUser>],
        work: &Workdirs,
        skews: &[Duration],
    ) -> Result<Vec<io::Result<NodeReport>>, SimError> {
        let unls: Vec<Vec<RunUnl>> = (0..self.rt.nodes.len())
            .map(|i| self.unl(i, number))
            .collect();
        let leaks: Vec<Vec<PathBuf>> = self.rt.nodes.iter().map(|n| self.leak_files(n)).collect();
        let (hub, wakes) = self.npl_hub(kind, number)?;
        let s = &self.settings;
        let cluster_bin = self.rt.bin.to_string_lossy();
        let lcls: Vec<(u64, String)> = (0..self.rt.nodes.len()).map(|i| self.node_lcl(i)).collect();
        let current = (self.rt.lcl_seq_no, self.rt.lcl_hash.clone());
        let spec = |users, leak_files, unl, i: usize| ExecSpec {
            config: &s.config,
            variant: s.variant,
            kind,
            contract_id: &s.contract_id,
            timestamp,
            lcl_seq_no: lcls.get(i).unwrap_or(&current).0,
            lcl_hash: &lcls.get(i).unwrap_or(&current).1,
            non_consensus_rounds: self.rt.non_consensus_rounds,
            users,
            unl,
            map_args: s.map_args.as_deref(),
            leak_files,
            args_via_file: s.args_via_file,
            cluster_bin: Some(cluster_bin.as_ref()),
        };
        let mut wakes = wakes.into_iter();
        let mut results: Vec<io::Result<NodeReport>> = std::thread::scope(|scope| {
            let mut handles = Vec::new();
            let per_node = self
                .rt
                .nodes
                .iter()
                .zip(node_users)
                .zip(&work.dirs)
                .zip(&leaks);
            for (i, (((n, users), workdir), leak)) in per_node.enumerate() {
                let unl = unls.get(i).map_or(&[][..], Vec::as_slice);
                let spec = spec(users.as_slice(), leak.as_slice(), unl, i);
                let node = NodeExec {
                    index: i,
                    public_key: &n.keys.public_key,
                    private_key: &n.keys.private_key,
                    observer: s.observers.contains(&i),
                    workdir: workdir.clone(),
                    inputs: node_inputs(kind, n),
                    start_delay: self.start_delay(kind, number, i),
                    skew: skews.get(i).copied().unwrap_or_default(),
                    host: self.rt.hosts.get(i).unwrap_or(&NO_HOST),
                    timeout_ms: self.timeout_ms(kind, number, i),
                    start_after_npl: s.start_after_npl.get(&i).copied(),
                    npl: hub.as_ref().zip(wakes.next()),
                };
                handles.push(scope.spawn(move || host::execute(&spec, node)));
            }
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(io::Error::other("node thread panicked")))
                })
                .collect()
        });
        if let Some(h) = &hub {
            for (i, r) in results.iter_mut().enumerate() {
                if let Ok(report) = r {
                    report.npl_lost = h.take_lost(i);
                }
            }
        }
        Ok(results)
    }

    /// Completes each node's report with what the engine does after the
    /// execution: `post_exec.sh`, the state snapshot, the `patch.cfg` check,
    /// or (read requests) the writes the read-only session discards. Also
    /// each node's `patch.cfg` after the round (`None`: deleted).
    fn collect(
        &self,
        kind: Mode,
        results: Vec<io::Result<NodeReport>>,
        work: &Workdirs,
    ) -> Result<(Vec<NodeReport>, PatchFiles), SimError> {
        let mut nodes = Vec::new();
        let mut patch_files = Vec::new();
        for (i, r) in results.into_iter().enumerate() {
            let mut report = r.map_err(io_err(format!("running node {i}")))?;
            let (Some(n), Some(workdir)) = (self.rt.nodes.get(i), work.dirs.get(i)) else {
                continue;
            };
            match kind {
                Mode::Consensus | Mode::ConsensusFallback => {
                    if kind == Mode::Consensus && report.exit.engine_success() {
                        report.post_exec =
                            host::run_post_exec(workdir, self.rt.lcl_seq_no, &self.rt.lcl_hash);
                    }
                    report.state =
                        Some(snapshot::snapshot(workdir).map_err(io_err("hashing state"))?);
                    let file = read_patch_cfg(&n.dir)?;
                    report.patch_cfg = Some(patch_digest(file.as_deref()));
                    self.check_patch_change(&mut report, file.as_deref());
                    patch_files.push(file);
                }
                Mode::ReadRequest => {
                    let after = snapshot::snapshot(workdir).map_err(io_err("hashing state"))?;
                    if let Some(b) = work.before.get(i) {
                        let mut files = snapshot::changed(b, &after);
                        // The engine's read-only session covers patch.cfg too.
                        if read_patch_cfg(&n.dir.join("ro"))? != read_patch_cfg(&n.dir)? {
                            files.push(PATCH_CFG.to_owned());
                        }
                        if !files.is_empty() {
                            report.hazards.push(Hazard::ReadOnlyWrite { files });
                        }
                    }
                    unanswered_reads(&mut report);
                    let _ = fs::remove_dir_all(n.dir.join("ro"));
                }
            }
            let raw = raw_json_hazards(&report.outputs);
            report.hazards.extend(raw);
            nodes.push(report);
        }
        Ok((nodes, patch_files))
    }

    /// A `patch.cfg` other than the one written: a valid change, or a hazard.
    fn check_patch_change(&self, report: &mut NodeReport, file: Option<&[u8]>) {
        if file == Some(self.rt.patch_bytes.as_slice()) {
            return;
        }
        let change = match file {
            None => Err("missing: the contract deleted it".to_owned()),
            Some(bytes) => simcfg::check(bytes, self.settings.variant),
        };
        report.patch_change = Some(match change {
            Ok(config) => PatchChange::Valid(Box::new(ConfigUpdate {
                changes: simcfg::changes(&self.settings.config, &config),
                config,
            })),
            Err(message) => {
                report.hazards.push(Hazard::InvalidPatchConfig {
                    message: message.clone(),
                });
                PatchChange::Invalid(message)
            }
        });
    }

    /// The engine frees consumed inputs once the round is done.
    fn free_inputs(&self, kind: Mode, node_users: &[Vec<RunUser>]) {
        for (n, list) in self.rt.nodes.iter().zip(node_users) {
            let store = if kind == Mode::ReadRequest {
                &n.read_inputs
            } else {
                &n.inputs
            };
            for u in list {
                for &(off, len) in &u.inputs {
                    store.punch(off, len);
                }
            }
        }
    }

    /// The engine applies a changed patch.cfg once the nodes agree on it;
    /// here that takes every node having the same valid file.
    fn apply_agreed_config(
        &mut self,
        nodes: &[NodeReport],
        patch_files: &[Option<Vec<u8>>],
    ) -> Result<Option<ConfigUpdate>, SimError> {
        let Some(update) = agreed_change(nodes, patch_files) else {
            return Ok(None);
        };
        let (update, bytes) = (update.0.clone(), update.1.to_vec());
        self.settings.config = update.config.clone();
        self.rt.written = Some(update.config.clone());
        if self.settings.leak_engine_fds {
            // The engine persists the applied section to hp.cfg.
            for n in &self.rt.nodes {
                fs::write(n.dir.join("hp.cfg"), &bytes).map_err(io_err("writing hp.cfg"))?;
            }
        }
        self.rt.patch_bytes = bytes;
        Ok(Some(update))
    }
}

/// The input store node `n`'s contract gets (none in fallback rounds).
fn node_inputs(kind: Mode, n: &NodeRt) -> Option<&OwnedFd> {
    match kind {
        Mode::Consensus => Some(&n.inputs.fd),
        Mode::ReadRequest => Some(&n.read_inputs.fd),
        Mode::ConsensusFallback => None,
    }
}

/// The `patch.cfg` change the nodes agree on: node 0's valid change, when
/// every node's file has the same bytes. Pure, for the unit tests.
fn agreed_change<'a>(
    nodes: &'a [NodeReport],
    patch_files: &'a [Option<Vec<u8>>],
) -> Option<(&'a ConfigUpdate, &'a [u8])> {
    let (Some(first), Some(Some(PatchChange::Valid(update)))) =
        (patch_files.first(), nodes.first().map(|n| &n.patch_change))
    else {
        return None;
    };
    let bytes = first.as_deref()?;
    patch_files
        .iter()
        .all(|f| f == first)
        .then_some((update.as_ref(), bytes))
}

/// Flags each user of a read request who got no output: the engine sends
/// such a client nothing.
fn unanswered_reads(report: &mut NodeReport) {
    let silent: Vec<String> = report
        .outputs
        .iter()
        .filter(|o| o.messages.is_empty())
        .map(|o| o.user.clone())
        .collect();
    for user in silent {
        report.hazards.push(Hazard::UnansweredRead { user });
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::report::test_node;
    use super::*;

    fn changed(index: usize, roundtime: u32) -> NodeReport {
        let mut config = simcfg::initial();
        config.consensus.roundtime = roundtime;
        let mut n = test_node(index, &[], "");
        n.patch_change = Some(PatchChange::Valid(Box::new(ConfigUpdate {
            changes: Vec::new(),
            config,
        })));
        n
    }

    #[test]
    fn a_change_applies_only_when_every_node_has_the_same_file() {
        let nodes = [changed(0, 2000), changed(1, 2000)];
        let same = [Some(b"a".to_vec()), Some(b"a".to_vec())];
        let (update, bytes) = agreed_change(&nodes, &same).expect("agreed");
        assert_eq!(update.config.consensus.roundtime, 2000);
        assert_eq!(bytes, b"a");
        let differ = [Some(b"a".to_vec()), Some(b"b".to_vec())];
        assert!(agreed_change(&nodes, &differ).is_none());
        let deleted = [None, None];
        assert!(agreed_change(&nodes, &deleted).is_none());
    }

    #[test]
    fn no_change_or_an_invalid_one_applies_nothing() {
        let unchanged = [test_node(0, &[], ""), test_node(1, &[], "")];
        let files = [Some(b"a".to_vec()), Some(b"a".to_vec())];
        assert!(agreed_change(&unchanged, &files).is_none());
        let mut invalid = test_node(0, &[], "");
        invalid.patch_change = Some(PatchChange::Invalid("bad".into()));
        assert!(agreed_change(&[invalid], &files[..1]).is_none());
        assert!(agreed_change(&[], &[]).is_none());
    }

    #[test]
    fn a_read_without_output_is_flagged_for_its_user_only() {
        let mut silent = test_node(0, &[], "");
        unanswered_reads(&mut silent);
        assert_eq!(
            silent.hazards,
            [Hazard::UnansweredRead {
                user: "alice".into()
            }]
        );
        let mut answered = test_node(0, &[b"5"], "");
        unanswered_reads(&mut answered);
        assert!(answered.hazards.is_empty());
    }
}
