//! [`Round`], the context every handler gets: what the engine said about this
//! execution, the users and UNL nodes, NPL sending, the control channel, the
//! patch config and a deterministic random number generator.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use serde::Serialize;

use crate::args::{Lcl, Mode, PrivateKey, Variant};
use crate::channels::{OutputSocket, PacketSocket};
use crate::config::PatchConfig;
use crate::error::{Error, OutputErrorKind, Result};
use crate::peers::PeerChangeset;
use crate::rng::Rng;
use crate::wire;

/// What an `#[on_npl]` handler returns: whether the NPL phase of the round is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Npl {
    /// Keep receiving NPL messages (until the timeout or the channel closes).
    Continue,
    /// Stop receiving; go on to `#[on_round_end]`.
    Done,
}

/// Where a user's outputs go: the engine's socket, or memory in tests.
#[derive(Debug)]
pub(crate) enum OutputSink {
    Socket(OutputSocket),
    Memory(RefCell<Vec<Vec<u8>>>),
    /// The arguments named no usable socket for this user (the reason is
    /// kept): the user's inputs still run, its outputs fail.
    Unavailable(String),
}

/// A user of the round (a client connected to this node). Users are visited in
/// the engine's order, ascending by public key.
pub struct User {
    public_key: String,
    input_count: usize,
    sink: OutputSink,
    /// Messages accepted so far, so the lifecycle knows a read request got
    /// a reply.
    sent: std::cell::Cell<usize>,
}

impl User {
    pub(crate) fn new(public_key: String, input_count: usize, sink: OutputSink) -> User {
        User {
            public_key,
            input_count,
            sink,
            sent: std::cell::Cell::new(0),
        }
    }

    /// The user's public key, hex, as the engine sends it (`ed…`).
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// How many inputs the user has in this round.
    pub fn input_count(&self) -> usize {
        self.input_count
    }

    /// Sends one output message to the user. Messages reach the user in the
    /// order they are sent; every node must send the same messages in the
    /// same order for the round's outputs to reach consensus.
    ///
    /// Messages are batched (up to 32 KiB per write) and written at the
    /// latest after the user's inputs and at the end of the round, in a way
    /// that keeps the engine's framing intact. In a consensus round of a
    /// contract that saves state ([`Contract::SAVES_STATE`](crate::Contract::SAVES_STATE))
    /// they are held until the state is saved, and never sent if the save
    /// fails: no user hears of a change that was not kept.
    ///
    /// Fails with [`Error::Output`] when the engine has closed the user's
    /// socket (its `round_limits.user_output_bytes` was reached) or the
    /// message exceeds 4 GiB. Because of batching, a closed socket shows
    /// when a batch is written: on a later `send`, or in the round's report
    /// on stderr.
    pub fn send(&self, message: impl AsRef<[u8]>) -> Result<()> {
        self.send_bytes(message.as_ref())?;
        self.count_sent();
        Ok(())
    }

    fn count_sent(&self) {
        self.sent.set(self.sent.get().saturating_add(1));
    }

    /// How many messages this user has been sent in the round.
    pub(crate) fn sent_count(&self) -> usize {
        self.sent.get()
    }

    fn send_bytes(&self, message: &[u8]) -> Result<()> {
        match &self.sink {
            OutputSink::Socket(s) => s.send(message).map_err(|kind| Error::Output {
                user: self.public_key.clone(),
                kind,
            }),
            OutputSink::Unavailable(why) => Err(Error::Output {
                user: self.public_key.clone(),
                kind: OutputErrorKind::Io(std::io::Error::other(why.clone())),
            }),
            OutputSink::Memory(v) => {
                if u32::try_from(message.len()).is_err() {
                    return Err(Error::Output {
                        user: self.public_key.clone(),
                        kind: OutputErrorKind::TooLarge(message.len()),
                    });
                }
                v.borrow_mut().push(message.to_vec());
                Ok(())
            }
        }
    }

    /// Serialises `value` as JSON and sends it. Use ordered collections
    /// (`BTreeMap`, `Vec`) in `value`: a `HashMap`'s order differs between
    /// nodes and would break consensus on the output.
    pub fn send_json<T: Serialize + ?Sized>(&self, value: &T) -> Result<()> {
        let ser_err = |e: serde_json::Error| {
            Error::Custom(format!(
                "serialising output for user {}: {e}",
                self.public_key
            ))
        };
        match &self.sink {
            // Serialised straight into the socket's batch buffer.
            OutputSink::Socket(s) => {
                s.send_with(|buf| serde_json::to_writer(buf, value))
                    .map_err(|kind| Error::Output {
                        user: self.public_key.clone(),
                        kind,
                    })?
                    .map_err(ser_err)?;
                self.count_sent();
                Ok(())
            }
            OutputSink::Memory(_) | OutputSink::Unavailable(_) => {
                let bytes = serde_json::to_vec(value).map_err(ser_err)?;
                self.send(bytes)
            }
        }
    }

    /// Writes the outputs queued for this user (the lifecycle does this after
    /// the user's inputs and at the end of the round).
    pub(crate) fn flush(&self) -> Result<()> {
        match &self.sink {
            OutputSink::Socket(s) => s.flush().map_err(|kind| Error::Output {
                user: self.public_key.clone(),
                kind,
            }),
            // Nothing is ever queued: every send already failed.
            OutputSink::Memory(_) | OutputSink::Unavailable(_) => Ok(()),
        }
    }

    /// Holds the user's outputs from now on: none reaches the engine until
    /// [`release_outputs`](Self::release_outputs).
    pub(crate) fn hold_outputs(&self) {
        if let OutputSink::Socket(s) = &self.sink {
            s.hold();
        }
    }

    /// Writes the held outputs (after the round's state was committed).
    pub(crate) fn release_outputs(&self) -> Result<()> {
        match &self.sink {
            OutputSink::Socket(s) => s.release().map_err(|kind| Error::Output {
                user: self.public_key.clone(),
                kind,
            }),
            OutputSink::Memory(_) | OutputSink::Unavailable(_) => Ok(()),
        }
    }

    /// Drops the held outputs unsent (the round's commit failed). In-memory
    /// outputs, which tests read after the round, are dropped alike.
    pub(crate) fn discard_outputs(&self) {
        match &self.sink {
            OutputSink::Socket(s) => s.discard(),
            OutputSink::Memory(v) => v.borrow_mut().clear(),
            OutputSink::Unavailable(_) => {}
        }
    }

    pub(crate) fn take_memory_outputs(&self) -> Vec<Vec<u8>> {
        match &self.sink {
            OutputSink::Memory(v) => std::mem::take(&mut *v.borrow_mut()),
            OutputSink::Socket(_) | OutputSink::Unavailable(_) => Vec::new(),
        }
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("public_key", &self.public_key)
            .field("input_count", &self.input_count)
            .finish_non_exhaustive()
    }
}

/// A node of the UNL (unique node list), or the sender of an NPL message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    public_key: String,
    active_on: u64,
    lcl: Option<Lcl>,
    is_self: bool,
    in_unl: bool,
}

impl Node {
    pub(crate) fn new(
        public_key: String,
        active_on: u64,
        lcl: Option<Lcl>,
        is_self: bool,
        in_unl: bool,
    ) -> Node {
        Node {
            public_key,
            active_on,
            lcl,
            is_self,
            in_unl,
        }
    }

    /// The node's public key, hex (`ed…`).
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// When this node last heard the peer's proposal (unix ms). **Node-local**:
    /// it differs between nodes, so it must never reach outputs or state.
    pub fn active_on(&self) -> u64 {
        self.active_on
    }

    /// The peer's last closed ledger, as this node last saw it (engine
    /// fallback branch only; `None` on engine 0.6.4). Node-local like
    /// [`active_on`](Node::active_on).
    pub fn lcl(&self) -> Option<&Lcl> {
        self.lcl.as_ref()
    }

    /// True for this node itself (the engine delivers a node's own NPL
    /// messages back to it).
    pub fn is_self(&self) -> bool {
        self.is_self
    }

    /// False for an NPL sender the arguments did not list in the UNL.
    pub fn in_unl(&self) -> bool {
        self.in_unl
    }
}

/// Where NPL messages, control messages and patch.cfg changes go.
#[derive(Debug)]
pub(crate) enum Outbox {
    Engine {
        npl: Option<Rc<PacketSocket>>,
        control: Option<PacketSocket>,
    },
    Memory {
        npl: Vec<Vec<u8>>,
        control: Vec<Vec<u8>>,
        npl_available: bool,
    },
}

/// Where `patch.cfg` lives: the engine's `../patch.cfg`, or memory in tests.
#[derive(Debug)]
pub(crate) enum PatchStore {
    File(std::path::PathBuf),
    Memory(Option<PatchConfig>),
}

/// Facts about the round that do not change while it runs.
#[derive(Clone, Debug)]
pub(crate) struct RoundInfo {
    pub(crate) variant: Variant,
    pub(crate) mode: Mode,
    pub(crate) hp_version: String,
    pub(crate) contract_id: String,
    pub(crate) public_key: String,
    pub(crate) private_key: PrivateKey,
    pub(crate) timestamp: u64,
    pub(crate) lcl: Option<Lcl>,
    pub(crate) non_consensus_rounds: Option<u16>,
    /// The contract's environment, read once: sorted, so nothing that walks
    /// it depends on the order the process was given it in.
    pub(crate) env: BTreeMap<String, String>,
}

/// The context handed to every handler.
///
/// Everything here is the same on every node except what is marked
/// node-local ([`Node::active_on`], [`Round::public_key`]): keep node-local
/// values out of outputs and state.
pub struct Round {
    info: RoundInfo,
    users: Rc<[User]>,
    unl: Rc<[Node]>,
    outbox: Outbox,
    patch: PatchStore,
    rng: Rng,
    npl_skipped: bool,
}

impl Round {
    pub(crate) fn new(
        info: RoundInfo,
        users: Rc<[User]>,
        unl: Rc<[Node]>,
        outbox: Outbox,
        patch: PatchStore,
    ) -> Round {
        let rng = Rng::from_lcl(info.lcl.as_ref());
        Round {
            info,
            users,
            unl,
            outbox,
            patch,
            rng,
            npl_skipped: false,
        }
    }

    /// The contract's environment variable `key`, `None` when it is not set
    /// (or not valid UTF-8).
    ///
    /// Under the engine this is the process environment, read once when the
    /// round starts: exactly the `contract.environment` map of the contract's
    /// config, which is part of `patch.cfg` and so the same on every node (the
    /// engine passes nothing else, no `PATH` or `HOME`). The simulator and
    /// dev mode's `--env KEY=VALUE` set it the same way. In a
    /// [`TestRound`](crate::testing::TestRound) it is what
    /// [`TestRound::env`](crate::testing::TestRound::env) set, which is why
    /// settings are better read here than with `std::env::var`: a test can
    /// give every round its own without touching the test process's
    /// environment.
    pub fn env(&self, key: &str) -> Option<&str> {
        self.info.env.get(key).map(String::as_str)
    }

    /// The kind of execution: consensus, fallback or read request.
    pub fn mode(&self) -> Mode {
        self.info.mode
    }

    /// Which argument layout the engine used (tells engine 0.6.4 from the fallback branch).
    pub fn variant(&self) -> Variant {
        self.info.variant
    }

    /// True in read requests: state changes are not saved and there is no NPL.
    pub fn is_read_only(&self) -> bool {
        self.info.mode.is_read_only()
    }

    /// The round's agreed time (unix ms), the same on every node. 0 in read
    /// requests (the engine sends none) and in fallback rounds without a
    /// winning proposal. Use it instead of the wall clock.
    pub fn timestamp(&self) -> u64 {
        self.info.timestamp
    }

    /// The last closed ledger (`None` in read requests).
    pub fn lcl(&self) -> Option<&Lcl> {
        self.info.lcl.as_ref()
    }

    /// The last closed ledger's sequence number (`None` in read requests).
    pub fn lcl_seq_no(&self) -> Option<u64> {
        self.info.lcl.as_ref().map(|l| l.seq_no)
    }

    /// The last closed ledger's hash, hex (`None` in read requests).
    pub fn lcl_hash(&self) -> Option<&str> {
        self.info.lcl.as_ref().map(|l| l.hash.as_str())
    }

    /// Consecutive rounds without consensus (fallback rounds only).
    pub fn non_consensus_rounds(&self) -> Option<u16> {
        self.info.non_consensus_rounds
    }

    /// The contract's id.
    pub fn contract_id(&self) -> &str {
        &self.info.contract_id
    }

    /// This node's public key. **Node-local.**
    pub fn public_key(&self) -> &str {
        &self.info.public_key
    }

    /// This node's private key (for signing). Never printed by this crate.
    pub fn private_key(&self) -> &PrivateKey {
        &self.info.private_key
    }

    /// The engine's version string (e.g. `0.6.4`).
    pub fn hp_version(&self) -> &str {
        &self.info.hp_version
    }

    /// The round's users, ascending by public key (the engine's order).
    pub fn users(&self) -> &[User] {
        &self.users
    }

    /// The user with this public key, if it is in the round.
    pub fn user(&self, public_key: &str) -> Option<&User> {
        self.users
            .binary_search_by(|u| u.public_key.as_str().cmp(public_key))
            .ok()
            .and_then(|i| self.users.get(i))
    }

    /// The UNL, ascending by public key (the engine's order).
    pub fn unl(&self) -> &[Node] {
        &self.unl
    }

    /// Sends a message to every UNL node's contract (this node included) over
    /// the node party line. 1 byte to 128 KiB; not available in read requests.
    /// Delivery is best-effort: see the crate docs on NPL.
    pub fn npl_send(&mut self, message: impl AsRef<[u8]>) -> Result<()> {
        let message = message.as_ref();
        let unavailable = || Error::NotAllowed("NPL is not available in read requests".into());
        match &mut self.outbox {
            Outbox::Engine { npl: Some(s), .. } => s.send(message),
            Outbox::Engine { npl: None, .. } => Err(unavailable()),
            Outbox::Memory {
                npl_available: false,
                ..
            } => Err(unavailable()),
            Outbox::Memory { npl, .. } => {
                wire::check_packet(message.len()).map_err(Error::Npl)?;
                npl.push(message.to_vec());
                Ok(())
            }
        }
    }

    /// Skips this round's NPL phase: after the inputs the runtime goes
    /// straight to `#[on_round_end]` instead of reading NPL messages until
    /// the `#[on_npl]` handler is done or `npl_timeout_ms` passes. For
    /// contracts that use NPL only in some rounds (only in fallback rounds,
    /// say), so the other rounds do not wait for messages that never come.
    /// Call it from `#[on_round_start]` or `#[on_input]`; messages that
    /// arrive anyway are not read.
    pub fn skip_npl_phase(&mut self) {
        self.npl_skipped = true;
    }

    pub(crate) fn npl_phase_skipped(&self) -> bool {
        self.npl_skipped
    }

    /// Asks the engine to change this node's peer list (a `peer_changeset`
    /// control message). Peers are `host:port`; [`PeerChangeset::replace_all`]
    /// overwrites the list. The engine ignores the request (with a warning in
    /// its log) while `mesh.peer_discovery.enabled` is on, which is its default.
    /// Not allowed in read requests.
    pub fn update_peers(&mut self, changeset: &PeerChangeset) -> Result<()> {
        if self.is_read_only() {
            return Err(Error::NotAllowed(
                "peer changes are not allowed in read requests".into(),
            ));
        }
        self.send_control(&changeset.to_control_json())
    }

    /// Reads the contract's `patch.cfg` (`../patch.cfg`, the engine's copy of
    /// the contract section of its config).
    pub fn patch_config(&self) -> Result<PatchConfig> {
        match &self.patch {
            PatchStore::File(path) => PatchConfig::read(path),
            PatchStore::Memory(Some(cfg)) => Ok(cfg.clone()),
            PatchStore::Memory(None) => Err(Error::config("", "this test round has no patch.cfg")),
        }
    }

    /// Validates `config` by the engine's rules and writes it to `patch.cfg`
    /// atomically. The engine applies it once the nodes agree on the new
    /// file (after this round's state is voted on). Not allowed in read
    /// requests. An invalid config is refused here, because the engine
    /// would stall on it.
    pub fn update_patch_config(&mut self, config: &PatchConfig) -> Result<()> {
        if self.is_read_only() {
            return Err(Error::NotAllowed(
                "patch.cfg cannot be changed in read requests".into(),
            ));
        }
        match &mut self.patch {
            PatchStore::File(path) => config.write(path),
            PatchStore::Memory(slot) => {
                config.validate()?;
                *slot = Some(config.clone());
                Ok(())
            }
        }
    }

    pub(crate) fn patch_store(&self) -> &PatchStore {
        &self.patch
    }

    /// Sends a raw control message (one JSON object) to the engine.
    pub(crate) fn send_control(&mut self, message: &[u8]) -> Result<()> {
        match &mut self.outbox {
            Outbox::Engine {
                control: Some(s), ..
            } => s.send(message),
            Outbox::Engine { control: None, .. } => {
                Err(Error::Control("no control channel".into()))
            }
            Outbox::Memory { control, .. } => {
                wire::check_packet(message.len()).map_err(Error::Control)?;
                control.push(message.to_vec());
                Ok(())
            }
        }
    }

    /// The deterministic random number generator for this round, seeded from
    /// the lcl hash: every node draws the same numbers. See [`Rng`].
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    pub(crate) fn users_rc(&self) -> Rc<[User]> {
        Rc::clone(&self.users)
    }

    pub(crate) fn unl_rc(&self) -> Rc<[Node]> {
        Rc::clone(&self.unl)
    }

    pub(crate) fn outbox_mut(&mut self) -> &mut Outbox {
        &mut self.outbox
    }
}

impl fmt::Debug for Round {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Round")
            .field("mode", &self.info.mode)
            .field("timestamp", &self.info.timestamp)
            .field("lcl", &self.info.lcl)
            .field("users", &self.users.len())
            .field("unl", &self.unl.len())
            .finish_non_exhaustive()
    }
}
