//! What a simulated round produced: per node, and a verdict over nodes.
//!
//! Everything here is ordered deterministically (nodes by index, users by
//! public key, files by path, NPL by delivery order), so two runs of a
//! deterministic contract give equal reports apart from timing and resource
//! usage, which are kept in their own fields and never enter the verdict.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

pub use crate::args::Mode;
use crate::config::PatchConfig;

use super::config::ConfigChange;

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

pub(crate) fn signal_name(sig: i32) -> String {
    match nix::sys::signal::Signal::try_from(sig) {
        Ok(s) => s.as_str().to_owned(),
        Err(_) => format!("signal {sig}"),
    }
}

/// CPU and memory the contract process used (from `wait4`).
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
    Ignored(String),
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

/// What happened with `post_exec.sh` (PROTOCOL.md §1.8).
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
    /// has the same file ([`RoundReport::config_applied`]).
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
    /// (PROTOCOL.md §1.10). Reported every round until the file is fixed.
    InvalidPatchConfig {
        /// Why the file is invalid.
        message: String,
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
    IgnoredControlMessage,
    InvalidPatchConfig,
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
            Hazard::IgnoredControlMessage { .. } => HazardKind::IgnoredControlMessage,
            Hazard::InvalidPatchConfig { .. } => HazardKind::InvalidPatchConfig,
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
            Hazard::IgnoredControlMessage { reason } => {
                write!(f, "control message ignored by the engine: {reason}")
            }
            Hazard::InvalidPatchConfig { message } => write!(
                f,
                "invalid ../patch.cfg: {message}; the engine would reject this patch.cfg and \
                 stall this node (no further executions until the file is fixed)"
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

/// Where two nodes first differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiffAt {
    /// The contract ended differently.
    Exit,
    /// A different number of outputs to a user.
    OutputCount {
        /// The user's name.
        user: String,
    },
    /// A different output message.
    Output {
        /// The user's name.
        user: String,
        /// The message index.
        index: usize,
    },
    /// A state file differs (or exists on one node only), or `../patch.cfg`.
    File {
        /// The path relative to the state directory (`../patch.cfg` for the
        /// contract configuration).
        path: String,
    },
    /// `post_exec.sh` ended differently.
    PostExec,
}

impl fmt::Display for DiffAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiffAt::Exit => f.write_str("exit status"),
            DiffAt::OutputCount { user } => write!(f, "number of outputs to {user}"),
            DiffAt::Output { user, index } => write!(f, "output #{index} to {user}"),
            DiffAt::File { path } => write!(f, "state file {path}"),
            DiffAt::PostExec => f.write_str("post_exec.sh outcome"),
        }
    }
}

/// The first difference between node 0 and another node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// The node that differs from node 0.
    pub node: usize,
    /// What differs.
    pub at: DiffAt,
    /// Node 0's value, rendered as text (hex if not UTF-8).
    pub expected: String,
    /// The other node's value.
    pub found: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "node {} differs from node 0 at {}: node 0 has {}, node {} has {}",
            self.node, self.at, self.expected, self.node, self.found
        )
    }
}

/// Whether the nodes agree: same exit, same outputs per user, same state
/// files, same `../patch.cfg`, same `post_exec.sh` outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// All nodes agree.
    Agree,
    /// The first difference found (nodes in order, then exit, outputs by user,
    /// state files by path, patch.cfg, post_exec).
    Differ(Difference),
}

impl Verdict {
    /// True for [`Verdict::Agree`].
    pub fn agrees(&self) -> bool {
        matches!(self, Verdict::Agree)
    }
}

/// Renders bytes for a report: text as a quoted, escaped string (control
/// characters and quotes escaped); bytes that are not UTF-8, or mostly
/// control characters, in hex. Values longer than 120 characters (60 bytes
/// in hex) are cut short, and those, like all hex, carry their length:
///
/// ```
/// use hotpocket::sim::render_bytes;
/// assert_eq!(render_bytes(b"hi \"you\"\n"), r#""hi \"you\"\n""#);
/// assert_eq!(render_bytes(&[0, 0xff]), "0x00ff (2 bytes)");
/// assert!(render_bytes(&[b'a'; 500]).ends_with("aaa\"... (500 bytes)"));
/// ```
pub fn render_bytes(bytes: &[u8]) -> String {
    const MAX: usize = 120;
    let text = std::str::from_utf8(bytes).ok().filter(|s| {
        let control = s
            .chars()
            .filter(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
            .count();
        control * 4 <= s.chars().count()
    });
    match text {
        Some(s) => {
            let shown: String = s.chars().take(MAX).collect();
            if shown.len() == s.len() {
                format!("{s:?}")
            } else {
                format!("{shown:?}... ({} bytes)", bytes.len())
            }
        }
        None => {
            let shown = bytes.get(..MAX / 2).unwrap_or(bytes);
            let dots = if bytes.len() > shown.len() { "..." } else { "" };
            format!(
                "0x{}{dots} ({} bytes)",
                super::sha256::hex(shown),
                bytes.len()
            )
        }
    }
}

/// `patch.cfg` as a path from the contract's working directory.
pub(crate) const PATCH_CFG: &str = "../patch.cfg";

/// Compares every node with node 0.
pub(crate) fn verdict(nodes: &[NodeReport]) -> Verdict {
    let Some((first, rest)) = nodes.split_first() else {
        return Verdict::Agree;
    };
    for other in rest {
        if let Some(d) = first_difference(first, other) {
            return Verdict::Differ(d);
        }
    }
    Verdict::Agree
}

fn first_difference(a: &NodeReport, b: &NodeReport) -> Option<Difference> {
    let diff = |at, expected: String, found: String| {
        Some(Difference {
            node: b.index,
            at,
            expected,
            found,
        })
    };
    if a.exit != b.exit {
        return diff(DiffAt::Exit, a.exit.to_string(), b.exit.to_string());
    }
    let empty = Vec::new();
    for ua in &a.outputs {
        let mb = b
            .outputs
            .iter()
            .find(|u| u.public_key == ua.public_key)
            .map(|u| &u.messages)
            .unwrap_or(&empty);
        for (index, (x, y)) in ua.messages.iter().zip(mb).enumerate() {
            if x != y {
                return diff(
                    DiffAt::Output {
                        user: ua.user.clone(),
                        index,
                    },
                    render_bytes(x),
                    render_bytes(y),
                );
            }
        }
        if ua.messages.len() != mb.len() {
            return diff(
                DiffAt::OutputCount {
                    user: ua.user.clone(),
                },
                ua.messages.len().to_string(),
                mb.len().to_string(),
            );
        }
    }
    if let (Some(sa), Some(sb)) = (&a.state, &b.state)
        && sa.hash != sb.hash
    {
        let paths: std::collections::BTreeSet<&String> =
            sa.files.keys().chain(sb.files.keys()).collect();
        for path in paths {
            let (x, y) = (sa.files.get(path), sb.files.get(path));
            if x != y {
                let show = |v: Option<&String>| v.cloned().unwrap_or_else(|| "(missing)".into());
                return diff(DiffAt::File { path: path.clone() }, show(x), show(y));
            }
        }
    }
    // patch.cfg lives beside the state directory (hpfs `/patch.cfg`), and
    // nodes must agree on it as on state: name it as the contract sees it.
    if let (Some(pa), Some(pb)) = (&a.patch_cfg, &b.patch_cfg)
        && pa != pb
    {
        return diff(
            DiffAt::File {
                path: PATCH_CFG.to_owned(),
            },
            pa.clone(),
            pb.clone(),
        );
    }
    let pe = |p: &Option<PostExec>| match p {
        None => "not run".to_owned(),
        Some(p) => format!("{} ({:?})", p.exit, p.outcome),
    };
    if pe(&a.post_exec) != pe(&b.post_exec) {
        return diff(DiffAt::PostExec, pe(&a.post_exec), pe(&b.post_exec));
    }
    None
}

/// One round over the whole cluster.
#[derive(Clone, Debug)]
pub struct RoundReport {
    /// The round's 1-based number among all the cluster ran, of every kind
    /// (continuing a kept cluster's count).
    pub number: u64,
    /// The kind of round.
    pub mode: Mode,
    /// lcl sequence number handed to the contract (the current one for read requests).
    pub lcl_seq_no: u64,
    /// lcl hash (hex).
    pub lcl_hash: String,
    /// The `timestamp` handed to the contract (0 for read requests).
    pub timestamp: u64,
    /// Inputs the engine would reject (over `user_input_bytes`): (user, index, length).
    pub rejected_inputs: Vec<(String, usize, usize)>,
    /// Per node, by index.
    pub nodes: Vec<NodeReport>,
    /// Agreement over nodes.
    pub verdict: Verdict,
    /// The `patch.cfg` every node's contract changed identically and validly
    /// in this round, which the cluster applies from the next round on, as
    /// the engine does once the nodes agree on it (PROTOCOL.md §1.10).
    pub config_applied: Option<ConfigUpdate>,
    /// Wall time of the whole round.
    pub wall: Duration,
}

// The assert_* helpers exist to panic with a readable report, in tests.
#[allow(clippy::panic)]
impl RoundReport {
    /// Node `i`'s report. Panics if there is no such node (tests only).
    pub fn node(&self, i: usize) -> &NodeReport {
        match self.nodes.get(i) {
            Some(n) => n,
            None => panic!("no node {i} in a cluster of {}", self.nodes.len()),
        }
    }

    /// Node 0's outputs to `user` as text (use after [`assert_agree`](Self::assert_agree)).
    pub fn outputs(&self, user: &str) -> Vec<String> {
        self.nodes
            .first()
            .map(|n| n.output_strings(user))
            .unwrap_or_default()
    }

    /// Node 0's state hash, if the round kept state.
    pub fn state_hash(&self) -> Option<&str> {
        self.nodes
            .first()
            .and_then(|n| n.state.as_ref())
            .map(|s| s.hash.as_str())
    }

    /// True if any node saw a hazard of this kind.
    pub fn has_hazard(&self, kind: HazardKind) -> bool {
        self.nodes.iter().any(|n| n.has_hazard(kind))
    }

    /// All hazards, with the node index.
    pub fn hazards(&self) -> Vec<(usize, &Hazard)> {
        self.nodes
            .iter()
            .flat_map(|n| n.hazards.iter().map(move |h| (n.index, h)))
            .collect()
    }

    /// Panics with the report unless all nodes agree.
    #[track_caller]
    pub fn assert_agree(&self) -> &Self {
        if let Verdict::Differ(d) = &self.verdict {
            panic!("nodes disagree: {d}\n\n{self}");
        }
        self
    }

    /// Panics with the report if all nodes agree.
    #[track_caller]
    pub fn assert_disagree(&self) -> &Self {
        if self.verdict.agrees() {
            panic!("expected the nodes to disagree, but they agree\n\n{self}");
        }
        self
    }

    /// Panics unless every node sent exactly these outputs to `user`.
    #[track_caller]
    pub fn assert_outputs(&self, user: &str, expected: &[&str]) -> &Self {
        for n in &self.nodes {
            let got = n.output_strings(user);
            if got != expected {
                panic!(
                    "node {}: outputs to {user} are {got:?}, expected {expected:?}\n\n{self}",
                    n.index
                );
            }
        }
        self
    }

    /// Panics unless some node saw a hazard of this kind.
    #[track_caller]
    pub fn assert_hazard(&self, kind: HazardKind) -> &Self {
        if !self.has_hazard(kind) {
            panic!("expected a {kind:?} hazard\n\n{self}");
        }
        self
    }

    /// Panics if any node saw a hazard.
    #[track_caller]
    pub fn assert_no_hazards(&self) -> &Self {
        if !self.hazards().is_empty() {
            panic!("expected no hazards\n\n{self}");
        }
        self
    }

    /// Panics unless every contract exited with code 0.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        for n in &self.nodes {
            if n.exit != Exit::Code(0) {
                panic!("node {}: {}\n\n{self}", n.index, n.exit);
            }
        }
        self
    }
}

/// `key from -> to, ...` for a report line.
fn change_list(changes: &[ConfigChange]) -> String {
    if changes.is_empty() {
        return "(same values, reformatted)".to_owned();
    }
    changes
        .iter()
        .map(|c| format!("{} {} -> {}", c.key, c.from, c.to))
        .collect::<Vec<_>>()
        .join(", ")
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// At most this many messages per user are listed in a report.
const MAX_MESSAGES: usize = 20;
/// At most this many stderr lines per node are shown in a report.
const MAX_STDERR_LINES: usize = 20;

/// A node's report lines other than its summary line and stderr, by kind:
/// outputs, control messages, NPL, post_exec.sh, patch.cfg, hazards. A kind
/// whose lines are the same on every node is shown once for all.
fn detail_lines(n: &NodeReport) -> [Vec<String>; 6] {
    let mut outputs = Vec::new();
    for u in &n.outputs {
        if u.messages.is_empty() {
            outputs.push(format!("-> {}: (no outputs)", u.user));
        }
        for m in u.messages.iter().take(MAX_MESSAGES) {
            outputs.push(format!("-> {}: {}", u.user, render_bytes(m)));
        }
        if let Some(rest) = u.messages.get(MAX_MESSAGES..).filter(|r| !r.is_empty()) {
            let bytes: usize = rest.iter().map(Vec::len).sum();
            outputs.push(format!(
                "-> {}: ... {} more messages ({bytes} bytes)",
                u.user,
                rest.len()
            ));
        }
    }
    let mut control = Vec::new();
    for c in &n.control {
        match &c.meaning {
            ControlMeaning::PeerChangeset { add, remove } => {
                let remove = remove
                    .as_ref()
                    .map_or_else(|| "*".to_owned(), |r| format!("{r:?}"));
                control.push(format!(
                    "control: peer changeset add {add:?} remove {remove}"
                ));
            }
            // Unknown types (the runtime's `contract_end`) would be noise here.
            ControlMeaning::Ignored(why) if why.starts_with("unknown type") => {}
            ControlMeaning::Ignored(why) => control.push(format!(
                "control: {} (ignored: {why})",
                render_bytes(&c.raw)
            )),
        }
    }
    let mut npl = Vec::new();
    if !n.npl_sent.is_empty() || !n.npl_received.is_empty() || !n.npl_lost.is_empty() {
        npl.push(format!(
            "npl: sent {}, received {} (from nodes {:?}), lost {}",
            n.npl_sent.len(),
            n.npl_received.len(),
            n.npl_received.iter().map(|m| m.from).collect::<Vec<_>>(),
            n.npl_lost.len()
        ));
    }
    let post_exec = n
        .post_exec
        .iter()
        .map(|p| format!("post_exec.sh: {} -> {:?}", p.exit, p.outcome))
        .collect();
    let patch = match &n.patch_change {
        None => Vec::new(),
        Some(PatchChange::Valid(u)) => {
            vec![format!("patch.cfg changed: {}", change_list(&u.changes))]
        }
        // The reason is in the hazard line.
        Some(PatchChange::Invalid(_)) => vec!["patch.cfg changed: invalid".to_owned()],
    };
    let hazards = n.hazards.iter().map(|h| format!("HAZARD: {h}")).collect();
    [outputs, control, npl, post_exec, patch, hazards]
}

/// A node's summary line: `node 0 ed1234567890: exit 0, 1.2 ms wall, ...`.
fn node_line(f: &mut fmt::Formatter<'_>, n: &NodeReport) -> fmt::Result {
    let role = if n.observer { " (observer)" } else { "" };
    write!(
        f,
        "  node {}{role} {}: {}, {} wall, {} cpu, {} KiB RSS",
        n.index,
        n.public_key.get(..12).unwrap_or(&n.public_key),
        n.exit,
        ms(n.wall),
        ms(n.usage.user_cpu + n.usage.sys_cpu),
        n.usage.max_rss_kib
    )?;
    if let Some(s) = &n.state {
        write!(f, ", state {}", s.hash.get(..8).unwrap_or(&s.hash))?;
    }
    writeln!(f)
}

/// A node's stderr, at most [`MAX_STDERR_LINES`] lines; `(same as node 0)`
/// when it equals node 0's.
fn stderr_lines(f: &mut fmt::Formatter<'_>, n: &NodeReport, first: &NodeReport) -> fmt::Result {
    if n.stderr.is_empty() {
        return Ok(());
    }
    if n.index != first.index && n.stderr == first.stderr {
        return writeln!(f, "    stderr| (same as node {})", first.index);
    }
    let text = String::from_utf8_lossy(&n.stderr);
    let lines: Vec<&str> = text.lines().collect();
    for line in lines.iter().take(MAX_STDERR_LINES) {
        writeln!(f, "    stderr| {line}")?;
    }
    if lines.len() > MAX_STDERR_LINES {
        writeln!(
            f,
            "    stderr| ... {} more lines",
            lines.len() - MAX_STDERR_LINES
        )?;
    }
    Ok(())
}

/// How a round reads: the header, then, when the nodes agree, what they all
/// did once and a summary line per node with what is its own (stderr,
/// differing NPL or hazards); when they disagree, the first difference and
/// then every node in full.
impl fmt::Display for RoundReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mode {
            Mode::ReadRequest => writeln!(f, "round {}: read request", self.number)?,
            mode => writeln!(
                f,
                "round {}: {}, lcl {}-{}, timestamp {}",
                self.number,
                mode_text(mode),
                self.lcl_seq_no,
                self.lcl_hash.get(..16).unwrap_or(&self.lcl_hash),
                self.timestamp
            )?,
        }
        for (user, index, len) in &self.rejected_inputs {
            writeln!(
                f,
                "  input #{index} of {user} ({len} bytes) rejected: over user_input_bytes"
            )?;
        }
        let details: Vec<[Vec<String>; 6]> = self.nodes.iter().map(detail_lines).collect();
        // Per kind: shown once for all nodes?
        let mut shared = [false; 6];
        if let (Verdict::Agree, Some(first), true) =
            (&self.verdict, details.first(), self.nodes.len() > 1)
        {
            for (kind, (lines, same)) in first.iter().zip(&mut shared).enumerate() {
                *same = details.iter().all(|d| d.get(kind) == Some(lines));
            }
            let lines: Vec<&String> = first
                .iter()
                .zip(shared)
                .filter(|(_, s)| *s)
                .flat_map(|(l, _)| l)
                .collect();
            let colon = if lines.is_empty() { "" } else { ":" };
            writeln!(f, "  all {} nodes agree{colon}", self.nodes.len())?;
            for line in lines {
                writeln!(f, "    {line}")?;
            }
        }
        if let Verdict::Differ(d) = &self.verdict {
            writeln!(f, "  DISAGREE: {d}")?;
        }
        if let Some(first) = self.nodes.first() {
            for (n, lines) in self.nodes.iter().zip(&details) {
                node_line(f, n)?;
                for line in lines
                    .iter()
                    .zip(shared)
                    .filter(|(_, s)| !*s)
                    .flat_map(|(l, _)| l)
                {
                    writeln!(f, "    {line}")?;
                }
                stderr_lines(f, n, first)?;
            }
        }
        if let Some(u) = &self.config_applied {
            writeln!(
                f,
                "  patch.cfg applied for the next rounds: {}",
                change_list(&u.changes)
            )?;
        }
        write!(f, "  round wall time {}", ms(self.wall))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(index: usize, out: &[&[u8]], stderr: &str) -> NodeReport {
        NodeReport {
            index,
            public_key: format!("ed{index:064}"),
            observer: false,
            exit: Exit::Code(0),
            outputs: vec![UserOutputs {
                user: "alice".into(),
                public_key: "edaa".into(),
                messages: out.iter().map(|m| m.to_vec()).collect(),
            }],
            control: Vec::new(),
            npl_sent: Vec::new(),
            npl_received: Vec::new(),
            npl_lost: Vec::new(),
            stdout: Vec::new(),
            stderr: stderr.as_bytes().to_vec(),
            state: Some(StateSnapshot {
                hash: "0123456789abcdef".repeat(4),
                files: BTreeMap::new(),
            }),
            post_exec: None,
            patch_cfg: Some("file:x".into()),
            patch_change: None,
            hazards: Vec::new(),
            args_json: String::new(),
            leaked_fds: Vec::new(),
            usage: Usage::default(),
            wall: Duration::from_millis(2),
        }
    }

    fn round(nodes: Vec<NodeReport>) -> String {
        RoundReport {
            number: 1,
            mode: Mode::Consensus,
            lcl_seq_no: 1,
            lcl_hash: "ab".repeat(32),
            timestamp: 5,
            rejected_inputs: Vec::new(),
            verdict: verdict(&nodes),
            nodes,
            config_applied: None,
            wall: Duration::from_millis(3),
        }
        .to_string()
    }

    #[test]
    fn agreeing_nodes_show_their_outputs_once() {
        let text = round(vec![
            node(0, &[b"4"], "one line\n"),
            node(1, &[b"4"], "one line\n"),
            node(2, &[b"4"], ""),
        ]);
        assert_eq!(
            text,
            "round 1: consensus, lcl 1-abababababababab, timestamp 5
  all 3 nodes agree:
    -> alice: \"4\"
  node 0 ed0000000000: exit 0, 2.0 ms wall, 0.0 ms cpu, 0 KiB RSS, state 01234567
    stderr| one line
  node 1 ed0000000000: exit 0, 2.0 ms wall, 0.0 ms cpu, 0 KiB RSS, state 01234567
    stderr| (same as node 0)
  node 2 ed0000000000: exit 0, 2.0 ms wall, 0.0 ms cpu, 0 KiB RSS, state 01234567
  round wall time 3.0 ms"
        );
    }

    #[test]
    fn disagreeing_nodes_show_the_difference_and_every_node() {
        let text = round(vec![node(0, &[b"4"], ""), node(1, &[b"5", b"6"], "")]);
        assert_eq!(
            text,
            "round 1: consensus, lcl 1-abababababababab, timestamp 5
  DISAGREE: node 1 differs from node 0 at output #0 to alice: node 0 has \"4\", node 1 has \"5\"
  node 0 ed0000000000: exit 0, 2.0 ms wall, 0.0 ms cpu, 0 KiB RSS, state 01234567
    -> alice: \"4\"
  node 1 ed0000000000: exit 0, 2.0 ms wall, 0.0 ms cpu, 0 KiB RSS, state 01234567
    -> alice: \"5\"
    -> alice: \"6\"
  round wall time 3.0 ms"
        );
    }

    #[test]
    fn long_and_many_outputs_are_cut_short() {
        let long = vec![b'x'; 1000];
        let many: Vec<&[u8]> = std::iter::repeat_n(&long[..2], 25).collect();
        let text = round(vec![node(0, &many, ""), node(1, &[&long], "")]);
        assert!(
            text.contains("-> alice: ... 5 more messages (10 bytes)"),
            "{text}"
        );
        assert!(text.contains("xxx\"... (1000 bytes)"), "{text}");
        assert_eq!(text.matches("-> alice: \"xx\"").count(), 20, "{text}");
    }

    #[test]
    fn render_bytes_escapes_text_and_shows_binary_in_hex() {
        assert_eq!(
            render_bytes(b"tab\there \x1b[0m"),
            r#""tab\there \u{1b}[0m""#
        );
        assert_eq!(render_bytes(&[1, 2, 3, b'a']), "0x01020361 (4 bytes)");
        assert_eq!(
            render_bytes(&[0xff; 100]),
            format!("0x{}... (100 bytes)", "ff".repeat(60))
        );
        assert_eq!(render_bytes(b""), "\"\"");
    }
}
