//! A local HotPocket engine: runs contract binaries exactly as hpcore does,
//! on one or many simulated nodes, round after round.
//!
//! The simulator spawns the contract as a real process and speaks the
//! engine's protocol to it, as hpcore's `src/sc/sc.cpp` does: the round's
//! arguments as JSON on stdin (in either engine [`Variant`]), inputs in a
//! memfd at 4096-aligned offsets, one stream socket per user, sequenced-packet sockets for control
//! and NPL, `<node>/state` as working directory with `../patch.cfg`, only the
//! configured environment, the exec timeout ending in SIGKILL, and the output
//! byte limits. It reads outputs the way the engine does (128 KiB reads,
//! 4-byte big-endian frames) and flags the engine's [`Hazard`]s when it sees
//! them.
//!
//! A [`Cluster`] runs N nodes concurrently with NPL between them, chains the
//! lcl across rounds, keeps each node's state directory, runs `post_exec.sh`
//! as the engine does, applies a `patch.cfg` the contract changed once all
//! nodes agree on it, and returns a [`RoundReport`] per round: per node the
//! exit status, outputs per user, control messages, NPL traffic, stderr, a
//! state hash, any `patch.cfg` change and hazards, plus a [`Verdict`] saying
//! whether all nodes agree or where they first differ. Kept in a directory
//! ([`ClusterBuilder::keep_state`]), a cluster is continued by the next one given
//! that directory, as a restarted engine continues its ledger.
//!
//! The contract configuration is the runtime's own
//! [`PatchConfig`](crate::config::PatchConfig): what `<node>/patch.cfg` is
//! written from, and what a valid change the nodes agree on replaces (see
//! [`Cluster`] for what of it the simulator applies).
//!
//! ```no_run
//! use hotpocket::sim::{Cluster, cargo_bin};
//! # fn main() -> Result<(), hotpocket::sim::SimError> {
//! let mut cluster = Cluster::builder(cargo_bin("counter")?)
//!     .nodes(3)
//!     .user("alice")
//!     .build()?;
//! cluster.input("alice", br#"{"Add":5}"#);
//! let report = cluster.round()?;
//! report.assert_agree().assert_outputs("alice", &["5"]);
//! let read = cluster.read("alice", br#""Get""#)?;
//! read.assert_agree();
//! # Ok(()) }
//! ```
//!
//! [`dev::main`] is the dev mode every `#[contract]` binary gets: run it from
//! a terminal (or with `--dev`) to simulate itself and print a report.

mod args;
mod bins;
mod cluster;
mod config;
pub mod dev;
pub(crate) mod frame;
mod host;
mod keys;
mod manifest;
mod npl;
mod report;
pub mod serve;
mod snapshot;

pub use bins::{cargo_bin, cargo_example};
pub use cluster::{
    Cluster, ClusterBuilder, DEFAULT_CONTRACT_ID, Exploration, GENESIS_MS, MAX_USER_MESSAGE_BYTES,
    NotVaried, Resumed, RoundPlan, Schedule, SimError, Split,
};
pub use config::{ConfigChange, Variant};
pub use host::ArgsMap;

/// The engine's read size for output sockets, NPL and control.
#[deprecated(note = "the same limit as `hotpocket::MAX_PACKET`; use that")]
pub const READ_SIZE: usize = crate::wire::MAX_PACKET;
pub use keys::KeyPair;
pub use npl::NplFault;
pub use report::{
    ConfigUpdate, ControlMeaning, ControlMessage, DiffAt, Difference, Exit, Hazard, HazardKind,
    IgnoredControl, IgnoredKind, Mode, NodeReport, NplLost, NplReceived, PatchChange, PostExec,
    PostExecOutcome, RoundReport, StateSnapshot, Usage, UserOutputs, Verdict, render_bytes,
};
