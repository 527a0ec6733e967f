//! Agreement over NPL: every UNL node contributes a value for a named
//! [`Topic`], and every node that receives what the topic's [`Rule`] needs
//! decides the same [`Outcome`] from it.
//!
//! Raw NPL is best-effort: a message to a contract that has not started yet
//! (or has already ended) is dropped, each node receives the round's
//! messages in its own order, a node receives its own messages too, and the
//! engine never says that no more will come. [`Agreement`] is built on those
//! facts:
//!
//! - **Late starters.** When it hears from a UNL peer for the first time in
//!   the round, it sends its own contributions again: the peer was running
//!   when it sent, so it is running now, and the first copies may have been
//!   dropped before it started. Every copy carries a send number, so a
//!   re-send is never byte-identical to the first copy (the engine collapses
//!   identical payloads sent within one millisecond).
//! - **Order and duplicates.** The first contribution of each UNL node per
//!   topic counts; later copies and everything from outside the UNL are
//!   ignored. The decision is a function of the set of members'
//!   contributions only, never of arrival order or time.
//! - **An early end.** [`Agreement::npl`] says [`Npl::Done`] once every topic
//!   this node declared is decided and it has heard from every UNL peer (so
//!   no late starter still waits for a re-send from it), instead of waiting
//!   for `npl_timeout_ms`. A peer that never runs costs the timeout, not the
//!   decision: [`Rule::First`] decides without it.
//! - **Nothing node-local.** A node short of what the rule needs records
//!   [`Outcome::Undecided`], which says nothing about who was missing: every
//!   node in that position records the same.
//!
//! Honest nodes send one value per topic (this type refuses a second
//! [`contribute`](Agreement::contribute)). A faulty node that sends two
//! different values for one topic can split the nodes that saw different
//! copies; no rule over a best-effort channel can prevent that.
//!
//! The wire format is one small JSON object per message,
//! `{"hp_agree":"<topic>","n":<send number>,"value":<contribution>}`, so a
//! contract's own NPL messages travel alongside: [`Agreement::receive`]
//! returns [`Received::Other`] for them.
//!
//! ```
//! use hotpocket::agree::{Agreement, Outcome, Rule, Topic};
//! use hotpocket::prelude::*;
//!
//! const READING: Topic = Topic::new("reading", Rule::All);
//!
//! #[derive(Default, Serialize, Deserialize)]
//! struct Median {
//!     decided: Vec<Option<u64>>,
//!     #[serde(skip)]
//!     agree: Agreement,
//! }
//!
//! #[hotpocket::contract(npl_timeout_ms = 500)]
//! impl Median {
//!     #[on_round_start]
//!     fn start(&mut self, ctx: &mut Round) -> Result<()> {
//!         let mine = 10 + ctx.public_key().len() as u64; // a node-local reading
//!         self.agree.contribute(ctx, &READING, &mine)
//!     }
//!
//!     #[on_npl]
//!     fn npl(&mut self, ctx: &mut Round, from: &Node, msg: &[u8]) -> Result<Npl> {
//!         self.agree.receive(ctx, from, msg)?;
//!         Ok(self.agree.npl())
//!     }
//!
//!     #[on_round_end]
//!     fn end(&mut self, ctx: &mut Round) -> Result<()> {
//!         let median = match self.agree.outcome::<u64>(ctx, &READING)? {
//!             Outcome::Decided(all) => {
//!                 let mut v: Vec<u64> = all.into_iter().map(|c| c.value).collect();
//!                 v.sort_unstable();
//!                 v.get((v.len() - 1) / 2).copied()
//!             }
//!             Outcome::Undecided => None,
//!         };
//!         self.decided.push(median);
//!         Ok(())
//!     }
//! }
//!
//! # use hotpocket::testing::TestRound;
//! let (me, peer) = ("ed01", "ed02");
//! let round = || TestRound::new().unl([me, peer]).node_key(me);
//! let mut c = Median::default();
//! let out = round()
//!     .npl(peer, r#"{"hp_agree":"reading","n":0,"value":30}"#)
//!     .run(&mut c);
//! assert_eq!(c.decided, [Some(14)]);
//! // Its own contribution, then a re-send on first hearing from the peer.
//! assert_eq!(out.npl_sent.len(), 2);
//! // Next round (another lcl): the peer's contribution never comes.
//! round().lcl(2, &"cd".repeat(32)).run(&mut c);
//! assert_eq!(c.decided, [Some(14), None]);
//! ```
//!
//! A multi-phase exchange (commit, then reveal) declares the next topic
//! when the previous one is decided, in the same `#[on_npl]` call:
//!
//! ```
//! # use hotpocket::prelude::*;
//! # use hotpocket::agree::{Agreement, Rule, Topic};
//! # const COMMIT: Topic = Topic::new("commit", Rule::All);
//! # const REVEAL: Topic = Topic::new("reveal", Rule::All);
//! # struct Lottery { agree: Agreement, secret: String }
//! # impl Lottery {
//! # fn exchange(&mut self, ctx: &mut Round, from: &Node, msg: &[u8]) -> Result<Npl> {
//! self.agree.receive(ctx, from, msg)?;
//! if self.agree.is_decided(ctx, &COMMIT) && !self.agree.has_contributed(&REVEAL) {
//!     self.agree.contribute(ctx, &REVEAL, &self.secret)?;
//! }
//! Ok(self.agree.npl())
//! # }
//! # }
//! ```
//!
//! Test agreement on several nodes at once, with late starters, reordering
//! and lost messages, with [`testing::Cluster`](crate::testing::Cluster).

mod envelope;
mod topic;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::args::Lcl;
use crate::error::{Error, Result};
use crate::round::{Node, Npl, Round};
use envelope::Envelope;
pub(crate) use envelope::topic_of;
pub use topic::{Contribution, Outcome, Rule, Topic};

/// What [`Agreement::receive`] made of an NPL message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Received {
    /// An agreement envelope: taken in (or ignored, when its sender is not
    /// in the UNL or already contributed to the topic).
    Agreement,
    /// Not an envelope: the contract's own NPL message, for it to handle.
    Other,
}

/// One round's agreement state: the topics this node declared and every
/// contribution received. Keep it in the contract as a `#[serde(skip)]`
/// field; it resets itself when it meets a new round (another lcl), so a
/// value carried across rounds (as in tests) never mixes two rounds.
#[derive(Debug, Default)]
pub struct Agreement {
    /// The round this state belongs to; `None` before first use.
    round: Option<Lcl>,
    /// The UNL of that round, in UNL order.
    unl: Vec<Node>,
    /// Topics this node declared, by name.
    topics: BTreeMap<String, Rule>,
    /// Contributions by topic, then sender key (declared or not: a peer may
    /// reach the next phase before this node does).
    got: BTreeMap<String, BTreeMap<String, Value>>,
    /// This node's own contributions, in the order made (for re-sends).
    own: Vec<(String, Value)>,
    /// UNL peers heard from this round.
    heard: BTreeSet<String>,
    /// Envelopes sent this round.
    sent: u64,
}

impl Agreement {
    /// An empty agreement (the same as `Default`).
    pub fn new() -> Agreement {
        Agreement::default()
    }

    /// Clears the state when `ctx` is a round other than the one it holds.
    fn sync(&mut self, ctx: &Round) {
        if self.round.is_none() || self.round.as_ref() != ctx.lcl() {
            *self = Agreement {
                round: ctx.lcl().cloned(),
                unl: ctx.unl().to_vec(),
                ..Agreement::default()
            };
        }
    }

    fn is_member(&self) -> bool {
        self.unl.iter().any(Node::is_self)
    }

    fn own_key(&self) -> Option<&str> {
        self.unl.iter().find(|n| n.is_self()).map(Node::public_key)
    }

    /// Declares `topic` and contributes this node's `value` to it: sends it
    /// to every UNL node and counts it as this node's. A node outside the
    /// UNL (an observer, whose NPL the engine does not broadcast) only
    /// declares the topic, to learn its outcome. Fails in read requests (no
    /// NPL), on a second contribution to one topic, and when the value does
    /// not serialise or the NPL channel refuses it.
    pub fn contribute<T: Serialize + ?Sized>(
        &mut self,
        ctx: &mut Round,
        topic: &Topic,
        value: &T,
    ) -> Result<()> {
        if ctx.is_read_only() {
            return Err(Error::NotAllowed(
                "agreement needs NPL, which read requests do not have".into(),
            ));
        }
        self.sync(ctx);
        if self.has_contributed(topic) {
            return Err(Error::msg(format!(
                "this node already contributed to topic `{}`",
                topic.name()
            )));
        }
        self.topics.insert(topic.name().to_owned(), topic.rule());
        let Some(me) = self.own_key().map(str::to_owned) else {
            return Ok(());
        };
        let value = serde_json::to_value(value).map_err(|e| {
            Error::msg(format!(
                "serialising the contribution to `{}`: {e}",
                topic.name()
            ))
        })?;
        self.got
            .entry(topic.name().to_owned())
            .or_default()
            .insert(me, value.clone());
        self.own.push((topic.name().to_owned(), value.clone()));
        self.send(ctx, topic.name(), value)
    }

    fn send(&mut self, ctx: &mut Round, topic: &str, value: Value) -> Result<()> {
        let envelope = Envelope {
            hp_agree: topic.to_owned(),
            n: self.sent,
            value,
        };
        self.sent = self.sent.saturating_add(1);
        ctx.npl_send(envelope.encode()?)
    }

    /// Takes in one NPL message (pass every message `#[on_npl]` gets).
    /// Returns [`Received::Other`] for a message that is not an agreement
    /// envelope, and an error for a malformed envelope or when a re-send
    /// failed; the message is taken in either way.
    pub fn receive(&mut self, ctx: &mut Round, from: &Node, message: &[u8]) -> Result<Received> {
        self.sync(ctx);
        let resent = self.note_heard(ctx, from);
        let decoded = Envelope::decode(message);
        if let Ok(Some(envelope)) = &decoded {
            self.absorb(from, envelope);
        }
        resent?;
        Ok(match decoded? {
            Some(_) => Received::Agreement,
            None => Received::Other,
        })
    }

    /// Re-sends this node's contributions on first hearing from a UNL peer.
    fn note_heard(&mut self, ctx: &mut Round, from: &Node) -> Result<()> {
        if !from.in_unl() || from.is_self() || !self.heard.insert(from.public_key().to_owned()) {
            return Ok(());
        }
        for (topic, value) in self.own.clone() {
            self.send(ctx, &topic, value)?;
        }
        Ok(())
    }

    fn absorb(&mut self, from: &Node, envelope: &Envelope) {
        if !from.in_unl() {
            return;
        }
        self.got
            .entry(envelope.hp_agree.clone())
            .or_default()
            .entry(from.public_key().to_owned())
            .or_insert_with(|| envelope.value.clone());
    }

    fn decided(&self, name: &str, rule: Rule) -> bool {
        self.got
            .get(name)
            .is_some_and(|got| topic::is_decided(rule, &self.unl, got))
    }

    /// Whether the NPL phase can end: [`Npl::Done`] once every declared
    /// topic is decided and (on a UNL node) every UNL peer has been heard
    /// from, so none still waits for a re-send. Call it after
    /// [`receive`](Self::receive), as `#[on_npl]`'s return value.
    pub fn npl(&self) -> Npl {
        let decided = self
            .topics
            .iter()
            .all(|(name, rule)| self.decided(name, *rule));
        let heard_all = !self.is_member()
            || self
                .unl
                .iter()
                .all(|n| n.is_self() || self.heard.contains(n.public_key()));
        if decided && heard_all {
            Npl::Done
        } else {
            Npl::Continue
        }
    }

    /// Whether this node contributed to (or, outside the UNL, declared)
    /// `topic` in the current round.
    pub fn has_contributed(&self, topic: &Topic) -> bool {
        self.topics.contains_key(topic.name())
    }

    /// Whether `topic` is decided in `ctx`'s round: every member the rule
    /// names has contributed (declared or not by this node).
    pub fn is_decided(&self, ctx: &Round, topic: &Topic) -> bool {
        self.round.as_ref() == ctx.lcl()
            && self.round.is_some()
            && self.decided(topic.name(), topic.rule())
    }

    /// The topic's outcome in `ctx`'s round: the members' contributions in
    /// UNL order, or [`Outcome::Undecided`] when one is missing (or nothing
    /// was exchanged in this round). Fails when a member's contribution is
    /// not a `T`, which is the same on every node holding it.
    pub fn outcome<T: DeserializeOwned>(&self, ctx: &Round, topic: &Topic) -> Result<Outcome<T>> {
        if !self.is_decided(ctx, topic) {
            return Ok(Outcome::Undecided);
        }
        let got = self.got.get(topic.name());
        let mut all = Vec::new();
        for node in topic.rule().members(&self.unl) {
            let key = node.public_key();
            let value = got.and_then(|g| g.get(key)).cloned().unwrap_or(Value::Null);
            let value = T::deserialize(value).map_err(|e| {
                Error::msg(format!(
                    "node {key}'s contribution to `{}` does not fit: {e}",
                    topic.name()
                ))
            })?;
            all.push(Contribution {
                node: key.to_owned(),
                value,
            });
        }
        Ok(Outcome::Decided(all))
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod cluster_tests;
