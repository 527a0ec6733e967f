//! Whether the nodes agree, and where they first differ.

use std::fmt;

use super::{NodeReport, PostExec, render_bytes};

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
