//! A simulated cluster: nodes, users, and the rounds they run.
//!
//! [`ClusterBuilder`] (builder.rs) configures it and sets it up (setup.rs);
//! a round runs as named steps (round.rs); the engine's input store is in
//! store.rs.

mod builder;
mod error;
mod explore;
mod fallback_time;
mod hosts;
mod lcl;
mod lost;
mod message_limit;
mod round;
mod schedule;
mod setup;
mod store;
pub(super) mod vary;

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::config::{self as simcfg, ConfigChange, Variant};
use super::keys::KeyPair;
use super::manifest::{self, Manifest};
use super::npl::NplFault;
use super::report::{Mode, RoundReport};
use crate::config::PatchConfig;
pub use builder::ClusterBuilder;
use builder::Settings;
pub use error::SimError;
use error::io_err;
pub use explore::{Exploration, Split};
use hex::encode as hex;
pub use hosts::NotVaried;
pub use message_limit::MAX_USER_MESSAGE_BYTES;
pub use schedule::{RoundPlan, Schedule};
use sha2::{Digest, Sha256};
use store::InputStore;

/// The simulated clock's start: 2024-01-01T00:00:00Z in unix ms. Round `n`'s
/// timestamp is this plus `n` round times, so timestamps never depend on
/// when the simulation runs.
pub const GENESIS_MS: u64 = 1_704_067_200_000;

/// The contract id handed to contracts unless [`ClusterBuilder::contract_id`] sets one.
pub const DEFAULT_CONTRACT_ID: &str = "00000000-5349-4d00-8000-686f74706f63";

/// One node's live parts.
struct NodeRt {
    keys: KeyPair,
    dir: PathBuf,
    inputs: InputStore,
    read_inputs: InputStore,
}

/// The live state of a set-up cluster.
struct Runtime {
    root: PathBuf,
    /// A temporary root, removed on drop; otherwise a kept one, with a manifest.
    remove_on_drop: bool,
    bin: PathBuf,
    nodes: Vec<NodeRt>,
    lcl_seq_no: u64,
    lcl_hash: String,
    /// The lcls before the current one, oldest first (at most
    /// [`lcl::LCL_HISTORY`]; not kept across a kept cluster's runs).
    recent_lcls: Vec<(u64, String)>,
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
    /// Each node's host, index by index.
    hosts: Vec<super::host::NodeHost>,
    /// What the hosts could not be made to differ in.
    not_varied: Vec<NotVaried>,
    /// Node state directories kept outside `root` (on a second file
    /// system), removed with it.
    outside: Vec<PathBuf>,
    /// Whether a round already started its nodes across a whole second.
    straddled: bool,
    /// Why the next consensus round closes no ledger (set by an agreed
    /// round-time change).
    lose_next: Option<String>,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if self.remove_on_drop {
            let _ = fs::remove_dir_all(&self.root);
            for dir in &self.outside {
                let _ = fs::remove_dir_all(dir);
            }
        }
    }
}

/// A simulated HotPocket cluster running one contract binary.
///
/// [`Cluster::builder`] configures it (methods taking and returning the
/// builder by value) and [`ClusterBuilder::build`] sets it up; running
/// methods take `&mut self`:
///
/// ```no_run
/// use hotpocket::sim::Cluster;
/// # fn main() -> Result<(), hotpocket::sim::SimError> {
/// let report = Cluster::builder("target/debug/examples/counter")
///     .nodes(3)
///     .user("alice")
///     .build()?
///     .input("alice", br#"{"Add":5}"#)
///     .round()?;
/// report.assert_agree().assert_outputs("alice", &["5"]);
/// # Ok(()) }
/// ```
///
/// Every node has its own key pair (derived from its index) and state
/// directory `<root>/node<i>/state` with `<root>/node<i>/patch.cfg`; the UNL
/// is all nodes. The root is a fresh temporary directory removed on drop,
/// unless [`keep_state`](ClusterBuilder::keep_state) names one, which a later cluster
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
/// on the new file ([`guide::protocol`](crate::guide::protocol#patchcfg)): if every node's file changed to the
/// same bytes and [passes the engine's rules](PatchConfig::validate), it
/// becomes the configuration for the next rounds
/// ([`RoundReport::config_applied`]). Of its fields, `bin_path` (relative
/// to the state directory), `bin_args`, `environment`, every
/// `round_limits` entry and `consensus.roundtime` (the clock's step and the
/// fallback time limit) take effect, and `consensus.fallback.execute: false`
/// makes [`fallback_round`](Self::fallback_round) refuse to run. `unl` and
/// `consensus.threshold` decide whether a consensus round closes a ledger:
/// it needs `ceil(threshold% * unl.len())` UNL members that are
/// non-observer nodes of the cluster, or it is reported with
/// [`no_ledger`](RoundReport::no_ledger); so does the first consensus round
/// after an agreed `roundtime` change, as on a real cluster. The rest
/// (`version`, `max_input_ledger_offset`, the modes, `stage_slice`) is
/// recorded in [`patch_config`](Self::patch_config) only, and the contract's
/// `unl` argument and NPL stay the cluster's nodes. A file the
/// engine would reject is a [`Hazard::InvalidPatchConfig`](crate::sim::Hazard::InvalidPatchConfig) on that node, and
/// files differing between nodes are a disagreement at `../patch.cfg`;
/// neither is applied.
pub struct Cluster {
    settings: Settings,
    /// Inputs queued for the next consensus round.
    pending: Vec<(String, Vec<u8>)>,
    rt: Runtime,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("bin", &self.rt.bin)
            .field("nodes", &self.rt.nodes.len())
            .field(
                "users",
                &self.settings.users.iter().map(|u| &u.0).collect::<Vec<_>>(),
            )
            .field("variant", &self.settings.variant)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Configures a cluster running the contract binary at `bin`: one node,
    /// the engine's default contract configuration, the `readonly` variant.
    pub fn builder(bin: impl Into<PathBuf>) -> ClusterBuilder {
        ClusterBuilder::new(bin.into())
    }

    /// What real nodes differ in that this cluster's nodes do not, and why
    /// (the machine forbids it, or the builder asked for it): a contract
    /// depending on one of these can agree here and split a real cluster.
    pub fn not_varied(&self) -> &[NotVaried] {
        &self.rt.not_varied
    }

    /// The contract configuration, for changes between rounds: a change is
    /// written to every node's `patch.cfg` before the next round.
    pub fn config_mut(&mut self) -> &mut PatchConfig {
        &mut self.settings.config
    }

    /// The contract configuration the next round runs with: as configured,
    /// with the cluster's UNL and binary filled in once a round ran, and any
    /// `patch.cfg` change the nodes agreed on applied.
    pub fn patch_config(&self) -> &PatchConfig {
        &self.settings.config
    }

    /// Replaces the NPL fault rules, for changes between rounds.
    pub fn set_npl_faults(&mut self, faults: Vec<NplFault>) -> &mut Self {
        self.settings.faults = faults;
        self
    }

    /// Starts node `i`'s contract `delay` after the others in the following
    /// rounds ([`ClusterBuilder::start_delay`], for changes between rounds;
    /// zero: on time).
    pub fn set_start_delay(&mut self, i: usize, delay: std::time::Duration) -> &mut Self {
        if delay.is_zero() {
            self.settings.start_delays.remove(&i);
        } else {
            self.settings.start_delays.insert(i, delay);
        }
        self
    }

    /// Queues an input from `user` for the next consensus round (adding the
    /// user if unknown). Inputs reach the contract in the order queued.
    pub fn input(&mut self, user: &str, data: impl AsRef<[u8]>) -> &mut Self {
        self.settings.ensure_user(user);
        self.pending.push((user.to_owned(), data.as_ref().to_vec()));
        self
    }

    /// Makes the round's users exactly these public keys (`ed` hex), each
    /// named by its key: for clients that bring their own keys (a served
    /// cluster's connected users). Their private keys are not known, and the
    /// simulator never needs a user's.
    pub fn set_user_keys(&mut self, keys: &[String]) -> &mut Self {
        self.settings.users = keys
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
        &self.settings.contract_id
    }

    /// Node `i`'s key pair.
    pub fn node_keys(&self, i: usize) -> KeyPair {
        KeyPair::node(i)
    }

    /// The public key of the user called `name`.
    pub fn user_public_key(&self, name: &str) -> String {
        KeyPair::user(name).public_key
    }

    /// The root directory holding `node<i>/`.
    pub fn root(&self) -> &Path {
        &self.rt.root
    }

    /// Node `i`'s state directory.
    pub fn state_dir(&self, i: usize) -> PathBuf {
        self.rt.root.join(format!("node{i}")).join("state")
    }

    /// The current lcl: sequence number and hash.
    pub fn lcl(&self) -> (u64, String) {
        (self.rt.lcl_seq_no, self.rt.lcl_hash.clone())
    }

    /// Where this cluster continued a kept one from
    /// ([`ClusterBuilder::keep_state`]); `None` for a new cluster.
    pub fn resumed(&self) -> Option<&Resumed> {
        self.rt.resumed.as_ref()
    }

    /// Runs one consensus round with the queued inputs.
    pub fn round(&mut self) -> Result<RoundReport, SimError> {
        self.run(Mode::Consensus, None)
    }

    /// Runs `n` consensus rounds (queued inputs go to the first).
    pub fn rounds(&mut self, n: usize) -> Result<Vec<RoundReport>, SimError> {
        (0..n).map(|_| self.round()).collect()
    }

    /// Runs a read request from `user`, connected to node 0, with one input:
    /// a read-only execution with that one user, no NPL, `timestamp` 0, and
    /// state changes discarded. Node 0 answers; the other nodes run it too,
    /// as the simulator's extra check (see [`read_on`](Self::read_on)).
    ///
    /// A read request over the engine's message limit
    /// ([`MAX_USER_MESSAGE_BYTES`]) runs nowhere: the report lists it in
    /// [`oversized_inputs`](RoundReport::oversized_inputs) and has no nodes.
    pub fn read(&mut self, user: &str, data: impl AsRef<[u8]>) -> Result<RoundReport, SimError> {
        self.read_on(0, user, data)
    }

    /// Runs a read request from `user` connected to node `node`: the engine
    /// runs it on that node only, and that node's run is the answer
    /// ([`RoundReport::read_node`]). Unless
    /// [`check_reads`](ClusterBuilder::check_reads) is off, the other nodes
    /// run it too, and the verdict says whether their answers match: a check
    /// the engine never makes.
    pub fn read_on(
        &mut self,
        node: usize,
        user: &str,
        data: impl AsRef<[u8]>,
    ) -> Result<RoundReport, SimError> {
        if node >= self.rt.nodes.len() {
            return Err(SimError::Usage(format!(
                "read_on: node {node} does not exist ({} nodes)",
                self.rt.nodes.len()
            )));
        }
        self.settings.ensure_user(user);
        if self.over_message_limit(data.as_ref().len()) {
            return self.unsent_read(user, data.as_ref().len());
        }
        self.run(
            Mode::ReadRequest,
            Some((user.to_owned(), data.as_ref().to_vec(), node)),
        )
    }

    /// Runs a consensus-fallback round (`mode` variant only): no users,
    /// `user_in_fd` 0, NPL available, the lcl unchanged, state kept, no
    /// `post_exec.sh`, and the engine's time limit: what is left of the
    /// round, less 100 ms, after the stage check that found the votes
    /// unreliable (stage 1: `roundtime - 100 - stage0`, 650 ms at the
    /// defaults). A perturbation [`Schedule`] makes some nodes find out at
    /// stage 2 or 3: they start later and get less (150 ms at stage 3).
    pub fn fallback_round(&mut self) -> Result<RoundReport, SimError> {
        if self.settings.variant != Variant::Mode {
            return Err(SimError::Usage(
                "fallback rounds exist only in the `mode` variant (hpcore fallback-hpsh); use .variant(Variant::Mode)"
                    .into(),
            ));
        }
        if self
            .settings
            .config
            .consensus
            .fallback
            .is_some_and(|f| !f.execute)
        {
            return Err(SimError::Usage(
                "consensus.fallback.execute is false: the engine does not run the contract in fallback rounds"
                    .into(),
            ));
        }
        self.run(Mode::ConsensusFallback, None)
    }

    /// Writes a kept cluster's manifest (nothing for a temporary one).
    fn save(&self) -> Result<(), SimError> {
        let rt = &self.rt;
        if rt.remove_on_drop {
            return Ok(());
        }
        let value =
            |c: &PatchConfig| serde_json::to_value(c).map_err(|e| SimError::Usage(e.to_string()));
        let m = Manifest {
            format: manifest::FORMAT.to_owned(),
            nodes: rt.nodes.len(),
            node_keys: rt.nodes.iter().map(|n| n.keys.public_key.clone()).collect(),
            variant: simcfg::variant_name(self.settings.variant).to_owned(),
            contract_id: self.settings.contract_id.clone(),
            bin: rt.bin.to_string_lossy().into_owned(),
            rounds: rt.rounds,
            lcl_seq_no: rt.lcl_seq_no,
            lcl_hash: rt.lcl_hash.clone(),
            clock_ms: rt.clock_ms,
            non_consensus_rounds: rt.non_consensus_rounds,
            requested: value(&rt.requested)?,
            config: value(&self.settings.config)?,
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
        let rt = &mut self.rt;
        let s = &mut self.settings;
        let keys: Vec<String> = rt.nodes.iter().map(|n| n.keys.public_key.clone()).collect();
        simcfg::resolve(&mut s.config, s.variant, &rt.bin, &keys);
        if rt.written.as_ref() == Some(&s.config) {
            return Ok(());
        }
        // The engine refuses to start with an invalid hp.cfg.
        s.config
            .validate()
            .map_err(|e| SimError::Usage(format!("invalid contract configuration: {e}")))?;
        let bytes = s
            .config
            .to_pretty_json()
            .map_err(|e| SimError::Usage(e.to_string()))?;
        for n in &rt.nodes {
            fs::write(n.dir.join("patch.cfg"), &bytes).map_err(io_err("writing patch.cfg"))?;
            if s.leak_engine_fds {
                fs::write(n.dir.join("hp.cfg"), &bytes).map_err(io_err("writing hp.cfg"))?;
            }
        }
        rt.patch_bytes = bytes;
        rt.written = Some(s.config.clone());
        Ok(())
    }
}

/// Where a cluster continued from a kept directory
/// ([`ClusterBuilder::keep_state`]) picked up.
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

/// The lcl hash before the first ledger.
fn genesis_hash() -> String {
    hex(Sha256::digest(b"hotpocket-sim genesis"))
}
