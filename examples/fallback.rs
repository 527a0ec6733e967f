//! **fallback**: a contract that keeps working when consensus does not. In
//! consensus rounds it does its normal work, a shared notebook; in
//! `consensus_fallback` rounds it checks which UNL nodes are still reachable
//! and, after several rounds without consensus, takes the unreachable ones out
//! of the UNL so that the rest can reach consensus again.
//!
//! Fallback rounds exist only on engines built from hpcore's `fallback-hpsh`
//! branch (the `mode` argument layout), with `consensus.fallback.execute:
//! true` in the contract config. The engine runs one when a round's votes are
//! unreliable, typically because too many UNL nodes are down for the
//! threshold (with 3 nodes and the default threshold of 80, one is enough).
//! Such a round has no users, inputs or outputs, but it has NPL, the state is
//! kept, and right after it the engine applies a changed `patch.cfg` on that
//! node by itself (hpcore fallback-hpsh `consensus.cpp`:
//! `execute_contract_in_fallback`, then `apply_consensed_patch_file_changes`).
//!
//! What the contract does:
//!
//! - **Consensus rounds**: each input (UTF-8 text) is a note, kept in
//!   `notebook.json` and acknowledged with its number and ledger,
//!   `{"noted":{"number":1,"ledger":12}}`; an input that is not UTF-8 is
//!   answered `{"error":{"kind":"not_text","reason":"input is not valid
//!   UTF-8: …"}}` and noted nowhere.
//!   A read request returns the notes and the recoveries made so far,
//!   `{"notebook":{"notes":[…],"recoveries":[…]}}`. There
//!   is no NPL in these rounds (`Round::skip_npl_phase`), so they do not wait.
//! - **Fallback rounds**: every UNL node sends `alive` over NPL and collects
//!   the others' (the engine hands a node its own message too). From the
//!   third consecutive round without consensus (`Round::non_consensus_rounds`;
//!   the environment variable `FALLBACK_RECOVER_AFTER` sets another count),
//!   if it heard fewer nodes than the UNL holds but **more than half** of
//!   them, it rewrites the UNL in `patch.cfg` to the nodes it heard and
//!   records the recovery in the state.
//!
//! The "more than half" rule matters because each node applies the change on
//! its own, without agreement: in a split into two groups, only the group
//! holding a majority of the UNL shrinks it; the other group, even a node cut
//! off alone, changes nothing (no two groups can both be a majority of the
//! same UNL, so the cluster cannot split into two). A node is "heard" only if
//! its message arrived during the NPL phase, and the engine drops NPL messages
//! from nodes on another ledger, so a node that is up but behind is taken out
//! too; add it back once it has caught up (the admin example's
//! `add_unl_node`).
//!
//! Run a consensus round with a note, then a fallback round, with node 2 an
//! observer (`--observer 2`: it sends no proposals, and its NPL messages
//! never leave it). Two proposers of three are below the default 80%
//! threshold, so the consensus round closes no ledger (the note waits), and
//! the fallback round recovers from the first round without consensus: every
//! node hears nodes 0 and 1 only, so each writes the same two-node UNL to its
//! `patch.cfg`, and the report shows the change applied:
//!
//! ```sh
//! cargo run --example fallback -- --dev --nodes 3 --input alice:'first note' \
//!     --fallback --observer 2 --env FALLBACK_RECOVER_AFTER=1
//! ```
//!
//! `tests/examples/fallback.rs` also runs the partition case: node 2 cut off in
//! both directions, where nodes 0 and 1 take it out and node 2, hearing only
//! itself, changes nothing.
//!
//! # What it cannot recover from: live nodes on different lcls
//!
//! When the nodes still up closed different ledgers (one missed the last
//! one as a node went down: seen on a real cluster at lcl 15 and 16), the
//! engine drops every NPL message between them, so each hears only itself
//! and none is a majority: the contract changes nothing, round after round.
//! No contract can do better: a node cannot tell a peer on another lcl from
//! a dead one, and shrinking the UNL anyway would let each side shrink it to
//! itself. The operator brings the missing node back (so that enough nodes
//! propose for a ledger to close and the node behind catches up), or stops
//! the live nodes and gives them one lcl, or edits their UNL by hand; see
//! [`guide::npl`](hotpocket::guide::npl#across-lcls). The example's test
//! shows both sides: no change while the lcls differ, recovery in the first
//! fallback round once they match.

use std::collections::BTreeSet;

use hotpocket::Mode;
use hotpocket::prelude::*;

/// The consecutive rounds without consensus after which unreachable nodes are
/// taken out of the UNL, unless the environment says otherwise.
const RECOVER_AFTER: u16 = 3;
/// The environment variable that overrides [`RECOVER_AFTER`].
const RECOVER_AFTER_VAR: &str = "FALLBACK_RECOVER_AFTER";
/// How many notes the notebook keeps.
const NOTES: usize = 100;
/// The NPL message of a fallback round.
const ALIVE: &[u8] = b"alive";

/// The contract's state, saved in `notebook.json`.
#[derive(Default, Serialize, Deserialize)]
struct Notebook {
    /// The last [`NOTES`] notes, oldest first.
    notes: Vec<Note>,
    /// How many notes were ever taken.
    taken: u64,
    /// Every UNL change made in a fallback round.
    recoveries: Vec<Recovery>,
    /// The UNL nodes heard this round (fallback rounds only); not saved.
    #[serde(skip)]
    heard: BTreeSet<String>,
}

#[derive(Serialize, Deserialize)]
struct Note {
    number: u64,
    ledger: u64,
    author: String,
    text: String,
}

/// A UNL change made in a fallback round.
#[derive(Serialize, Deserialize)]
struct Recovery {
    /// The engine's count of consecutive rounds without consensus.
    non_consensus_rounds: u16,
    /// The nodes taken out.
    removed: Vec<String>,
    /// The UNL written to `patch.cfg`.
    unl: Vec<String>,
}

/// [`RECOVER_AFTER`], or the count the environment gives (the same on every
/// node: the engine passes the contract config's `environment`).
fn recover_after(ctx: &Round) -> u16 {
    match ctx.env(RECOVER_AFTER_VAR) {
        None => RECOVER_AFTER,
        Some(v) => v.parse().unwrap_or_else(|_| {
            eprintln!("fallback: {RECOVER_AFTER_VAR}={v:?} is not a count; using {RECOVER_AFTER}");
            RECOVER_AFTER
        }),
    }
}

/// What users get back.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Reply<'a> {
    /// A note was taken.
    Noted { number: u64, ledger: u64 },
    /// A read request's answer.
    Notebook {
        notes: &'a [Note],
        recoveries: &'a [Recovery],
    },
    /// The input was refused (`kind` is `not_text`); nothing was noted.
    Error { kind: &'static str, reason: String },
}

#[hotpocket::contract(state = "notebook.json", npl_timeout_ms = 300)]
impl Notebook {
    #[on_round_start]
    fn start(&mut self, ctx: &mut Round) -> Result<()> {
        if ctx.mode() != Mode::ConsensusFallback {
            ctx.skip_npl_phase();
            return Ok(());
        }
        if ctx.unl().iter().any(|n| n.is_self()) {
            ctx.npl_send(ALIVE)?;
        }
        Ok(())
    }

    #[on_input]
    fn note(
        &mut self,
        ctx: &mut Round,
        user: &User,
        text: Result<String, Rejection>,
    ) -> Result<()> {
        let text = match text {
            Ok(text) => text,
            Err(why) => {
                return user.send_json(&Reply::Error {
                    kind: "not_text",
                    reason: why.to_string(),
                });
            }
        };
        let ledger = ctx.lcl_seq_no().unwrap_or_default();
        self.taken = self.taken.saturating_add(1);
        self.notes.push(Note {
            number: self.taken,
            ledger,
            author: user.public_key().to_owned(),
            text,
        });
        let excess = self.notes.len().saturating_sub(NOTES);
        self.notes.drain(..excess);
        user.send_json(&Reply::Noted {
            number: self.taken,
            ledger,
        })
    }

    #[on_npl]
    fn alive(&mut self, ctx: &mut Round, from: &Node, msg: &[u8]) -> Npl {
        if msg == ALIVE && from.in_unl() {
            self.heard.insert(from.public_key().to_owned());
        }
        if self.heard.len() == ctx.unl().len() {
            Npl::Done
        } else {
            Npl::Continue
        }
    }

    #[on_round_end]
    fn recover(&mut self, ctx: &mut Round) -> Result<()> {
        let rounds = ctx.non_consensus_rounds().unwrap_or_default();
        if ctx.mode() != Mode::ConsensusFallback || rounds < recover_after(ctx) {
            return Ok(());
        }
        let unl: Vec<String> = ctx
            .unl()
            .iter()
            .map(|n| n.public_key().to_owned())
            .collect();
        let heard = self.heard.len();
        if heard == unl.len() || heard * 2 <= unl.len() {
            return Ok(()); // everyone is there, or we are not a majority
        }
        let mut cfg = ctx.patch_config()?;
        cfg.unl = self.heard.iter().cloned().collect();
        ctx.update_patch_config(&cfg)?;
        self.recoveries.push(Recovery {
            non_consensus_rounds: rounds,
            removed: unl
                .into_iter()
                .filter(|k| !self.heard.contains(k))
                .collect(),
            unl: cfg.unl,
        });
        Ok(())
    }

    #[on_read_request]
    fn show(&self, _ctx: &mut Round, user: &User, _input: &[u8]) -> Result<()> {
        user.send_json(&Reply::Notebook {
            notes: &self.notes,
            recoveries: &self.recoveries,
        })
    }
}

/// In process (`cargo test --example fallback`): a fallback round on a
/// three-node UNL that heard two nodes recovers only from the count of rounds
/// without consensus the environment allows.
#[cfg(test)]
mod tests {
    use hotpocket::config::PatchConfig;
    use hotpocket::testing::TestRound;

    use super::*;

    /// Node `i`'s public key.
    fn key(i: u8) -> String {
        format!("ed{i:064x}")
    }

    fn fallback_round(notebook: &mut Notebook, recover_after: Option<&str>) -> Vec<String> {
        let unl: Vec<String> = (0..3).map(key).collect();
        let mut round = TestRound::fallback()
            .node_key(&key(0))
            .unl(unl.clone())
            .patch_config(PatchConfig::new(unl, "fallback"))
            .npl(&key(0), ALIVE)
            .npl(&key(1), ALIVE);
        if let Some(count) = recover_after {
            round = round.env(RECOVER_AFTER_VAR, count);
        }
        let out = round.run(notebook);
        assert!(out.problems.is_empty(), "{:?}", out.problems);
        out.patch_config.map(|cfg| cfg.unl).unwrap_or_default()
    }

    #[test]
    fn the_environment_sets_when_unreachable_nodes_are_taken_out() {
        // A fallback TestRound is the first round without consensus.
        let mut notebook = Notebook::default();
        let all: Vec<String> = (0..3).map(key).collect();
        assert_eq!(fallback_round(&mut notebook, None), all);
        assert!(notebook.recoveries.is_empty());
        assert_eq!(fallback_round(&mut notebook, Some("1")), all[..2]);
        assert_eq!(notebook.recoveries.len(), 1);
        assert_eq!(notebook.recoveries[0].removed, [key(2)]);
        assert!(notebook.heard.is_empty(), "not saved");
    }

    #[test]
    fn an_input_that_is_not_text_is_answered_and_not_noted() {
        let mut notebook = Notebook::default();
        let out = TestRound::new()
            .input("alice", b"ok\xff")
            .input("alice", "milk")
            .run(&mut notebook);
        assert_eq!(
            out.outputs("alice"),
            [
                r#"{"error":{"kind":"not_text","reason":"input is not valid UTF-8: invalid byte at offset 2"}}"#,
                r#"{"noted":{"number":1,"ledger":1}}"#,
            ]
        );
        assert!(out.problems.is_empty(), "{:?}", out.problems);
        assert_eq!(notebook.notes.len(), 1);
    }
}
