//! [`Cluster`]: several nodes' handlers in one process, with NPL flowing
//! between them under the simulator's delivery rules, on a simulated clock.

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::contract::{Contract, DEFAULT_NPL_TIMEOUT_MS};
use crate::lifecycle::{
    Inputs, Outcome, Reporter, before_npl, deliver_npl, end_round, has_npl_phase,
};
use crate::npl_match::NplMatch;
use crate::round::{Outbox, Round};
use crate::testing::{TestRound, saved};

/// Messages to drop for good: those matching every part given (a sender, a
/// receiver, the sender's message index in the round, counting from 0, and
/// the [`agree`](crate::agree) topic the message carries).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NplDrop(NplMatch);

impl NplDrop {
    /// Every message sent by node `from`.
    pub fn from(from: usize) -> NplDrop {
        NplDrop(NplMatch {
            from: Some(from),
            ..NplMatch::default()
        })
    }

    /// Every message to node `to`.
    pub fn to_node(to: usize) -> NplDrop {
        NplDrop::default().to(to)
    }

    /// Only messages to node `to`.
    pub fn to(mut self, to: usize) -> NplDrop {
        self.0.to = Some(to);
        self
    }

    /// Only the sender's message number `index` (0 is its first) of the round.
    pub fn index(mut self, index: usize) -> NplDrop {
        self.0.index = Some(index);
        self
    }

    /// Only [`agree`](crate::agree) envelopes of this topic (a message
    /// that is no envelope has no topic, so it never matches).
    pub fn topic(mut self, topic: &str) -> NplDrop {
        self.0.topic = Some(topic.to_owned());
        self
    }

    /// Every message whose [`agree`](crate::agree) topic is `topic`.
    pub fn on_topic(topic: &str) -> NplDrop {
        NplDrop::default().topic(topic)
    }

    fn matches(&self, from: usize, to: usize, index: usize, topic: Option<&str>) -> bool {
        self.0.matches(from, to, index, topic)
    }
}

/// A message a node never received, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LostNpl {
    /// The sender's index.
    pub from: usize,
    /// The sender's message index in the round.
    pub index: usize,
    /// Why: dropped on purpose, or the receiver was not running.
    pub reason: &'static str,
}

/// What one node did in a [`Cluster`] round.
#[derive(Clone, Debug, Default)]
pub struct NodeRound {
    /// The node's index (its place in UNL order).
    pub index: usize,
    /// Every user's outputs, in the order sent.
    pub outputs: BTreeMap<String, Vec<Vec<u8>>>,
    /// The NPL messages it sent, in order.
    pub npl_sent: Vec<Vec<u8>>,
    /// The NPL messages it received, in arrival order: (sender's index, bytes).
    pub npl_received: Vec<(usize, Vec<u8>)>,
    /// The messages sent to it that it never received.
    pub npl_lost: Vec<LostNpl>,
    /// Problems reported (handler errors and panics), as on stderr.
    pub problems: Vec<String>,
    /// When it started and ended (simulated ms since the round began).
    pub started_at: u64,
    /// See [`started_at`](Self::started_at).
    pub ended_at: u64,
    /// True when its NPL phase ended at the timeout, not by its handler.
    pub timed_out: bool,
}

impl NodeRound {
    /// A user's outputs as UTF-8 text (lossy).
    pub fn outputs(&self, user: &str) -> Vec<String> {
        self.outputs
            .get(user)
            .map(|v| {
                v.iter()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// What a [`Cluster`] round produced, node by node.
#[derive(Clone, Debug, Default)]
pub struct ClusterRound {
    /// The round's number, also its lcl sequence number (from 1).
    pub number: u64,
    /// Every node, by index.
    pub nodes: Vec<NodeRound>,
}

// A test asking for a node the cluster does not have is the test's mistake:
// said at once, with the cluster's size, as a failed test.
#[allow(clippy::panic)]
impl ClusterRound {
    /// Node `i`'s part. Panics when there is no such node (tests only).
    pub fn node(&self, i: usize) -> &NodeRound {
        match self.nodes.get(i) {
            Some(n) => n,
            None => panic!("no node {i} in a {}-node cluster", self.nodes.len()),
        }
    }
}

/// Several nodes in one process, with NPL flowing between them under the
/// simulator's delivery rules, on a simulated clock. Settings apply to every
/// following round until changed.
///
/// Each node runs its own contract value through a consensus round: round
/// start and inputs when it starts, `#[on_npl]` for each message as it
/// arrives, round end when its handler says done or its `npl_timeout_ms`
/// passes. Every message a node sends goes to every node, as in the engine:
/// back to the sender at once (its own message comes first), to each peer
/// after a seeded latency of 1-20 ms (so every node sees its own order), and
/// only while the receiver runs: a message reaching a node that has not
/// started (see [`Cluster::start_late`]) or has ended is lost. Chosen
/// messages can be dropped for good ([`NplDrop`]). The same seed gives the
/// same run, message for message; handlers take no simulated time. A
/// contract with a state file goes through the file around each node's
/// round, as in [`TestRound::run`]: `#[serde(skip)]` fields reset, and a
/// failed save keeps the previous state and drops the node's outputs.
///
/// ```
/// use hotpocket::testing::{Cluster, NplDrop};
/// use hotpocket::{Contract, HandlerError, Node, Npl, Result, Round};
///
/// /// Counts the messages it hears; done after three.
/// #[derive(Default)]
/// struct Hello(usize);
/// impl Contract for Hello {
///     const HAS_NPL: bool = true;
///     fn load() -> Result<Self> { Ok(Hello(0)) }
///     fn on_round_start(&mut self, r: &mut Round) -> Result<(), HandlerError> {
///         r.npl_send("hi").map_err(HandlerError::extract)
///     }
///     fn on_npl(&mut self, _: &mut Round, _: &Node, _: &[u8]) -> Result<Npl, HandlerError> {
///         self.0 += 1;
///         Ok(if self.0 == 3 { Npl::Done } else { Npl::Continue })
///     }
/// }
///
/// let mut cluster = Cluster::new(3);
/// cluster.seed(7).start_late(2, 100).drop_npl(NplDrop::from(0).to(1));
/// let mut nodes = [Hello(0), Hello(0), Hello(0)];
/// let round = cluster.round(&mut nodes);
/// // Node 2 started after the others' messages arrived: it hears only itself.
/// assert_eq!(round.node(2).npl_received.len(), 1);
/// assert_eq!(round.node(2).npl_lost.len(), 2);
/// // Node 1 hears itself and node 2, not node 0 (dropped).
/// assert_eq!(round.node(1).npl_received.iter().map(|m| m.0).collect::<Vec<_>>(), [1, 2]);
/// ```
#[derive(Clone, Debug)]
pub struct Cluster {
    keys: Vec<String>,
    seed: u64,
    rounds: u64,
    late: Vec<u64>,
    drops: Vec<NplDrop>,
    inputs: Vec<(String, Vec<u8>)>,
}

/// What happens at a point of simulated time; the order of simultaneous
/// events: own messages first, then starts, peers' messages, timeouts.
#[derive(Debug)]
enum Event {
    Deliver {
        from: usize,
        to: usize,
        index: usize,
        data: Rc<Vec<u8>>,
    },
    Start(usize),
    Timeout(usize),
}

/// A node while the round runs.
struct Live {
    round: Round,
    inputs: Inputs,
    reporter: Reporter,
    started: bool,
    running: bool,
    /// The state file the node's round started from (state-file contracts).
    saved: Option<Vec<u8>>,
    report: NodeRound,
}

/// The simulated clock: events by (time, kind rank, insertion number).
#[derive(Default)]
struct Clock {
    queue: BTreeMap<(u64, u8, u64), Event>,
    inserted: u64,
}

impl Clock {
    fn at(&mut self, time: u64, event: Event) {
        let rank = match &event {
            Event::Deliver { from, to, .. } if from == to => 0,
            Event::Start(_) => 1,
            Event::Deliver { .. } => 2,
            Event::Timeout(_) => 3,
        };
        self.inserted += 1;
        self.queue.insert((time, rank, self.inserted), event);
    }
}

impl Cluster {
    /// `nodes` nodes (at least one), keys `ed00…01`, `ed00…02`, … in UNL
    /// order, seed 0, no late starts, no drops, no inputs.
    pub fn new(nodes: usize) -> Cluster {
        let keys = (1..=nodes.max(1)).map(|i| format!("ed{i:064x}")).collect();
        Cluster {
            keys,
            seed: 0,
            rounds: 0,
            late: vec![0; nodes.max(1)],
            drops: Vec::new(),
            inputs: Vec::new(),
        }
    }

    /// The seed of the peers' latencies (and so of every node's arrival order).
    pub fn seed(&mut self, seed: u64) -> &mut Cluster {
        self.seed = seed;
        self
    }

    /// Starts node `node`'s contract `ms` simulated milliseconds after the
    /// others (0: on time); messages reaching it before are lost.
    pub fn start_late(&mut self, node: usize, ms: u64) -> &mut Cluster {
        if let Some(l) = self.late.get_mut(node) {
            *l = ms;
        }
        self
    }

    /// Drops every message `rule` matches.
    pub fn drop_npl(&mut self, rule: NplDrop) -> &mut Cluster {
        self.drops.push(rule);
        self
    }

    /// Every node starts on time and no message is dropped on purpose.
    pub fn clear_faults(&mut self) -> &mut Cluster {
        self.late.iter_mut().for_each(|l| *l = 0);
        self.drops.clear();
        self
    }

    /// Gives `user` an input in every following round, on every node.
    pub fn input(&mut self, user: &str, input: impl AsRef<[u8]>) -> &mut Cluster {
        self.inputs.push((user.to_owned(), input.as_ref().to_vec()));
        self
    }

    /// The nodes' public keys, by index (UNL order).
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// Runs the next round on `nodes` (one contract value per node, by
    /// index; the value is the node's state, kept for the next round).
    /// Panics when `nodes` has another length than the cluster.
    pub fn round<C: Contract>(&mut self, nodes: &mut [C]) -> ClusterRound {
        assert_eq!(nodes.len(), self.keys.len(), "one contract value per node");
        self.rounds += 1;
        let mut live: Vec<Live> = (0..nodes.len()).map(|i| self.live(i)).collect();
        let mut clock = Clock::default();
        for (i, late) in self.late.iter().enumerate() {
            clock.at(*late, Event::Start(i));
        }
        while let Some(((now, _, _), event)) = clock.queue.pop_first() {
            self.step(nodes, &mut live, &mut clock, now, event);
        }
        ClusterRound {
            number: self.rounds,
            nodes: live.into_iter().map(Live::finish).collect(),
        }
    }

    fn live(&self, i: usize) -> Live {
        let seq = self.rounds;
        let hash = format!("{:016x}", mix(&[self.seed, seq])).repeat(4);
        let mut test = TestRound::new()
            .unl(self.keys.iter().cloned())
            .node_key(self.keys.get(i).map_or("", String::as_str))
            .lcl(seq, &hash)
            .timestamp(1_700_000_000_000 + seq * 1000);
        for (user, input) in &self.inputs {
            test = test.input(user, input);
        }
        let (round, inputs) = test.into_parts();
        Live {
            round,
            inputs,
            reporter: Reporter {
                echo: false,
                outcome: Outcome::default(),
            },
            started: false,
            running: false,
            saved: None,
            report: NodeRound {
                index: i,
                ..NodeRound::default()
            },
        }
    }

    fn step<C: Contract>(
        &self,
        nodes: &mut [C],
        live: &mut [Live],
        clock: &mut Clock,
        now: u64,
        event: Event,
    ) {
        match event {
            Event::Start(i) => self.start(nodes, live, clock, now, i),
            Event::Timeout(i) => {
                if live.get(i).is_some_and(|l| l.running) {
                    if let Some(l) = live.get_mut(i) {
                        l.report.timed_out = true;
                    }
                    self.end(nodes, live, clock, now, i);
                }
            }
            Event::Deliver {
                from,
                to,
                index,
                data,
            } => self.deliver(nodes, live, clock, now, (from, to, index), &data),
        }
    }

    fn start<C: Contract>(
        &self,
        nodes: &mut [C],
        live: &mut [Live],
        clock: &mut Clock,
        now: u64,
        i: usize,
    ) {
        let (Some(c), Some(l)) = (nodes.get_mut(i), live.get_mut(i)) else {
            return;
        };
        l.started = true;
        l.running = true;
        l.report.started_at = now;
        if let Some(codec) = C::state_codec() {
            l.saved = saved::start_node(codec, c, &l.round, &mut l.reporter);
            if l.saved.is_none() {
                l.running = false;
                return;
            }
        }
        before_npl(c, &mut l.round, &mut l.inputs, &mut l.reporter);
        let npl = has_npl_phase::<C>(&l.round);
        self.broadcast(live, clock, now, i);
        if npl {
            let timeout = C::NPL_TIMEOUT_MS.unwrap_or(DEFAULT_NPL_TIMEOUT_MS);
            clock.at(now.saturating_add(timeout), Event::Timeout(i));
        } else {
            self.end(nodes, live, clock, now, i);
        }
    }

    fn deliver<C: Contract>(
        &self,
        nodes: &mut [C],
        live: &mut [Live],
        clock: &mut Clock,
        now: u64,
        (from, to, index): (usize, usize, usize),
        data: &[u8],
    ) {
        let (Some(c), Some(l)) = (nodes.get_mut(to), live.get_mut(to)) else {
            return;
        };
        if !l.running {
            let reason = if l.started {
                "the receiver's contract had ended"
            } else {
                "the receiver's contract had not started"
            };
            l.report.npl_lost.push(LostNpl {
                from,
                index,
                reason,
            });
            return;
        }
        l.report.npl_received.push((from, data.to_vec()));
        let Some(sender) = l.round.unl().get(from).cloned() else {
            return;
        };
        let done = deliver_npl(c, &mut l.round, &sender, data, &mut l.reporter);
        self.broadcast(live, clock, now, to);
        if done {
            self.end(nodes, live, clock, now, to);
        }
    }

    fn end<C: Contract>(
        &self,
        nodes: &mut [C],
        live: &mut [Live],
        clock: &mut Clock,
        now: u64,
        i: usize,
    ) {
        let (Some(c), Some(l)) = (nodes.get_mut(i), live.get_mut(i)) else {
            return;
        };
        end_round(c, &mut l.round, &mut l.reporter);
        if let (Some(codec), Some(saved)) = (C::state_codec(), &l.saved) {
            saved::end_node(codec, c, saved, &l.round, &mut l.reporter);
        }
        // What round end sends still goes out: the engine reads the
        // contract's NPL until it exits.
        self.broadcast(live, clock, now, i);
        if let Some(l) = live.get_mut(i) {
            l.running = false;
            l.report.ended_at = now;
        }
    }

    /// Sends node `from`'s newly written NPL messages to every node.
    fn broadcast(&self, live: &mut [Live], clock: &mut Clock, now: u64, from: usize) {
        let Some(sender) = live.get_mut(from) else {
            return;
        };
        let fresh = match sender.round.outbox_mut() {
            Outbox::Memory { npl, .. } => std::mem::take(npl),
            Outbox::Engine { .. } => Vec::new(),
        };
        let first = sender.report.npl_sent.len();
        sender.report.npl_sent.extend(fresh.iter().cloned());
        for (index, data) in (first..).zip(fresh) {
            let topic = crate::agree::topic_of(&data);
            let data = Rc::new(data);
            for to in 0..self.keys.len() {
                if self
                    .drops
                    .iter()
                    .any(|d| d.matches(from, to, index, topic.as_deref()))
                {
                    if let Some(l) = live.get_mut(to) {
                        l.report.npl_lost.push(LostNpl {
                            from,
                            index,
                            reason: "dropped by an NplDrop",
                        });
                    }
                    continue;
                }
                let at = now.saturating_add(self.latency(from, to, index));
                let data = Rc::clone(&data);
                clock.at(
                    at,
                    Event::Deliver {
                        from,
                        to,
                        index,
                        data,
                    },
                );
            }
        }
    }

    /// Simulated ms from a send to its arrival: none for a node's own
    /// message (the engine's self-channel), a seeded 1-20 ms for a peer's,
    /// drawn per round, sender, receiver and message.
    fn latency(&self, from: usize, to: usize, index: usize) -> u64 {
        if from == to {
            return 0;
        }
        let parts = [self.seed, self.rounds, from as u64, to as u64, index as u64];
        1 + mix(&parts) % 20
    }
}

impl Live {
    fn finish(mut self) -> NodeRound {
        for user in self.round.users() {
            let out = user.take_memory_outputs();
            self.report
                .outputs
                .insert(user.public_key().to_owned(), out);
        }
        self.report.problems = self.reporter.outcome.problems;
        self.report
    }
}

/// SplitMix64 folded over `parts`: a fixed, platform-independent hash.
fn mix(parts: &[u64]) -> u64 {
    let mut x: u64 = 0x6a09_e667_f3bc_c908;
    for p in parts {
        x = (x ^ p).wrapping_add(0x9E37_79B9_7F4A_7C15);
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^= x >> 31;
    }
    x
}

#[cfg(test)]
#[path = "cluster_tests.rs"]
mod tests;
