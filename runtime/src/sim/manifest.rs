//! `<dir>/cluster.json`: what a cluster kept in a directory
//! ([`ClusterBuilder::keep_state`](super::ClusterBuilder::keep_state)) needs for a later
//! cluster to continue it: its shape (node count, keys, variant, contract
//! id), where its ledger and clock stand, and its contract configuration.
//!
//! The state directories and `patch.cfg` files beside it are the rest of
//! the cluster; they are used as they are.

use std::fs;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The file's name inside the kept directory.
pub(crate) const FILE: &str = "cluster.json";

/// Identifies the file and its layout.
pub(crate) const FORMAT: &str = "hotpocket-sim cluster 1";

/// The manifest's contents.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Manifest {
    /// Always [`FORMAT`].
    pub(crate) format: String,
    /// Number of nodes.
    pub(crate) nodes: usize,
    /// Node public keys, by index.
    pub(crate) node_keys: Vec<String>,
    /// Engine variant: `readonly` or `mode`.
    pub(crate) variant: String,
    /// The contract id handed to contracts.
    pub(crate) contract_id: String,
    /// The contract binary the cluster last ran (canonical path).
    pub(crate) bin: String,
    /// Rounds run so far, of every kind (the last round's number).
    pub(crate) rounds: u64,
    /// The lcl the next round builds on.
    pub(crate) lcl_seq_no: u64,
    /// Its hash (64 hex digits).
    pub(crate) lcl_hash: String,
    /// The simulated clock: the last consensus or fallback round's timestamp.
    pub(crate) clock_ms: u64,
    /// Consecutive fallback rounds so far.
    pub(crate) non_consensus_rounds: u64,
    /// The configuration the last run asked for, before the cluster filled in
    /// its UNL and binary: what tells an operator's change between runs apart
    /// from a change the contract made.
    pub(crate) requested: Value,
    /// The configuration in force (with any `patch.cfg` change the nodes
    /// agreed on applied).
    pub(crate) config: Value,
    /// The `patch.cfg` text the nodes had after the configuration was last
    /// written or applied; a node file differing from it is a contract's
    /// change not yet applied.
    pub(crate) patch_cfg: String,
}

/// Reads `<dir>/cluster.json`: `Ok(None)` if there is none, `Err` with the
/// reason if it cannot be used.
pub(crate) fn load(dir: &Path) -> Result<Option<Manifest>, String> {
    let path = dir.join(FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {FILE}: {e}")),
    };
    let m: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{FILE} is not a cluster manifest this simulator reads: {e}"))?;
    if m.format != FORMAT {
        return Err(format!(
            "{FILE} has format {:?}; this simulator reads {FORMAT:?}",
            m.format
        ));
    }
    let hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex64(&m.lcl_hash) {
        return Err(format!(
            "{FILE}: lcl_hash {:?} is not 64 hex digits",
            m.lcl_hash
        ));
    }
    Ok(Some(m))
}

/// Writes `<dir>/cluster.json` (through a temporary file, so a crash never
/// leaves half a manifest).
pub(crate) fn save(dir: &Path, m: &Manifest) -> io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(m).map_err(io::Error::other)?;
    bytes.push(b'\n');
    let tmp = dir.join(format!("{FILE}.tmp"));
    fs::write(&tmp, &bytes)?;
    fs::rename(&tmp, dir.join(FILE))
}

/// Carries an operator's change between runs over to the configuration in
/// force: every key whose value differs between the `old` and `new` requests
/// takes its `new` value (or is removed) in `target`; keys the requests
/// agree on keep `target`'s value, so what the contract changed through
/// `patch.cfg` stays. Objects are compared key by key, anything else whole.
pub(crate) fn carry_over(old: &Value, new: &Value, target: &mut Value) {
    let (Value::Object(o), Value::Object(n)) = (old, new) else {
        if old != new {
            *target = new.clone();
        }
        return;
    };
    if !target.is_object() {
        // The contract replaced the whole object; the operator's change wins
        // only where the requests differ, which here means all of it.
        if old != new {
            *target = new.clone();
        }
        return;
    }
    let keys: std::collections::BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    for k in keys {
        let Value::Object(t) = target else { return };
        match (o.get(k), n.get(k)) {
            (Some(a), Some(b)) => {
                if let Some(slot) = t.get_mut(k) {
                    carry_over(a, b, slot);
                } else if a != b {
                    t.insert(k.clone(), b.clone());
                }
            }
            (None, Some(b)) => {
                t.insert(k.clone(), b.clone());
            }
            (Some(_), None) => {
                t.remove(k);
            }
            (None, None) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn carry_over_applies_only_what_the_requests_changed() {
        let old = json!({"a": 1, "env": {"X": "1", "Y": "2"}, "gone": true, "l": [1]});
        let new = json!({"a": 1, "env": {"X": "9", "Z": "3"}, "l": [1]});
        // The contract changed `a` and `l`; the operator X, Y, Z and `gone`.
        let mut target = json!({"a": 5, "env": {"X": "1", "Y": "2"}, "gone": true, "l": [2]});
        carry_over(&old, &new, &mut target);
        assert_eq!(
            target,
            json!({"a": 5, "env": {"X": "9", "Z": "3"}, "l": [2]})
        );
        // Same requests: nothing changes.
        let before = target.clone();
        carry_over(&new, &new, &mut target);
        assert_eq!(target, before);
    }
}
