//! Nodes on different lcls: a node that missed ledgers runs its contract on
//! an older one, and NPL between nodes whose lcls differ is dropped, as the
//! engine drops it ("Trying to add irrelevant NPL from …").

use super::{Cluster, SimError};

/// How many past ledgers the cluster remembers, so that a node can be put
/// that many behind.
pub(super) const LCL_HISTORY: usize = 16;

impl Cluster {
    /// Puts node `i` `ledgers` behind the cluster's lcl from the next round
    /// on (0: back on the cluster's lcl), as a node that missed ledgers or
    /// sat on the other side of a partition: its contract runs on that older
    /// lcl (sequence number and hash), the other nodes' contracts see it
    /// there in the UNL, and NPL between it and any node on another lcl is
    /// dropped (lost, with the reason, in both nodes' reports). It stays the
    /// same number of ledgers behind while the cluster moves on. The engine
    /// would have such a node sync the ledger before it takes part in
    /// consensus again; fallback rounds are where nodes really run on
    /// different lcls. Fails when the cluster has not closed that many
    /// ledgers since it was built (at most 16 are remembered).
    pub fn set_lcl_behind(&mut self, i: usize, ledgers: u64) -> Result<&mut Self, SimError> {
        if i >= self.rt.nodes.len() {
            return Err(SimError::Usage(format!(
                "set_lcl_behind: no node {i} in a {}-node cluster",
                self.rt.nodes.len()
            )));
        }
        let held = self.rt.recent_lcls.len() as u64;
        if ledgers > held {
            return Err(SimError::Usage(format!(
                "set_lcl_behind: node {i} cannot be {ledgers} ledgers behind; \
                 the cluster remembers {held} past ledgers (it keeps at most {LCL_HISTORY}, \
                 from those it closed since it was built)"
            )));
        }
        if ledgers == 0 {
            self.settings.lcl_behind.remove(&i);
        } else {
            self.settings.lcl_behind.insert(i, ledgers);
        }
        Ok(self)
    }

    /// The lcl node `i` runs on: the cluster's, or the remembered one as
    /// many ledgers back as [`set_lcl_behind`](Self::set_lcl_behind) asked.
    pub(super) fn node_lcl(&self, i: usize) -> (u64, String) {
        let rt = &self.rt;
        let behind = self.settings.lcl_behind.get(&i).copied().unwrap_or(0);
        let back = usize::try_from(behind).unwrap_or(usize::MAX);
        match rt.recent_lcls.len().checked_sub(back) {
            Some(at) if back > 0 => rt.recent_lcls.get(at).cloned(),
            _ => None,
        }
        .unwrap_or_else(|| (rt.lcl_seq_no, rt.lcl_hash.clone()))
    }

    /// Remembers the lcl a consensus round is about to replace.
    pub(super) fn remember_lcl(&mut self) {
        let rt = &mut self.rt;
        rt.recent_lcls.push((rt.lcl_seq_no, rt.lcl_hash.clone()));
        let excess = rt.recent_lcls.len().saturating_sub(LCL_HISTORY);
        rt.recent_lcls.drain(..excess);
    }
}
