//! A simulated cluster: nodes, users, and the rounds they run.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::fcntl::FallocateFlags;
use nix::sys::memfd::{MFdFlags, memfd_create};

use super::config::{self as simcfg, ConfigChange, Variant};
use super::host::{self, ArgsMap, ExecSpec, NodeExec, RunUnl, RunUser};
use super::keys::KeyPair;
use super::manifest::{self, Manifest};
use super::npl::{NplFault, NplHub};
use super::report::{
    ConfigUpdate, Hazard, Mode, NodeReport, PATCH_CFG, PatchChange, RoundReport, verdict,
};
use super::snapshot;
use crate::config::PatchConfig;
use hex::encode as hex;
use sha2::{Digest, Sha256};

/// The simulated clock's start: 2024-01-01T00:00:00Z in unix ms. Round `n`'s
/// timestamp is this plus `n` round times, so timestamps never depend on
/// when the simulation runs.
pub const GENESIS_MS: u64 = 1_704_067_200_000;

/// The contract id handed to contracts unless [`Cluster::contract_id`] sets one.
pub const DEFAULT_CONTRACT_ID: &str = "00000000-5349-4d00-8000-686f74706f63";

/// Why the simulator itself could not run a round (never the contract's
/// misbehaviour, which is reported in the [`RoundReport`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum SimError {
    /// A file or OS operation of the simulator failed.
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The cluster was asked for something it cannot do.
    Usage(String),
    /// The directory given to [`Cluster::keep_state`] holds a cluster this
    /// one cannot continue: another node count, variant or contract id, or a
    /// manifest (`cluster.json`) that cannot be read.
    KeptState {
        /// The directory.
        dir: PathBuf,
        /// What does not match, or what is wrong with the manifest.
        problem: String,
    },
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::Io { context, source } => write!(f, "simulator: {context}: {source}"),
            SimError::Usage(m) => write!(f, "simulator: {m}"),
            SimError::KeptState { dir, problem } => write!(
                f,
                "simulator: {} holds a cluster this one cannot continue: {problem}; \
                 ask for the same cluster to continue it, or start over with \
                 Cluster::fresh (or by deleting the directory)",
                dir.display()
            ),
        }
    }
}

impl std::error::Error for SimError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SimError::Io { source, .. } => Some(source),
            SimError::Usage(_) | SimError::KeptState { .. } => None,
        }
    }
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> SimError {
    let context = context.into();
    move |source| SimError::Io { context, source }
}

/// Returns the allocator's free memory to the OS (glibc), so that a contract
/// forked next does not inherit it into its peak RSS (see `run`).
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        nix::libc::malloc_trim(0);
    }
}

/// The engine's input store: one memfd per node that only grows, each input
/// at the next 4096-aligned offset (`util/buffer_store.cpp`).
struct InputStore {
    fd: OwnedFd,
    next: u64,
}

impl InputStore {
    fn new() -> io::Result<InputStore> {
        let fd = memfd_create(c"buffer_store", MFdFlags::MFD_CLOEXEC).map_err(io::Error::from)?;
        Ok(InputStore { fd, next: 0 })
    }

    fn write(&mut self, data: &[u8]) -> io::Result<(u64, u64)> {
        let offset = self.next;
        let mut done = 0;
        while done < data.len() {
            let at = i64::try_from(offset + done as u64)
                .map_err(|_| io::Error::other("input store too large"))?;
            let rest = data.get(done..).unwrap_or_default();
            done += nix::sys::uio::pwrite(&self.fd, rest, at).map_err(io::Error::from)?;
        }
        self.next = (offset + data.len() as u64).div_ceil(4096) * 4096;
        Ok((offset, data.len() as u64))
    }

    /// Frees consumed inputs like the engine (the file keeps its size).
    fn punch(&self, offset: u64, len: u64) {
        if let (Ok(off), Ok(len)) = (i64::try_from(offset), i64::try_from(len))
            && len > 0
        {
            let mode = FallocateFlags::FALLOC_FL_PUNCH_HOLE | FallocateFlags::FALLOC_FL_KEEP_SIZE;
            // Only a memory optimisation; the engine ignores failures too.
            let _ = nix::fcntl::fallocate(&self.fd, mode, off, len);
        }
    }
}

struct NodeRt {
    keys: KeyPair,
    dir: PathBuf,
    inputs: InputStore,
    read_inputs: InputStore,
}

struct Runtime {
    root: PathBuf,
    /// A temporary root, removed on drop; otherwise a kept one, with a manifest.
    remove_on_drop: bool,
    bin: PathBuf,
    nodes: Vec<NodeRt>,
    lcl_seq_no: u64,
    lcl_hash: String,
    clock_ms: u64,
    /// Rounds run so far, of every kind (kept ones included).
    rounds: u64,
    /// The configuration as the cluster was built with, before the UNL and
    /// binary were filled in (recorded in a kept cluster's manifest).
    requested: PatchConfig,
    /// Where a kept cluster was continued from.
    resumed: Option<Resumed>,
    non_consensus_rounds: u64,
    /// The configuration last written to every node's `patch.cfg` or applied
    /// from it; `None` until the first write.
    written: Option<PatchConfig>,
    /// The bytes every node's `patch.cfg` had after that: a round that
    /// leaves other bytes changed the file.
    patch_bytes: Vec<u8>,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if self.remove_on_drop {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}

/// A simulated HotPocket cluster running one contract binary.
///
/// Configuration methods take and return the cluster by value; running
/// methods take `&mut self`:
///
/// ```no_run
/// use hotpocket::sim::Cluster;
/// # fn main() -> Result<(), hotpocket::sim::SimError> {
/// let report = Cluster::new("target/debug/examples/counter")
///     .nodes(3)
///     .user("alice")
///     .input("alice", br#"{"Add":5}"#)
///     .round()?;
/// report.assert_agree().assert_outputs("alice", &["5"]);
/// # Ok(()) }
/// ```
///
/// Every node has its own key pair (derived from its index) and state
/// directory `<root>/node<i>/state` with `<root>/node<i>/patch.cfg`; the UNL
/// is all nodes. The root is a fresh temporary directory removed on drop,
/// unless [`keep_state`](Self::keep_state) names one, which a later cluster
/// can continue.
///
/// # The contract configuration
///
/// The cluster's [`PatchConfig`] is what each node's `patch.cfg` is written
/// from, before the first round and again whenever it was changed through
/// [`config_mut`](Self::config_mut) between rounds (as an operator editing
/// hp.cfg). An empty `unl` stands for the cluster's node keys and an empty
/// `bin_path` for the contract binary, and for [`Variant::Mode`], which
/// requires `consensus.fallback`, an absent one means `execute: true`.
///
/// A contract may rewrite `../patch.cfg` itself. After each consensus or
/// fallback round the cluster does what the engine does once the nodes agree
/// on the new file (PROTOCOL.md §1.10): if every node's file changed to the
/// same bytes and [passes the engine's rules](PatchConfig::validate), it
/// becomes the configuration for the next rounds
/// ([`RoundReport::config_applied`]). Of its fields, `bin_path` (relative
/// to the state directory), `bin_args`, `environment`, every
/// `round_limits` entry and `consensus.roundtime` (the clock's step and the
/// fallback time limit) take effect, and `consensus.fallback.execute: false`
/// makes [`fallback_round`](Self::fallback_round) refuse to run. The rest
/// (`unl`, `version`, `max_input_ledger_offset`, the modes, `stage_slice`,
/// `threshold`) is recorded in [`patch_config`](Self::patch_config) only: the
/// contract's `unl` argument and NPL stay the cluster's nodes. A file the
/// engine would reject is a [`Hazard::InvalidPatchConfig`] on that node, and
/// files differing between nodes are a disagreement at `../patch.cfg`;
/// neither is applied.
pub struct Cluster {
    bin: PathBuf,
    node_count: usize,
    observers: BTreeSet<usize>,
    start_delays: BTreeMap<usize, Duration>,
    start_after_npl: BTreeMap<usize, usize>,
    users: Vec<(String, KeyPair)>,
    pending: Vec<(String, Vec<u8>)>,
    variant: Variant,
    config: PatchConfig,
    contract_id: String,
    faults: Vec<NplFault>,
    map_args: Option<Arc<ArgsMap>>,
    leak_files: Vec<PathBuf>,
    leak_engine_fds: bool,
    args_via_file: bool,
    seeds: Vec<(PathBuf, Vec<u8>, bool)>,
    keep: Option<PathBuf>,
    fresh: bool,
    rt: Option<Runtime>,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("bin", &self.bin)
            .field("nodes", &self.node_count)
            .field(
                "users",
                &self.users.iter().map(|u| &u.0).collect::<Vec<_>>(),
            )
            .field("variant", &self.variant)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// A one-node cluster running the contract binary at `bin`, with the
    /// engine's default contract configuration and the `readonly` variant.
    pub fn new(bin: impl Into<PathBuf>) -> Cluster {
        Cluster {
            bin: bin.into(),
            node_count: 1,
            observers: BTreeSet::new(),
            start_delays: BTreeMap::new(),
            start_after_npl: BTreeMap::new(),
            users: Vec::new(),
            pending: Vec::new(),
            variant: Variant::Readonly,
            config: simcfg::initial(),
            contract_id: DEFAULT_CONTRACT_ID.into(),
            faults: Vec::new(),
            map_args: None,
            leak_files: Vec::new(),
            leak_engine_fds: false,
            args_via_file: false,
            seeds: Vec::new(),
            keep: None,
            fresh: false,
            rt: None,
        }
    }

    /// Number of nodes (at least 1; fixed once the first round ran).
    pub fn nodes(mut self, n: usize) -> Self {
        self.node_count = n.max(1);
        self
    }

    /// Adds a connected user. Users are listed to the contract every
    /// consensus round, with or without inputs, sorted by public key.
    pub fn user(mut self, name: &str) -> Self {
        self.ensure_user(name);
        self
    }

    /// Which engine variant's arguments to write.
    pub fn variant(mut self, variant: Variant) -> Self {
        self.variant = variant;
        self
    }

    /// Replaces the contract configuration (see [the type's
    /// docs](Cluster#the-contract-configuration); an empty `unl` or
    /// `bin_path` is filled in by the cluster). It must pass
    /// [`PatchConfig::validate`], or the first round fails with
    /// [`SimError::Usage`], as the engine refuses to start.
    pub fn config(mut self, config: PatchConfig) -> Self {
        self.config = config;
        self
    }

    /// Edits the contract configuration.
    pub fn configure(mut self, edit: impl FnOnce(&mut PatchConfig)) -> Self {
        edit(&mut self.config);
        self
    }

    /// Sets `round_limits.exec_timeout` in ms (0: none).
    pub fn exec_timeout(mut self, ms: u64) -> Self {
        self.config.round_limits.exec_timeout = ms;
        self
    }

    /// Adds a variable to the contract's environment (its only environment).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.config.environment.insert(key.into(), value.into());
        self
    }

    /// Sets `bin_args` (split on single spaces).
    pub fn bin_args(mut self, args: &str) -> Self {
        self.config.bin_args = args.into();
        self
    }

    /// Makes node `i` an observer: it runs the contract but its NPL messages
    /// are never broadcast.
    pub fn observer(mut self, i: usize) -> Self {
        self.observers.insert(i);
        self
    }

    /// Starts node `i`'s contract `delay` after the others in every round.
    /// NPL messages reaching it before it starts are lost, as in the engine.
    /// Which messages those are depends on how fast the other contracts
    /// run; [`start_after_npl`](Self::start_after_npl) makes a node late
    /// without depending on timing.
    pub fn start_delay(mut self, i: usize, delay: Duration) -> Self {
        self.start_delays.insert(i, delay);
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
        self.start_after_npl.insert(i, messages);
        self
    }

    /// Adds an NPL fault rule.
    pub fn npl_fault(mut self, fault: NplFault) -> Self {
        self.faults.push(fault);
        self
    }

    /// Sets the contract id (a UUID string).
    pub fn contract_id(mut self, id: &str) -> Self {
        self.contract_id = id.into();
        self
    }

    /// Keeps the cluster in `dir` (created if needed) instead of a temporary
    /// directory, so that a later cluster can continue it: the node
    /// directories, and a manifest `dir/cluster.json` written after every
    /// round with the node count and keys, the variant, the contract id, the
    /// lcl, the round number and clock, and the contract configuration.
    ///
    /// If `dir` already holds a kept cluster, this one continues it (see
    /// [`start`](Self::start)): same node keys, state directories and
    /// `patch.cfg` files, the lcl chain, round numbers and timestamps
    /// continuing, and the configuration in force there, including a
    /// `patch.cfg` change the contract made. What this cluster's own
    /// configuration changes from the one the kept cluster was built with is
    /// applied on top, as an operator editing hp.cfg between runs would.
    /// Seed files are not written again, and input offsets start over, as in
    /// a restarted engine. The first round fails with [`SimError::KeptState`]
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
        self.map_args = Some(Arc::new(map));
        self
    }

    /// Hands the args JSON on stdin as a regular file (a memfd holding the
    /// whole JSON, rewound) instead of a pipe, so a contract reads complete
    /// args of any size however it reads stdin. The engine cannot do this: it
    /// writes the args into a 64 KiB pipe before exec, and args larger than
    /// that are still reported as [`HazardKind::ArgsExceedPipe`]. For
    /// measuring rounds the engine cannot run (benchmarks with many inputs).
    ///
    /// [`HazardKind::ArgsExceedPipe`]: super::HazardKind::ArgsExceedPipe
    pub fn args_via_file(mut self, on: bool) -> Self {
        self.args_via_file = on;
        self
    }

    /// Leaks an extra fd into every contract: `path` opened read-write (and
    /// created if missing), as the engine leaks its own files.
    pub fn leak_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.leak_files.push(path.into());
        self
    }

    /// Leaks what the engine leaks that a file can stand for: each node's
    /// `hp.cfg` opened read-write, and `/dev/null` (PROTOCOL.md §7).
    pub fn leak_engine_fds(mut self) -> Self {
        self.leak_engine_fds = true;
        self
    }

    /// The contract configuration, for changes between rounds: a change is
    /// written to every node's `patch.cfg` before the next round.
    pub fn config_mut(&mut self) -> &mut PatchConfig {
        &mut self.config
    }

    /// The contract configuration the next round runs with: as configured,
    /// with the cluster's UNL and binary filled in once a round ran, and any
    /// `patch.cfg` change the nodes agreed on applied.
    pub fn patch_config(&self) -> &PatchConfig {
        &self.config
    }

    /// Replaces the NPL fault rules, for changes between rounds.
    pub fn set_npl_faults(&mut self, faults: Vec<NplFault>) -> &mut Self {
        self.faults = faults;
        self
    }

    /// Queues an input from `user` for the next consensus round (adding the
    /// user if unknown). Inputs reach the contract in the order queued.
    pub fn input(&mut self, user: &str, data: impl AsRef<[u8]>) -> &mut Self {
        self.ensure_user(user);
        self.pending.push((user.to_owned(), data.as_ref().to_vec()));
        self
    }

    fn ensure_user(&mut self, name: &str) {
        if !self.users.iter().any(|(n, _)| n == name) {
            self.users.push((name.to_owned(), KeyPair::user(name)));
        }
    }

    /// Makes the round's users exactly these public keys (`ed` hex), each
    /// named by its key: for clients that bring their own keys (a served
    /// cluster's connected users). Their private keys are not known, and the
    /// simulator never needs a user's.
    pub fn set_user_keys(&mut self, keys: &[String]) -> &mut Self {
        self.users = keys
            .iter()
            .map(|k| {
                let pair = KeyPair {
                    public_key: k.clone(),
                    private_key: String::new(),
                };
                (k.clone(), pair)
            })
            .collect();
        self
    }

    /// The contract id handed to the contract.
    pub fn current_contract_id(&self) -> &str {
        &self.contract_id
    }

    /// Node `i`'s key pair.
    pub fn node_keys(&self, i: usize) -> KeyPair {
        KeyPair::node(i)
    }

    /// The public key of the user called `name`.
    pub fn user_public_key(&self, name: &str) -> String {
        KeyPair::user(name).public_key
    }

    /// The root directory holding `node<i>/` (exists once a round ran).
    pub fn root(&self) -> Option<&Path> {
        self.rt.as_ref().map(|r| r.root.as_path())
    }

    /// Node `i`'s state directory (exists once a round ran).
    pub fn state_dir(&self, i: usize) -> Option<PathBuf> {
        self.rt
            .as_ref()
            .map(|r| r.root.join(format!("node{i}")).join("state"))
    }

    /// The current lcl: sequence number and hash.
    pub fn lcl(&self) -> (u64, String) {
        match &self.rt {
            Some(r) => (r.lcl_seq_no, r.lcl_hash.clone()),
            None => (0, genesis_hash()),
        }
    }

    /// Runs one consensus round with the queued inputs.
    pub fn round(&mut self) -> Result<RoundReport, SimError> {
        self.run(Mode::Consensus, None)
    }

    /// Runs `n` consensus rounds (queued inputs go to the first).
    pub fn rounds(&mut self, n: usize) -> Result<Vec<RoundReport>, SimError> {
        (0..n).map(|_| self.round()).collect()
    }

    /// Runs a read request from `user` with one input on every node: a
    /// read-only execution with that one user, no NPL, `timestamp` 0, and
    /// state changes discarded.
    pub fn read(&mut self, user: &str, data: impl AsRef<[u8]>) -> Result<RoundReport, SimError> {
        self.ensure_user(user);
        self.run(
            Mode::ReadRequest,
            Some((user.to_owned(), data.as_ref().to_vec())),
        )
    }

    /// Runs a consensus-fallback round (`mode` variant only): no users,
    /// `user_in_fd` 0, NPL available, the lcl unchanged, state kept, no
    /// `post_exec.sh`, and the round time minus 100 ms as the time limit.
    pub fn fallback_round(&mut self) -> Result<RoundReport, SimError> {
        if self.variant != Variant::Mode {
            return Err(SimError::Usage(
                "fallback rounds exist only in the `mode` variant (hpcore fallback-hpsh); use .variant(Variant::Mode)"
                    .into(),
            ));
        }
        if self.config.consensus.fallback.is_some_and(|f| !f.execute) {
            return Err(SimError::Usage(
                "consensus.fallback.execute is false: the engine does not run the contract in fallback rounds"
                    .into(),
            ));
        }
        self.run(Mode::ConsensusFallback, None)
    }

    /// Sets the cluster up now instead of at the first round: creates the
    /// node directories and writes `patch.cfg`, or continues the cluster
    /// kept in the [`keep_state`](Self::keep_state) directory. Returns where
    /// it continued from, if it did (again on later calls).
    pub fn start(&mut self) -> Result<Option<Resumed>, SimError> {
        self.setup()?;
        self.sync_config()?;
        self.save()?;
        Ok(self.rt.as_ref().and_then(|rt| rt.resumed.clone()))
    }

    fn setup(&mut self) -> Result<(), SimError> {
        if self.rt.is_some() {
            return Ok(());
        }
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let requested = self.config.clone();
        let (root, remove_on_drop) = match &self.keep {
            Some(dir) => (dir.clone(), false),
            None => {
                let n = NEXT.fetch_add(1, Ordering::Relaxed);
                (
                    std::env::temp_dir().join(format!("hotpocket-sim-{}-{n}", std::process::id())),
                    true,
                )
            }
        };
        let bin = fs::canonicalize(&self.bin)
            .map_err(io_err(format!("contract binary {}", self.bin.display())))?;
        let kept = match &self.keep {
            Some(dir) => self.kept_cluster(dir)?,
            None => None,
        };
        let mut nodes = Vec::new();
        for i in 0..self.node_count {
            let dir = root.join(format!("node{i}"));
            if kept.is_some() {
                if !dir.join("state").is_dir() {
                    return Err(SimError::KeptState {
                        dir: root.clone(),
                        problem: format!("node{i}/state is missing"),
                    });
                }
            } else {
                self.create_node_dir(&dir)?;
            }
            nodes.push(NodeRt {
                keys: KeyPair::node(i),
                dir,
                inputs: InputStore::new().map_err(io_err("memfd_create"))?,
                read_inputs: InputStore::new().map_err(io_err("memfd_create"))?,
            });
        }
        let mut rt = Runtime {
            root,
            remove_on_drop,
            bin,
            nodes,
            lcl_seq_no: 0,
            lcl_hash: genesis_hash(),
            clock_ms: GENESIS_MS,
            rounds: 0,
            requested,
            resumed: None,
            non_consensus_rounds: 0,
            written: None,
            patch_bytes: Vec::new(),
        };
        if let Some(m) = kept {
            self.resume(&mut rt, m)?;
        }
        self.rt = Some(rt);
        Ok(())
    }

    /// A new node directory: `state/` with the seed files, nothing else.
    fn create_node_dir(&self, dir: &Path) -> Result<(), SimError> {
        if dir.exists() {
            fs::remove_dir_all(dir).map_err(io_err(format!("clearing {}", dir.display())))?;
        }
        let state = dir.join("state");
        fs::create_dir_all(&state).map_err(io_err(format!("creating {}", state.display())))?;
        for (path, contents, exec) in &self.seeds {
            let target = state.join(path);
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent)
                    .map_err(io_err(format!("creating {}", parent.display())))?;
            }
            fs::write(&target, contents)
                .map_err(io_err(format!("seeding {}", target.display())))?;
            if *exec {
                fs::set_permissions(&target, fs::Permissions::from_mode(0o755))
                    .map_err(io_err(format!("chmod {}", target.display())))?;
            }
        }
        Ok(())
    }

    /// The manifest of the cluster kept in `dir`, if it holds one this
    /// cluster can continue; `None` to start over (no manifest, or
    /// [`fresh`](Self::fresh), which also clears what was there).
    fn kept_cluster(&self, dir: &Path) -> Result<Option<Manifest>, SimError> {
        let kept_err = |problem: String| SimError::KeptState {
            dir: dir.to_owned(),
            problem,
        };
        if self.fresh {
            discard_kept(dir)?;
            return Ok(None);
        }
        let Some(m) = manifest::load(dir).map_err(kept_err)? else {
            return Ok(None);
        };
        if m.nodes != self.node_count {
            return Err(kept_err(format!(
                "it has {} node{}, not {}",
                m.nodes,
                if m.nodes == 1 { "" } else { "s" },
                self.node_count
            )));
        }
        let variant = simcfg::variant_name(self.variant);
        if m.variant != variant {
            return Err(kept_err(format!(
                "it runs the `{}` variant, not `{variant}`",
                m.variant
            )));
        }
        if m.contract_id != self.contract_id {
            return Err(kept_err(format!(
                "its contract id is {}, not {}",
                m.contract_id, self.contract_id
            )));
        }
        let keys: Vec<String> = (0..m.nodes).map(|i| KeyPair::node(i).public_key).collect();
        if m.node_keys != keys {
            return Err(kept_err(
                "its node keys are not the ones this simulator derives".into(),
            ));
        }
        Ok(Some(m))
    }

    /// Continues the kept cluster `m` in `rt`: its ledger, clock and round
    /// count, and its configuration with this cluster's changes applied.
    fn resume(&mut self, rt: &mut Runtime, m: Manifest) -> Result<(), SimError> {
        let kept_err = |problem: String| SimError::KeptState {
            dir: rt.root.clone(),
            problem,
        };
        let parse = |v: &serde_json::Value| {
            serde_json::to_vec(v)
                .map_err(|e| e.to_string())
                .and_then(|b| PatchConfig::from_json(&b).map_err(|e| e.to_string()))
        };
        let in_force = parse(&m.config)
            .map_err(|e| kept_err(format!("{} has no valid config: {e}", manifest::FILE)))?;
        // An operator's change between runs: what this cluster asks for
        // differently from what the kept one was built with.
        let mut merged = m.config.clone();
        let request =
            serde_json::to_value(&self.config).map_err(|e| SimError::Usage(e.to_string()))?;
        manifest::carry_over(&m.requested, &request, &mut merged);
        let mut config = parse(&merged)
            .map_err(|e| kept_err(format!("{} has no valid config: {e}", manifest::FILE)))?;
        // The binary the cluster filled in last time is this run's binary.
        if config.bin_path == m.bin {
            config.bin_path.clear();
        }
        let keys: Vec<String> = rt.nodes.iter().map(|n| n.keys.public_key.clone()).collect();
        simcfg::resolve(&mut config, self.variant, &rt.bin, &keys);
        let config_changes = simcfg::changes(&in_force, &config);
        self.config = config;
        rt.written = Some(in_force);
        rt.patch_bytes = m.patch_cfg.into_bytes();
        rt.lcl_seq_no = m.lcl_seq_no;
        rt.lcl_hash = m.lcl_hash.clone();
        rt.clock_ms = m.clock_ms;
        rt.rounds = m.rounds;
        rt.non_consensus_rounds = m.non_consensus_rounds;
        rt.resumed = Some(Resumed {
            dir: rt.root.clone(),
            rounds: m.rounds,
            lcl_seq_no: m.lcl_seq_no,
            lcl_hash: m.lcl_hash,
            timestamp: m.clock_ms,
            config_changes,
        });
        Ok(())
    }

    /// Writes a kept cluster's manifest (nothing for a temporary one).
    fn save(&self) -> Result<(), SimError> {
        let Some(rt) = &self.rt else { return Ok(()) };
        if rt.remove_on_drop {
            return Ok(());
        }
        let value =
            |c: &PatchConfig| serde_json::to_value(c).map_err(|e| SimError::Usage(e.to_string()));
        let m = Manifest {
            format: manifest::FORMAT.to_owned(),
            nodes: rt.nodes.len(),
            node_keys: rt.nodes.iter().map(|n| n.keys.public_key.clone()).collect(),
            variant: simcfg::variant_name(self.variant).to_owned(),
            contract_id: self.contract_id.clone(),
            bin: rt.bin.to_string_lossy().into_owned(),
            rounds: rt.rounds,
            lcl_seq_no: rt.lcl_seq_no,
            lcl_hash: rt.lcl_hash.clone(),
            clock_ms: rt.clock_ms,
            non_consensus_rounds: rt.non_consensus_rounds,
            requested: value(&rt.requested)?,
            config: value(&self.config)?,
            patch_cfg: String::from_utf8_lossy(&rt.patch_bytes).into_owned(),
        };
        manifest::save(&rt.root, &m).map_err(io_err(format!(
            "writing {}",
            rt.root.join(manifest::FILE).display()
        )))
    }

    /// Writes the configuration to every node's `patch.cfg` (and `hp.cfg`,
    /// when leaked) unless that is what the files were last written from or
    /// applied from: at start-up, and after [`config_mut`](Self::config_mut).
    /// A contract's own edits are left alone, valid or not.
    fn sync_config(&mut self) -> Result<(), SimError> {
        let Some(rt) = self.rt.as_mut() else {
            return Err(SimError::Usage("cluster not set up".into()));
        };
        let keys: Vec<String> = rt.nodes.iter().map(|n| n.keys.public_key.clone()).collect();
        simcfg::resolve(&mut self.config, self.variant, &rt.bin, &keys);
        if rt.written.as_ref() == Some(&self.config) {
            return Ok(());
        }
        // The engine refuses to start with an invalid hp.cfg.
        self.config
            .validate()
            .map_err(|e| SimError::Usage(format!("invalid contract configuration: {e}")))?;
        let bytes = self
            .config
            .to_pretty_json()
            .map_err(|e| SimError::Usage(e.to_string()))?;
        for n in &rt.nodes {
            fs::write(n.dir.join("patch.cfg"), &bytes).map_err(io_err("writing patch.cfg"))?;
            if self.leak_engine_fds {
                fs::write(n.dir.join("hp.cfg"), &bytes).map_err(io_err("writing hp.cfg"))?;
            }
        }
        rt.patch_bytes = bytes;
        rt.written = Some(self.config.clone());
        Ok(())
    }

    fn run(
        &mut self,
        kind: Mode,
        read: Option<(String, Vec<u8>)>,
    ) -> Result<RoundReport, SimError> {
        self.setup()?;
        self.sync_config()?;
        let round_start = Instant::now();
        let Some(rt) = self.rt.as_mut() else {
            return Err(SimError::Usage("cluster not set up".into()));
        };
        rt.rounds += 1;
        let number = rt.rounds;

        // Users sorted by public key (the engine's std::map order).
        let mut users: Vec<&(String, KeyPair)> = match (&kind, &read) {
            (Mode::Consensus, _) => self.users.iter().collect(),
            (Mode::ReadRequest, Some((name, _))) => {
                self.users.iter().filter(|(n, _)| n == name).collect()
            }
            _ => Vec::new(),
        };
        users.sort_by(|a, b| a.1.public_key.cmp(&b.1.public_key));

        // Inputs of this execution, per user in the sorted order.
        let mut rejected_inputs = Vec::new();
        let mut inputs: Vec<Vec<Vec<u8>>> = vec![Vec::new(); users.len()];
        match kind {
            Mode::Consensus => {
                let limit = self.config.round_limits.user_input_bytes;
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
                    if limit > 0 && *bytes + data.len() as u64 > limit {
                        rejected_inputs.push((name, index, data.len()));
                        continue;
                    }
                    *bytes += data.len() as u64;
                    list.push(data);
                }
            }
            Mode::ReadRequest => {
                if let (Some((_, data)), Some(slot)) = (&read, inputs.first_mut()) {
                    slot.push(data.clone());
                }
            }
            Mode::ConsensusFallback => {}
        }

        // Ledger and clock.
        let timestamp = match kind {
            Mode::Consensus => {
                rt.clock_ms += u64::from(self.config.consensus.roundtime);
                rt.lcl_seq_no += 1;
                rt.non_consensus_rounds = 0;
                let mut h = Sha256::new()
                    .chain_update(rt.lcl_hash.as_bytes())
                    .chain_update(rt.lcl_seq_no.to_be_bytes())
                    .chain_update(rt.clock_ms.to_be_bytes());
                for (u, list) in users.iter().zip(&inputs) {
                    h.update(u.1.public_key.as_bytes());
                    for data in list {
                        h.update(Sha256::digest(data));
                    }
                }
                rt.lcl_hash = hex(h.finalize());
                rt.clock_ms
            }
            Mode::ConsensusFallback => {
                rt.clock_ms += u64::from(self.config.consensus.roundtime);
                rt.non_consensus_rounds += 1;
                rt.clock_ms
            }
            Mode::ReadRequest => 0,
        };

        // Write inputs into every node's store; offsets are per node.
        let mut node_users: Vec<Vec<RunUser>> = Vec::new();
        for n in &mut rt.nodes {
            let store = if kind == Mode::ReadRequest {
                &mut n.read_inputs
            } else {
                &mut n.inputs
            };
            let mut list = Vec::new();
            for (u, datas) in users.iter().zip(&inputs) {
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
        // The inputs are in the memfds now. Free them before the contracts
        // are forked: a forked child starts with a copy of the simulator's
        // anonymous memory, which the kernel counts in the contract's peak
        // RSS (`ru_maxrss`) even after exec.
        drop(inputs);
        release_free_memory();

        let mut unl: Vec<RunUnl> = rt
            .nodes
            .iter()
            .map(|n| RunUnl {
                public_key: n.keys.public_key.clone(),
                // Node-local and nondeterministic in the engine; here the last round's time.
                active_on: rt.clock_ms,
                lcl_seq_no: rt.lcl_seq_no,
                lcl_hash: rt.lcl_hash.clone(),
            })
            .collect();
        unl.sort_by(|a, b| a.public_key.cmp(&b.public_key));

        // Read requests run in a throw-away copy: the engine's read-only session.
        let mut workdirs = Vec::new();
        let mut before = Vec::new();
        for n in &rt.nodes {
            if kind == Mode::ReadRequest {
                let ro = n.dir.join("ro");
                let _ = fs::remove_dir_all(&ro);
                snapshot::copy_tree(&n.dir.join("state"), &ro.join("state"))
                    .map_err(io_err("copying state for a read request"))?;
                fs::copy(n.dir.join("patch.cfg"), ro.join("patch.cfg"))
                    .map_err(io_err("copying patch.cfg"))?;
                before
                    .push(snapshot::snapshot(&ro.join("state")).map_err(io_err("hashing state"))?);
                workdirs.push(ro.join("state"));
            } else {
                workdirs.push(n.dir.join("state"));
            }
        }

        let mut leak_files: Vec<Vec<PathBuf>> = Vec::new();
        for n in &rt.nodes {
            let mut l = self.leak_files.clone();
            if self.leak_engine_fds {
                l.push(n.dir.join("hp.cfg"));
                l.push(PathBuf::from("/dev/null"));
            }
            leak_files.push(l);
        }

        let public_keys: Vec<String> = rt.nodes.iter().map(|n| n.keys.public_key.clone()).collect();
        let (hub, wakes) = if kind == Mode::ReadRequest {
            (None, Vec::new())
        } else {
            let (h, w) = NplHub::new(public_keys, self.faults.clone(), number)
                .map_err(io_err("NPL sockets"))?;
            (Some(h), w)
        };
        let mut wakes = wakes.into_iter();
        // Nodes that start together are all ready for NPL before any of them
        // spawns, so "together" does not depend on thread start-up order.
        if let Some(h) = &hub {
            for i in 0..rt.nodes.len() {
                if self.start_delays.get(&i).is_none_or(|d| d.is_zero())
                    && !self.start_after_npl.contains_key(&i)
                {
                    h.set_running(i, true);
                }
            }
        }

        let lcl_hash = rt.lcl_hash.clone();
        let mut results: Vec<io::Result<NodeReport>> = {
            let rt = &*rt;
            let spec_base = (
                &self.config,
                self.variant,
                &self.contract_id,
                self.map_args.as_deref(),
                self.args_via_file,
            );
            std::thread::scope(|scope| {
                let mut handles = Vec::new();
                let per_node = rt
                    .nodes
                    .iter()
                    .zip(&node_users)
                    .zip(&workdirs)
                    .zip(&leak_files);
                for (i, (((n, users), workdir), leak)) in per_node.enumerate() {
                    let wake = wakes.next();
                    let hub = hub.as_ref();
                    let unl = &unl;
                    let workdir = workdir.clone();
                    let lcl_hash = &lcl_hash;
                    let observer = self.observers.contains(&i);
                    let start_delay = self.start_delays.get(&i).copied().unwrap_or_default();
                    let start_after_npl = self.start_after_npl.get(&i).copied();
                    handles.push(scope.spawn(move || {
                        let (config, variant, contract_id, map_args, args_via_file) = spec_base;
                        let spec = ExecSpec {
                            config,
                            variant,
                            kind,
                            contract_id,
                            timestamp,
                            lcl_seq_no: rt.lcl_seq_no,
                            lcl_hash,
                            non_consensus_rounds: rt.non_consensus_rounds,
                            users,
                            unl,
                            map_args,
                            leak_files: leak,
                            args_via_file,
                        };
                        let inputs = match kind {
                            Mode::Consensus => Some(&n.inputs.fd),
                            Mode::ReadRequest => Some(&n.read_inputs.fd),
                            Mode::ConsensusFallback => None,
                        };
                        host::execute(
                            &spec,
                            NodeExec {
                                index: i,
                                public_key: &n.keys.public_key,
                                private_key: &n.keys.private_key,
                                observer,
                                workdir,
                                inputs,
                                start_delay,
                                start_after_npl,
                                npl: hub.zip(wake),
                            },
                        )
                    }));
                }
                handles
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .unwrap_or_else(|_| Err(io::Error::other("node thread panicked")))
                    })
                    .collect()
            })
        };

        // Every node is done: the lost lists are complete.
        if let Some(h) = &hub {
            for (i, r) in results.iter_mut().enumerate() {
                if let Ok(report) = r {
                    report.npl_lost = h.take_lost(i);
                }
            }
        }

        let mut nodes = Vec::new();
        // Each node's patch.cfg after the round (`None`: deleted).
        let mut patch_files: Vec<Option<Vec<u8>>> = Vec::new();
        for (i, r) in results.into_iter().enumerate() {
            let mut report = r.map_err(io_err(format!("running node {i}")))?;
            let Some(n) = rt.nodes.get(i) else { continue };
            let Some(workdir) = workdirs.get(i) else {
                continue;
            };
            match kind {
                Mode::Consensus | Mode::ConsensusFallback => {
                    if kind == Mode::Consensus && report.exit.engine_success() {
                        report.post_exec =
                            host::run_post_exec(workdir, rt.lcl_seq_no, &rt.lcl_hash);
                    }
                    report.state =
                        Some(snapshot::snapshot(workdir).map_err(io_err("hashing state"))?);
                    let file = read_patch_cfg(&n.dir)?;
                    report.patch_cfg = Some(patch_digest(file.as_deref()));
                    if file.as_deref() != Some(rt.patch_bytes.as_slice()) {
                        let change = match &file {
                            None => Err("missing: the contract deleted it".to_owned()),
                            Some(bytes) => simcfg::check(bytes, self.variant),
                        };
                        report.patch_change = Some(match change {
                            Ok(config) => PatchChange::Valid(Box::new(ConfigUpdate {
                                changes: simcfg::changes(&self.config, &config),
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
                    patch_files.push(file);
                }
                Mode::ReadRequest => {
                    let after = snapshot::snapshot(workdir).map_err(io_err("hashing state"))?;
                    if let Some(b) = before.get(i) {
                        let mut files = snapshot::changed(b, &after);
                        // The engine's read-only session covers patch.cfg too.
                        if read_patch_cfg(&n.dir.join("ro"))? != read_patch_cfg(&n.dir)? {
                            files.push(PATCH_CFG.to_owned());
                        }
                        if !files.is_empty() {
                            report.hazards.push(Hazard::ReadOnlyWrite { files });
                        }
                    }
                    let _ = fs::remove_dir_all(n.dir.join("ro"));
                }
            }
            nodes.push(report);
        }

        // The engine frees consumed inputs once the round is done.
        for (n, list) in rt.nodes.iter().zip(&node_users) {
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

        // The engine applies a changed patch.cfg once the nodes agree on it;
        // here that takes every node having the same valid file.
        let mut config_applied = None;
        if let (Some(first), Some(Some(PatchChange::Valid(update)))) =
            (patch_files.first(), nodes.first().map(|n| &n.patch_change))
            && patch_files.iter().all(|f| f == first)
            && let Some(bytes) = first
        {
            let update = ConfigUpdate::clone(update);
            self.config = update.config.clone();
            rt.written = Some(update.config.clone());
            rt.patch_bytes = bytes.clone();
            if self.leak_engine_fds {
                // The engine persists the applied section to hp.cfg.
                for n in &rt.nodes {
                    fs::write(n.dir.join("hp.cfg"), bytes).map_err(io_err("writing hp.cfg"))?;
                }
            }
            config_applied = Some(update);
        }

        let verdict = verdict(&nodes);
        let report = RoundReport {
            number,
            mode: kind,
            lcl_seq_no: rt.lcl_seq_no,
            lcl_hash: rt.lcl_hash.clone(),
            timestamp,
            rejected_inputs,
            nodes,
            verdict,
            config_applied,
            wall: round_start.elapsed(),
        };
        self.save()?;
        Ok(report)
    }
}

/// Clears what a kept directory holds of a cluster: the manifest and every
/// `node<i>` directory.
fn discard_kept(dir: &Path) -> Result<(), SimError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(format!("reading {}", dir.display()))(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io_err(format!("reading {}", dir.display())))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let is_node = name
            .strip_prefix("node")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if is_node && entry.path().is_dir() {
            fs::remove_dir_all(entry.path())
                .map_err(io_err(format!("clearing {}", entry.path().display())))?;
        }
    }
    match fs::remove_file(dir.join(manifest::FILE)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(format!(
            "removing {}",
            dir.join(manifest::FILE).display()
        ))(e)),
        _ => Ok(()),
    }
}

/// Where a cluster continued from a kept directory
/// ([`Cluster::keep_state`]) picked up.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Resumed {
    /// The directory.
    pub dir: PathBuf,
    /// Rounds the kept cluster had run, of every kind: the next round's
    /// [`number`](RoundReport::number) is one more.
    pub rounds: u64,
    /// The lcl sequence number the next consensus round builds on.
    pub lcl_seq_no: u64,
    /// Its hash.
    pub lcl_hash: String,
    /// The simulated clock: the last consensus or fallback round's timestamp
    /// (the genesis time if there was none).
    pub timestamp: u64,
    /// How the configuration in force differs from the kept one: what this
    /// cluster asked for differently from the kept cluster's request (and
    /// the binary, if it moved).
    pub config_changes: Vec<ConfigChange>,
}

/// `<dir>/patch.cfg`'s bytes; `None` if there is no such file.
fn read_patch_cfg(dir: &Path) -> Result<Option<Vec<u8>>, SimError> {
    let path = dir.join("patch.cfg");
    match fs::read(&path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(format!("reading {}", path.display()))(e)),
    }
}

/// A patch.cfg's entry for the verdict, in the state snapshot's form.
fn patch_digest(file: Option<&[u8]>) -> String {
    match file {
        Some(b) => format!("file:{}", hex(Sha256::digest(b))),
        None => "(missing)".to_owned(),
    }
}

fn genesis_hash() -> String {
    hex(Sha256::digest(b"hotpocket-sim genesis"))
}
