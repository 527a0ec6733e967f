//! Configuring a cluster, and building it: the node directories created or a
//! kept cluster continued, `patch.cfg` written.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::super::config::{self as simcfg, Variant};
use super::super::host::ArgsMap;
use super::super::keys::KeyPair;
use super::super::npl::NplFault;
use super::{Cluster, DEFAULT_CONTRACT_ID, Schedule, SimError, setup};
use crate::config::PatchConfig;

/// What a cluster is configured with and keeps using round after round.
pub(super) struct Settings {
    pub(super) observers: BTreeSet<usize>,
    pub(super) start_delays: BTreeMap<usize, Duration>,
    pub(super) start_after_npl: BTreeMap<usize, usize>,
    pub(super) users: Vec<(String, KeyPair)>,
    pub(super) variant: Variant,
    pub(super) config: PatchConfig,
    pub(super) contract_id: String,
    pub(super) faults: Vec<NplFault>,
    /// Nodes running on an older lcl: how many ledgers behind.
    pub(super) lcl_behind: BTreeMap<usize, u64>,
    pub(super) map_args: Option<Arc<ArgsMap>>,
    pub(super) leak_files: Vec<PathBuf>,
    pub(super) leak_engine_fds: bool,
    pub(super) args_via_file: bool,
    /// Nodes get hosts of their own (binary copy, namespaces, CPUs, ...).
    pub(super) vary_hosts: bool,
    /// Namespaces may be used where the machine allows them.
    pub(super) namespaces: bool,
    /// One round starts the nodes across a whole second.
    pub(super) straddle_second: bool,
    /// `user.max_bytes_per_msg` (0: the engine's 5 MiB).
    pub(super) max_user_message: usize,
    /// Read requests also run on the other nodes, as a check.
    pub(super) check_reads: bool,
    /// The perturbation schedule on top of the default variation.
    pub(super) schedule: Option<Schedule>,
}

impl Settings {
    /// Adds the user `name` unless known.
    pub(super) fn ensure_user(&mut self, name: &str) {
        if !self.users.iter().any(|(n, _)| n == name) {
            self.users.push((name.to_owned(), KeyPair::user(name)));
        }
    }
}

/// Configures a [`Cluster`]; [`build`](Self::build) makes it. Every method
/// takes and returns the builder by value.
pub struct ClusterBuilder {
    pub(super) bin: PathBuf,
    pub(super) node_count: usize,
    pub(super) seeds: Vec<(PathBuf, Vec<u8>, bool)>,
    pub(super) keep: Option<PathBuf>,
    pub(super) fresh: bool,
    pub(super) settings: Settings,
}

impl fmt::Debug for ClusterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterBuilder")
            .field("bin", &self.bin)
            .field("nodes", &self.node_count)
            .field("variant", &self.settings.variant)
            .finish_non_exhaustive()
    }
}

impl ClusterBuilder {
    /// A one-node cluster running the contract binary at `bin`, with the
    /// engine's default contract configuration and the `readonly` variant.
    pub(super) fn new(bin: PathBuf) -> ClusterBuilder {
        ClusterBuilder {
            bin,
            node_count: 1,
            seeds: Vec::new(),
            keep: None,
            fresh: false,
            settings: Settings {
                observers: BTreeSet::new(),
                start_delays: BTreeMap::new(),
                start_after_npl: BTreeMap::new(),
                users: Vec::new(),
                variant: Variant::Readonly,
                config: simcfg::initial(),
                contract_id: DEFAULT_CONTRACT_ID.into(),
                faults: Vec::new(),
                lcl_behind: BTreeMap::new(),
                map_args: None,
                leak_files: Vec::new(),
                leak_engine_fds: false,
                args_via_file: false,
                vary_hosts: true,
                namespaces: true,
                straddle_second: false,
                schedule: None,
                check_reads: true,
                max_user_message: 0,
            },
        }
    }

    /// Sets the cluster up: creates the node directories and writes
    /// `patch.cfg`, or continues the cluster kept in the
    /// [`keep_state`](Self::keep_state) directory ([`Cluster::resumed`] says
    /// from where).
    pub fn build(mut self) -> Result<Cluster, SimError> {
        let rt = setup::runtime(&mut self)?;
        let mut cluster = Cluster {
            settings: self.settings,
            pending: Vec::new(),
            rt,
        };
        cluster.sync_config()?;
        cluster.save()?;
        Ok(cluster)
    }

    /// The public key of the user called `name` (as [`Cluster::user_public_key`]).
    pub fn user_public_key(&self, name: &str) -> String {
        KeyPair::user(name).public_key
    }

    /// Number of nodes (at least 1; fixed for the cluster's life).
    pub fn nodes(mut self, n: usize) -> Self {
        self.node_count = n.max(1);
        self
    }

    /// Adds a connected user. Users are listed to the contract every
    /// consensus round, with or without inputs, sorted by public key.
    pub fn user(mut self, name: &str) -> Self {
        self.settings.ensure_user(name);
        self
    }

    /// Which engine variant's arguments to write.
    pub fn variant(mut self, variant: Variant) -> Self {
        self.settings.variant = variant;
        self
    }

    /// Replaces the contract configuration (see [the type's
    /// docs](Cluster#the-contract-configuration); an empty `unl` or
    /// `bin_path` is filled in by the cluster). It must pass
    /// [`PatchConfig::validate`], or [`build`](Self::build) fails with
    /// [`SimError::Usage`], as the engine refuses to start.
    pub fn config(mut self, config: PatchConfig) -> Self {
        self.settings.config = config;
        self
    }

    /// Edits the contract configuration.
    pub fn configure(mut self, edit: impl FnOnce(&mut PatchConfig)) -> Self {
        edit(&mut self.settings.config);
        self
    }

    /// Sets `round_limits.exec_timeout` in ms (0: none).
    pub fn exec_timeout(mut self, ms: u64) -> Self {
        self.settings.config.round_limits.exec_timeout = ms;
        self
    }

    /// Adds a variable to the contract's environment (its only environment).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.settings
            .config
            .environment
            .insert(key.into(), value.into());
        self
    }

    /// Sets `bin_args` (split on single spaces).
    pub fn bin_args(mut self, args: &str) -> Self {
        self.settings.config.bin_args = args.into();
        self
    }

    /// Makes node `i` an observer: it runs the contract but its NPL messages
    /// are never broadcast, and it sends no proposals. A consensus round
    /// needs `ceil(consensus.threshold% * UNL size)` proposing UNL nodes, as
    /// in the engine; with fewer (one observer among 3 nodes at the default
    /// 80%) it closes no ledger ([`RoundReport::no_ledger`](crate::sim::RoundReport::no_ledger)).
    pub fn observer(mut self, i: usize) -> Self {
        self.settings.observers.insert(i);
        self
    }

    /// Starts node `i`'s contract `delay` after the others in every round.
    /// NPL messages reaching it before it starts are lost, as in the engine.
    /// Which messages those are depends on how fast the other contracts
    /// run; [`start_after_npl`](Self::start_after_npl) makes a node late
    /// without depending on timing.
    pub fn start_delay(mut self, i: usize, delay: Duration) -> Self {
        self.settings.start_delays.insert(i, delay);
        self
    }

    /// Starts node `i`'s contract, in every round with NPL, only once the
    /// other nodes' contracts have sent `messages` NPL packets between them
    /// (counted as their hosts read them, so also an observer's and one over
    /// `npl_output_bytes`), or once none of them can send more (all ended).
    /// Every packet counted was offered to node `i` before its contract ran,
    /// so it lost the broadcast ones, as a late node does in the engine; what
    /// it misses does not depend on timing. A
    /// [`start_delay`](Self::start_delay) of the same node runs after this.
    pub fn start_after_npl(mut self, i: usize, messages: usize) -> Self {
        self.settings.start_after_npl.insert(i, messages);
        self
    }

    /// Runs every node on the same host: the cluster's binary itself, the
    /// simulator's host name, boot id, clocks and CPUs, exactly the
    /// configured environment and one file system. By default each node
    /// gets its own (see [the determinism guide](crate::guide::determinism));
    /// [`Cluster::not_varied`] lists what stays alike either way.
    pub fn alike_hosts(mut self) -> Self {
        self.settings.vary_hosts = false;
        self
    }

    /// Varies the hosts without namespaces, as on a machine that forbids
    /// unprivileged user namespaces: host name, boot id and the monotonic
    /// clocks stay alike, and [`Cluster::not_varied`] says so.
    pub fn without_namespaces(mut self) -> Self {
        self.settings.namespaces = false;
        self
    }

    /// Starts the nodes of the first consensus round across a whole-second
    /// boundary (node 0 just before it, the others just after), so that a
    /// contract reading the wall clock at seconds resolution disagrees, as
    /// unsynchronised real nodes do near a second boundary. It waits up to
    /// a second for the boundary; dev mode turns it on.
    pub fn straddle_second(mut self, on: bool) -> Self {
        self.settings.straddle_second = on;
        self
    }

    /// Runs every round under the seeded perturbation `schedule` (start
    /// skews, NPL delays and a lost link per round) on top of the default
    /// variation and of any explicit faults and delays, which apply first.
    /// [`Cluster::explore`] tries many.
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.settings.schedule = Some(schedule);
        self
    }

    /// Whether a read request also runs on the nodes the user is not
    /// connected to (default: yes). The engine runs it on the user's node
    /// only ([`RoundReport::read_node`](crate::sim::RoundReport::read_node)
    /// answers); the other runs are the simulator's extra check that the
    /// answer does not depend on the node. Off, the report holds that node only.
    pub fn check_reads(mut self, on: bool) -> Self {
        self.settings.check_reads = on;
        self
    }

    /// Sets the engine's `user.max_bytes_per_msg` (hp.cfg, not patch.cfg):
    /// inputs over it never reach the engine (0, the default, stands for the
    /// engine's 5 MiB, [`MAX_USER_MESSAGE_BYTES`](crate::sim::MAX_USER_MESSAGE_BYTES)).
    pub fn max_user_message_bytes(mut self, bytes: usize) -> Self {
        self.settings.max_user_message = bytes;
        self
    }

    /// Adds an NPL fault rule.
    pub fn npl_fault(mut self, fault: NplFault) -> Self {
        self.settings.faults.push(fault);
        self
    }

    /// Sets the contract id (a UUID string).
    pub fn contract_id(mut self, id: &str) -> Self {
        self.settings.contract_id = id.into();
        self
    }

    /// Keeps the cluster in `dir` (created if needed) instead of a temporary
    /// directory, so that a later cluster can continue it: the node
    /// directories, and a manifest `dir/cluster.json` written after every
    /// round with the node count and keys, the variant, the contract id, the
    /// lcl, the round number and clock, and the contract configuration.
    ///
    /// If `dir` already holds a kept cluster, this one continues it (see
    /// [`Cluster::resumed`]): same node keys, state directories and
    /// `patch.cfg` files, the lcl chain, round numbers and timestamps
    /// continuing, and the configuration in force there, including a
    /// `patch.cfg` change the contract made. What this cluster's own
    /// configuration changes from the one the kept cluster was built with is
    /// applied on top, as an operator editing hp.cfg between runs would.
    /// Seed files are not written again, and input offsets start over, as in
    /// a restarted engine. [`build`](Self::build) fails with [`SimError::KeptState`]
    /// if the kept cluster has another node count, variant or contract id;
    /// [`fresh`](Self::fresh) starts over instead. A directory without a
    /// manifest holds no cluster: its `node<i>` directories are replaced.
    pub fn keep_state(mut self, dir: impl Into<PathBuf>) -> Self {
        self.keep = Some(dir.into());
        self
    }

    /// With [`keep_state`](Self::keep_state): discards any cluster kept in
    /// the directory (its `node<i>` directories and manifest) and starts over.
    pub fn fresh(mut self) -> Self {
        self.fresh = true;
        self
    }

    /// Puts a file into every node's state directory before the first round.
    pub fn seed_file(mut self, path: impl Into<PathBuf>, contents: impl Into<Vec<u8>>) -> Self {
        self.seeds.push((path.into(), contents.into(), false));
        self
    }

    /// Like [`seed_file`](Self::seed_file), with the executable bit set (e.g. `post_exec.sh`).
    pub fn seed_executable(
        mut self,
        path: impl Into<PathBuf>,
        contents: impl Into<Vec<u8>>,
    ) -> Self {
        self.seeds.push((path.into(), contents.into(), true));
        self
    }

    /// Rewrites each node's args JSON before it is written: `map(node, json)`.
    /// For malformed-argument tests.
    pub fn map_args(mut self, map: impl Fn(usize, &str) -> String + Send + Sync + 'static) -> Self {
        self.settings.map_args = Some(Arc::new(map));
        self
    }

    /// Hands the args JSON on stdin as a regular file (a memfd holding the
    /// whole JSON, rewound) instead of a pipe, so a contract reads complete
    /// args of any size however it reads stdin. The engine cannot do this: it
    /// writes the args into a 64 KiB pipe before exec, and args larger than
    /// that are still reported as [`HazardKind::ArgsExceedPipe`]. For
    /// measuring rounds the engine cannot run (benchmarks with many inputs).
    ///
    /// [`HazardKind::ArgsExceedPipe`]: crate::sim::HazardKind::ArgsExceedPipe
    pub fn args_via_file(mut self, on: bool) -> Self {
        self.settings.args_via_file = on;
        self
    }

    /// Leaks an extra fd into every contract: `path` opened read-write (and
    /// created if missing), as the engine leaks its own files.
    pub fn leak_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.settings.leak_files.push(path.into());
        self
    }

    /// Leaks what the engine leaks that a file can stand for: each node's
    /// `hp.cfg` opened read-write, and `/dev/null` ([`guide::protocol`](crate::guide::protocol#the-process)).
    pub fn leak_engine_fds(mut self) -> Self {
        self.settings.leak_engine_fds = true;
        self
    }
}
