//! Why the simulator itself could not run (never the contract's fault).

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why the simulator itself could not run a round (never the contract's
/// misbehaviour, which is reported in the [`RoundReport`](crate::sim::RoundReport)).
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
    /// The directory given to [`ClusterBuilder::keep_state`](super::ClusterBuilder::keep_state) holds a cluster this
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
                 ClusterBuilder::fresh (or by deleting the directory)",
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

pub(super) fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> SimError {
    let context = context.into();
    move |source| SimError::Io { context, source }
}
