//! **npl_vote**: the nodes agree on a value none of them can compute alone,
//! over NPL (the node party line), with [`hotpocket::agree`], and stay
//! deterministic when a message is lost.
//!
//! Every round, each UNL node proposes a reading of its own: here a number
//! derived from its public key and the ledger, standing in for what a real
//! contract would take from outside (a price from an exchange, a sensor), which
//! differs from node to node. It contributes the proposal to the topic
//! `proposal` of an [`Agreement`], which sends it to every UNL node, and at
//! the end of the round decides **the median of the proposals, but only when
//! it holds one from every UNL node** ([`Rule::All`]). Otherwise it records
//! "no decision", and the next round simply tries again with fresh
//! proposals. Each round's result goes into the state (the last 10 are kept
//! in `vote.json`) and to every connected user: `{"ledger":3,"value":10234}`
//! or `{"ledger":3,"value":null}`. A read request returns the kept results.
//!
//! # What the agreement takes care of
//!
//! The engine's NPL is best-effort: a message to a contract that has not
//! started yet is dropped, every node receives the round's messages in its
//! own order, and the engine never says that no more will come. The
//! agreement re-sends a node's proposal when it hears from a peer for the
//! first time (so a node whose contract started late still gets every
//! proposal), counts each node's proposal once whatever the order and the
//! copies, and ends the NPL phase as soon as every proposal is in, instead of
//! at `npl_timeout_ms`. Deciding only on the full set means a node's result
//! depends on one thing: did it get every proposal. Nodes that got them all
//! decide the same value; nodes that did not record the same "no decision",
//! which names no one (who was missing differs from node to node).
//!
//! # What a proposal lost for good does to consensus
//!
//! It cannot make the nodes agree; nothing can, since they saw different
//! messages. When a proposal reaches two nodes of three, those two decide and
//! the third records "no decision", so its state (and its outputs) differ.
//! The engine then does what it does for any node whose state differs: each
//! node proposes its own state hash for the next ledger, a node whose hash is
//! not the one most nodes propose marks itself out of sync and fetches the
//! state from its peers (hpcore `consensus.cpp`, `check_state_votes`, then an
//! hpfs sync), and a ledger closes only when at least `threshold` percent of
//! the UNL propose the same thing (`attempt_ledger_close`; with the default
//! threshold of 80 and 3 nodes, all 3). So the lost message costs the cluster
//! time, not correctness: the odd node adopts the majority's state, decision
//! included. When most nodes missed the proposal, the majority state is "no
//! decision" and the one node that had the full set adopts that instead.
//!
//! The simulator has no state sync: there, the odd node keeps its state, and
//! the verdict names it. `tests/examples/npl_vote.rs` shows both and copies the
//! majority's state over, as the engine's sync would, after which the nodes
//! agree again. When a decision must never cost a round of consensus, send
//! the proposals as user inputs instead (nodes can be users of their own
//! cluster): inputs go through consensus, so every node sees the same set.
//!
//! Run it on a simulated 3-node cluster: as is; with node 2 starting 100 ms
//! late (its peers' first copies are lost, the re-sends reach it, all decide);
//! on 5 nodes with node 4 starting 300 ms late; and with every NPL message to
//! node 2 dropped (node 2 then records "no decision" and the nodes disagree;
//! dev mode exits with 1):
//!
//! ```sh
//! cargo run --example npl_vote -- --dev --nodes 3 --user alice --rounds 2 --read alice:latest
//! cargo run --example npl_vote -- --dev --nodes 3 --user alice --rounds 3 --delay-start 2:100
//! cargo run --example npl_vote -- --dev --nodes 5 --user alice --rounds 3 --delay-start 4:300
//! cargo run --example npl_vote -- --dev --nodes 3 --user alice --drop-npl-to 2
//! ```

use hotpocket::agree::{Agreement, Outcome as Agreed, Rule, Topic};
use hotpocket::prelude::*;

/// How many round results the state keeps.
const HISTORY: usize = 10;

/// Every UNL node's proposal for the round's ledger; decided only when all
/// are in.
const PROPOSAL: Topic = Topic::new("proposal", Rule::All);

/// The contract's state, saved in `vote.json`; the round's agreement is not
/// saved.
#[derive(Default, Serialize, Deserialize)]
struct Vote {
    /// The last [`HISTORY`] round results, oldest first.
    results: Vec<Outcome>,
    /// This round's proposals.
    #[serde(skip)]
    agree: Agreement,
}

/// The result of one round.
#[derive(Clone, Serialize, Deserialize)]
struct Outcome {
    /// The lcl sequence number of the round.
    ledger: u64,
    /// The median of all UNL nodes' proposals; `None` when some were missing.
    value: Option<u64>,
}

/// This node's reading for a ledger. In a real contract, this is where the
/// node would read its own source; anything node-local will do, since only
/// the agreed median reaches the state.
fn reading(public_key: &str, ledger: u64) -> u64 {
    // FNV-1a over the key and the ledger: a stable, per-node value.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in public_key.bytes().chain(ledger.to_be_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    10_000 + h % 500
}

/// The median of a non-empty list (the lower one of the middle two for an
/// even count): the same on every node for the same values.
fn median(mut values: Vec<u64>) -> Option<u64> {
    values.sort_unstable();
    let mid = values.len().checked_sub(1)? / 2;
    values.get(mid).copied()
}

#[hotpocket::contract(state = "vote.json", npl_timeout_ms = 400)]
impl Vote {
    #[on_round_start]
    fn propose(&mut self, ctx: &mut Round) -> Result<()> {
        let Some(ledger) = ctx.lcl_seq_no() else {
            return Ok(()); // a read request: no NPL, nothing to vote on
        };
        let proposal = reading(ctx.public_key(), ledger);
        self.agree.contribute(ctx, &PROPOSAL, &proposal)
    }

    #[on_npl]
    fn collect(&mut self, ctx: &mut Round, from: &Node, msg: &[u8]) -> Result<Npl> {
        self.agree.receive(ctx, from, msg)?;
        Ok(self.agree.npl())
    }

    #[on_round_end]
    fn decide(&mut self, ctx: &mut Round) -> Result<()> {
        let Some(ledger) = ctx.lcl_seq_no() else {
            return Ok(());
        };
        let value = match self.agree.outcome::<u64>(ctx, &PROPOSAL)? {
            Agreed::Decided(all) => median(all.into_iter().map(|c| c.value).collect()),
            Agreed::Undecided => None,
        };
        let outcome = Outcome { ledger, value };
        self.results.push(outcome.clone());
        let excess = self.results.len().saturating_sub(HISTORY);
        self.results.drain(..excess);
        for user in ctx.users() {
            user.send_json(&outcome)?;
        }
        Ok(())
    }

    #[on_read_request]
    fn latest(&self, _ctx: &mut Round, user: &User, _input: &[u8]) -> Result<()> {
        user.send_json(&self.results)
    }
}
