//! What one node's execution produced: exit, outputs, control and NPL
//! traffic, state, hazards.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

pub use crate::args::Mode;
use crate::config::PatchConfig;
use crate::sim::serve::embed::RawProblem;

use super::super::config::ConfigChange;

/// Human wording of a round's mode in reports.
pub(crate) fn mode_text(mode: Mode) -> &'static str {
    match mode {
        Mode::Consensus => "consensus",
        Mode::ReadRequest => "read request",
        Mode::ConsensusFallback => "consensus fallback",
    }
}

/// How the contract process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this code (the engine counts any code as success).
    Code(i32),
    /// It was ended by this signal (the engine: "ended prematurely").
    Signal(i32),
    /// It could not be started (spawn failed); the message is in `stderr`.
    NotStarted,
}

impl Exit {
    /// True when the engine would count the execution as successful (`WIFEXITED`).
    pub fn engine_success(self) -> bool {
        matches!(self, Exit::Code(_))
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit {c}"),
            Exit::Signal(s) => write!(f, "killed by {}", signal_name(*s)),
            Exit::NotStarted => f.write_str("not started"),
        }
    }
}

fn signal_name(sig: i32) -> String {
    match nix::sys::signal::Signal::try_from(sig) {
        Ok(s) => s.as_str().to_owned(),
        Err(_) => format!("signal {sig}"),
    }
}

/// CPU, memory and storage writes of the contract process (from `wait4`
/// and `/proc/<pid>/io`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// User CPU time.
    pub user_cpu: Duration,
    /// System CPU time.
    pub sys_cpu: Duration,
    /// Peak resident set size in KiB (`ru_maxrss`). The kernel counts in it
    /// the simulator's anonymous memory that the child inherited at fork, so
    /// the simulator frees what it can before spawning; a few MiB remain.
    pub max_rss_kib: u64,
    /// Bytes the contract caused to be written to storage (`write_bytes` of
    /// `/proc/<pid>/io`, read before the exited process is reaped): every
    /// page of the page cache it dirtied, once per page, whether or not it
    /// was written back yet. The filesystem's own journal writes (ext4's
    /// jbd2) are a kernel thread's and not counted; 0 where the kernel has
    /// no I/O accounting.
    pub write_bytes: u64,
}

/// One user's outputs on one node, in emission order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserOutputs {
    /// The user's name in the cluster.
    pub user: String,
    /// The user's public key.
    pub public_key: String,
    /// The messages as the engine would deliver them (a cut-short last
    /// message included, as the engine does).
    pub messages: Vec<Vec<u8>>,
}

/// A control message the contract sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlMessage {
    /// The packet's bytes (at most 128 KiB: the engine reads no more).
    pub raw: Vec<u8>,
    /// What the engine makes of it.
    pub meaning: ControlMeaning,
}

/// How the engine interprets a control message (`sc.cpp handle_control_msg`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControlMeaning {
    /// A well-formed `peer_changeset`. The engine applies it only when peer
    /// discovery is disabled (it is enabled by default).
    PeerChangeset {
        /// Peers to add (`host:port`).
        add: Vec<String>,
        /// Peers to remove; `None` for `"*"` (remove all, then add).
        remove: Option<Vec<String>>,
    },
    /// Ignored by the engine, with the reason.
    Ignored(IgnoredControl),
}

/// A control message the engine ignores: why, as a kind and in words. It
/// reads as its reason (`Deref<Target = str>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IgnoredControl {
    /// What was wrong with it.
    pub kind: IgnoredKind,
    /// The reason in words, as the report shows it.
    pub reason: String,
}

impl std::ops::Deref for IgnoredControl {
    type Target = str;
    fn deref(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for IgnoredControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// Why the engine ignores a control message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IgnoredKind {
    /// Not valid JSON.
    NotJson,
    /// No string `type` field.
    NoType,
    /// A `type` other than `peer_changeset` (the engine drops it silently).
    UnknownType,
    /// A `peer_changeset` whose `add` is not an array of `"host:port"`.
    BadAdd,
    /// A `peer_changeset` whose `remove` is neither such an array nor `"*"`.
    BadRemove,
    /// A `peer_changeset` without `remove`.
    NoRemove,
}

impl IgnoredKind {
    /// Whether the engine logs such a message as broken (all but unknown
    /// types, which it drops without a word).
    pub fn engine_logs(self) -> bool {
        self != IgnoredKind::UnknownType
    }
}

/// An NPL message as one node's contract received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NplReceived {
    /// The sending node's index.
    pub from: usize,
    /// The sending node's public key (what the engine writes as the first packet).
    pub public_key: String,
    /// The payload (the second packet).
    pub data: Vec<u8>,
}

/// An NPL message that did not reach a node's contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NplLost {
    /// The sending node's index.
    pub from: usize,
    /// The intended receiver's index.
    pub to: usize,
    /// Payload length.
    pub len: usize,
    /// Why.
    pub reason: String,
}

/// What happened with `post_exec.sh` (hpcore `sc.cpp` `run_post_exec_script`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostExec {
    /// How the script ended.
    pub exit: Exit,
    /// The engine's reading of it.
    pub outcome: PostExecOutcome,
    /// The script's stdout and stderr, concatenated.
    pub output: Vec<u8>,
}

/// The engine's reading of a `post_exec.sh` run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostExecOutcome {
    /// Exit 0: success; the engine deletes the script.
    Deleted,
    /// Exit 3–125: success; the script stays and runs again next round.
    Kept,
    /// Exit 1, 2, 126–255 or a signal: failure. The engine drops this node's
    /// round results (`execute_contract` returns -1).
    Failed,
}

/// A new contract configuration and what changed from the previous one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigUpdate {
    /// The configuration as parsed from the file.
    pub config: PatchConfig,
    /// The keys that changed, by dotted path (empty if the file was only
    /// reformatted).
    pub changes: Vec<ConfigChange>,
}

/// A node's `../patch.cfg` after a round that changed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatchChange {
    /// The engine would accept it. The cluster applies it once every node
    /// has the same file ([`RoundReport::config_applied`](crate::sim::RoundReport::config_applied)).
    Valid(Box<ConfigUpdate>),
    /// The engine would reject it, for this reason (also reported as
    /// [`Hazard::InvalidPatchConfig`]).
    Invalid(String),
}

/// The state directory after a round: a hash per file and one over them all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateSnapshot {
    /// SHA-256 (hex) over the sorted entries below.
    pub hash: String,
    /// Relative path → entry digest (`file:<sha256>`, `exec:<sha256>`, `dir`, `link:<target>`).
    pub files: BTreeMap<String, String>,
}

/// A behaviour the engine handles badly or differently from what a contract
/// author likely expects. Each names where it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hazard {
    /// A user output length header straddled two 128 KiB reads; the engine
    /// mis-frames the rest of that user's outputs.
    SplitLengthHeader {
        /// The user's name.
        user: String,
        /// Index of the message whose header was split.
        message: usize,
    },
    /// An NPL packet larger than 128 KiB: the engine truncates it.
    OversizedNplPacket {
        /// The packet's real size.
        bytes: usize,
    },
    /// A control packet larger than 128 KiB: the engine truncates it.
    OversizedControlPacket {
        /// The packet's real size.
        bytes: usize,
    },
    /// An empty NPL packet: the engine reads it as nothing and never sends it.
    EmptyNplPacket,
    /// The args JSON is larger than a pipe (64 KiB): the engine writes it in
    /// one blocking `write()` before exec, which deadlocks.
    ArgsExceedPipe {
        /// The JSON's size.
        bytes: usize,
    },
    /// The contract died by a signal: the engine counts the run as failed and
    /// skips `post_exec.sh`.
    KilledBySignal {
        /// The signal number.
        signal: i32,
    },
    /// The contract ran past its time limit and was SIGKILLed.
    Timeout {
        /// The limit in ms.
        limit_ms: u64,
    },
    /// The contract's last output message to a user was cut short; the engine
    /// still delivers the partial bytes as an output.
    IncompleteOutput {
        /// The user's name.
        user: String,
        /// Declared length.
        declared: u32,
        /// Bytes received.
        received: usize,
    },
    /// A user's outputs exceeded `user_output_bytes`: the engine closed that
    /// socket and the contract's further writes fail.
    UserOutputLimit {
        /// The user's name.
        user: String,
        /// The limit.
        limit: u64,
    },
    /// NPL output exceeded `npl_output_bytes`: the engine closed its NPL
    /// socket; the packet that crossed the limit and all later ones are lost.
    NplOutputLimit {
        /// The limit.
        limit: u64,
    },
    /// After the NPL limit closed the socket, an incoming NPL message could
    /// not be written: the engine ends the round and SIGKILLs the contract.
    NplWriteFailed,
    /// A read request changed the state directory; the engine's read-only
    /// session refuses such writes.
    ReadOnlyWrite {
        /// The changed paths.
        files: Vec<String>,
    },
    /// A read request produced no output for its user: the engine then
    /// sends the client nothing at all, and the client waits out its own
    /// timeout (15 s in the official JS client).
    UnansweredRead {
        /// The user's name.
        user: String,
    },
    /// A control message the engine rejects as broken: not JSON, no string
    /// `type`, or a malformed peer changeset. (Unknown types are ignored
    /// silently, by the engine and here: they are only listed in `control`.)
    IgnoredControlMessage {
        /// Why.
        reason: String,
    },
    /// The contract left a `../patch.cfg` the engine would reject (not JSON,
    /// a key missing or of the wrong type, or a value breaking the engine's
    /// rules). The engine re-parses the file before its next execution, and
    /// an invalid file appears to block every later execution on that node
    /// (hpcore `consensus.cpp` `commit_consensus_results` returns before the
    /// execution while the patch stays pending). Reported every round until
    /// the file is fixed.
    InvalidPatchConfig {
        /// Why the file is invalid.
        message: String,
    },
    /// An output the engine's JSON user protocol inserts raw (it looks like
    /// JSON) that a JSON-protocol client does not receive as written: not
    /// valid JSON (the client drops the whole message), or a number
    /// JavaScript changes. BSON clients get the bytes. See
    /// [`embed::raw_problem`](crate::sim::serve::embed::raw_problem).
    RawJsonOutput {
        /// The user's name.
        user: String,
        /// The output's index among the user's outputs of the round.
        message: usize,
        /// The output, rendered (cut if long).
        output: String,
        /// What goes wrong.
        problem: RawProblem,
    },
}

/// The kind of a [`Hazard`], for matching in tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum HazardKind {
    SplitLengthHeader,
    OversizedNplPacket,
    OversizedControlPacket,
    EmptyNplPacket,
    ArgsExceedPipe,
    KilledBySignal,
    Timeout,
    IncompleteOutput,
    UserOutputLimit,
    NplOutputLimit,
    NplWriteFailed,
    ReadOnlyWrite,
    UnansweredRead,
    IgnoredControlMessage,
    InvalidPatchConfig,
    RawJsonOutput,
}

impl Hazard {
    /// This hazard's kind.
    pub fn kind(&self) -> HazardKind {
        match self {
            Hazard::SplitLengthHeader { .. } => HazardKind::SplitLengthHeader,
            Hazard::OversizedNplPacket { .. } => HazardKind::OversizedNplPacket,
            Hazard::OversizedControlPacket { .. } => HazardKind::OversizedControlPacket,
            Hazard::EmptyNplPacket => HazardKind::EmptyNplPacket,
            Hazard::ArgsExceedPipe { .. } => HazardKind::ArgsExceedPipe,
            Hazard::KilledBySignal { .. } => HazardKind::KilledBySignal,
            Hazard::Timeout { .. } => HazardKind::Timeout,
            Hazard::IncompleteOutput { .. } => HazardKind::IncompleteOutput,
            Hazard::UserOutputLimit { .. } => HazardKind::UserOutputLimit,
            Hazard::NplOutputLimit { .. } => HazardKind::NplOutputLimit,
            Hazard::NplWriteFailed => HazardKind::NplWriteFailed,
            Hazard::ReadOnlyWrite { .. } => HazardKind::ReadOnlyWrite,
            Hazard::UnansweredRead { .. } => HazardKind::UnansweredRead,
            Hazard::IgnoredControlMessage { .. } => HazardKind::IgnoredControlMessage,
            Hazard::InvalidPatchConfig { .. } => HazardKind::InvalidPatchConfig,
            Hazard::RawJsonOutput { .. } => HazardKind::RawJsonOutput,
        }
    }
}

impl fmt::Display for Hazard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hazard::SplitLengthHeader { user, message } => write!(
                f,
                "output #{message} to {user}: its 4-byte length header straddled two 128 KiB reads; \
                 the engine mis-frames this user's outputs from here on (write each message with one writev)"
            ),
            Hazard::OversizedNplPacket { bytes } => write!(
                f,
                "NPL packet of {bytes} bytes: the engine reads at most {} bytes and drops the rest",
                crate::wire::MAX_PACKET
            ),
            Hazard::OversizedControlPacket { bytes } => write!(
                f,
                "control packet of {bytes} bytes: the engine reads at most {} bytes and drops the rest",
                crate::wire::MAX_PACKET
            ),
            Hazard::EmptyNplPacket => {
                f.write_str("empty NPL packet: the engine reads it as nothing; it is never broadcast")
            }
            Hazard::ArgsExceedPipe { bytes } => write!(
                f,
                "round arguments are {bytes} bytes, more than a pipe holds (65536): the engine writes them \
                 before exec in one blocking write and deadlocks (too many users or inputs in one round)"
            ),
            Hazard::KilledBySignal { signal } => write!(
                f,
                "contract died by {}: the engine counts the run as failed and skips post_exec.sh",
                signal_name(*signal)
            ),
            Hazard::Timeout { limit_ms } => write!(
                f,
                "contract still running after {limit_ms} ms: SIGKILLed (exec timeout); post_exec.sh skipped"
            ),
            Hazard::IncompleteOutput { user, declared, received } => write!(
                f,
                "last output to {user} declared {declared} bytes but only {received} arrived; \
                 the engine delivers the partial message"
            ),
            Hazard::UserOutputLimit { user, limit } => write!(
                f,
                "outputs to {user} exceeded user_output_bytes ({limit}): the engine closed the socket; \
                 later writes fail"
            ),
            Hazard::NplOutputLimit { limit } => write!(
                f,
                "NPL output exceeded npl_output_bytes ({limit}): the engine closed the NPL socket; \
                 that packet and later ones are lost"
            ),
            Hazard::NplWriteFailed => f.write_str(
                "an NPL message arrived after the engine closed its NPL socket: the engine's write failed, \
                 ending the round and SIGKILLing the contract",
            ),
            Hazard::ReadOnlyWrite { files } => write!(
                f,
                "read request changed the state ({}); the engine's read-only session refuses writes",
                files.join(", ")
            ),
            Hazard::UnansweredRead { user } => write!(
                f,
                "read request from {user} produced no output: the engine sends the client no reply \
                 at all (the client waits out its timeout); answer every read, with an error if need be"
            ),
            Hazard::IgnoredControlMessage { reason } => {
                write!(f, "control message ignored by the engine: {reason}")
            }
            Hazard::InvalidPatchConfig { message } => write!(
                f,
                "invalid ../patch.cfg: {message}; the engine would reject this patch.cfg and \
                 stall this node (no further executions until the file is fixed)"
            ),
            Hazard::RawJsonOutput {
                user,
                message,
                output,
                problem,
            } => write!(
                f,
                "output #{message} to {user} ({output}) looks like JSON, so the engine's JSON user \
                 protocol inserts it raw: {problem}; send it as a string that does not \
                 look like JSON, or have clients use BSON"
            ),
        }
    }
}

/// What one node did in one round.
#[derive(Clone, Debug)]
pub struct NodeReport {
    /// Node index (0-based).
    pub index: usize,
    /// The node's public key.
    pub public_key: String,
    /// Whether the node is an observer (sends no NPL).
    pub observer: bool,
    /// How the contract process ended.
    pub exit: Exit,
    /// Users' outputs, by user public key (every user of the round, even without outputs).
    pub outputs: Vec<UserOutputs>,
    /// Control messages, in order.
    pub control: Vec<ControlMessage>,
    /// NPL payloads the contract sent, in order (those the engine broadcast).
    pub npl_sent: Vec<Vec<u8>>,
    /// NPL messages written to the contract, in delivery order.
    pub npl_received: Vec<NplReceived>,
    /// NPL messages meant for this node that it never got.
    pub npl_lost: Vec<NplLost>,
    /// The contract's stdout.
    pub stdout: Vec<u8>,
    /// The contract's stderr.
    pub stderr: Vec<u8>,
    /// The state directory after the round (and after `post_exec.sh`);
    /// `None` for read requests, whose changes the engine discards.
    pub state: Option<StateSnapshot>,
    /// The `post_exec.sh` run, if the engine would run it this round.
    pub post_exec: Option<PostExec>,
    /// Digest of `../patch.cfg` after the round (`file:<sha256>`, or
    /// `(missing)`), compared between nodes like a state file; `None` for
    /// read requests.
    pub patch_cfg: Option<String>,
    /// How this node's `../patch.cfg` differs from the one the round started
    /// with, if it does (consensus and fallback rounds only).
    pub patch_change: Option<PatchChange>,
    /// Engine hazards seen on this node.
    pub hazards: Vec<Hazard>,
    /// The args JSON written on stdin.
    pub args_json: String,
    /// fds leaked into the contract besides the protocol's own.
    pub leaked_fds: Vec<i32>,
    /// CPU and memory of the contract process.
    pub usage: Usage,
    /// Wall time from spawn to the end of the host's loop.
    pub wall: Duration,
}

impl NodeReport {
    /// The messages this node's contract sent to `user` (by name or public key).
    pub fn outputs_to(&self, user: &str) -> &[Vec<u8>] {
        self.outputs
            .iter()
            .find(|u| u.user == user || u.public_key == user)
            .map(|u| u.messages.as_slice())
            .unwrap_or(&[])
    }

    /// Like [`outputs_to`](Self::outputs_to), as lossy UTF-8 text.
    pub fn output_strings(&self, user: &str) -> Vec<String> {
        self.outputs_to(user)
            .iter()
            .map(|m| String::from_utf8_lossy(m).into_owned())
            .collect()
    }

    /// True if a hazard of this kind was seen.
    pub fn has_hazard(&self, kind: HazardKind) -> bool {
        self.hazards.iter().any(|h| h.kind() == kind)
    }

    /// The engine would discard this node's round results (a failed `post_exec.sh`).
    pub fn results_discarded(&self) -> bool {
        matches!(&self.post_exec, Some(p) if p.outcome == PostExecOutcome::Failed)
    }
}
