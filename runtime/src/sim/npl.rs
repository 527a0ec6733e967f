//! NPL routing between the simulated nodes of one round.
//!
//! Like the engine, every NPL message a (non-observer) node's contract sends
//! is offered to every UNL node, the sender included, tagged with the
//! sender's public key. Delivery is best-effort, as in the engine: a message
//! reaching a node whose contract is not running (not started yet, or already
//! ended) is lost, and [`NplFault`]s can drop or delay messages on purpose.
//! Each node's host writes its queue into its contract's NPL socket one
//! message at a time, in arrival order; that order is what the report records.
//!
//! A node hears itself first: peers' messages wait until its contract sent
//! its first message of the round, or until the host sees it wait for
//! something without having sent ([`NplHub::release_peers`]). On a real
//! cluster the network latency between machines is far longer than the
//! engine's self-channel round trip, so a node's own message is first
//! wherever its contract speaks right away; here every node runs on one
//! loaded machine, and without the hold whether a peer's message beat the
//! node's own would depend on which process the kernel scheduled first.

use std::collections::VecDeque;
use std::os::unix::net::UnixDatagram;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::cluster::vary::draw;
use super::report::NplLost;
use crate::npl_match::NplMatch;

/// A rule that drops or delays NPL messages. The first matching rule applies.
/// A rule matches the messages that fit every part given: the sender, the
/// receiver, the round, the sender's message number in the round (its
/// `index`, counting from 0, as in [`NodeReport::npl_sent`](super::NodeReport::npl_sent))
/// and the [`agree`](crate::agree) topic the message carries.
///
/// ```
/// use hotpocket::sim::NplFault;
/// use std::time::Duration;
/// let lose_to_2 = NplFault::drop_to(2);
/// let late_from_0 = NplFault::delay_to(1, Duration::from_millis(50)).from(0).in_round(2);
/// let no_reveal = NplFault::drop_all().from(1).topic("reveal");
/// let first_copy = NplFault::drop_to(2).from(0).index(0);
/// # let _ = (lose_to_2, late_from_0, no_reveal, first_copy);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NplFault {
    sel: NplMatch,
    round: Option<u64>,
    action: FaultAction,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FaultAction {
    Drop,
    Delay(Duration),
}

impl NplFault {
    fn new(to: Option<usize>, action: FaultAction) -> Self {
        NplFault {
            sel: NplMatch {
                to,
                ..NplMatch::default()
            },
            round: None,
            action,
        }
    }

    /// Drop every message to node `to`.
    pub fn drop_to(to: usize) -> Self {
        NplFault::new(Some(to), FaultAction::Drop)
    }

    /// Drop every message, to every node.
    pub fn drop_all() -> Self {
        NplFault::new(None, FaultAction::Drop)
    }

    /// Deliver messages to node `to` only after `delay`.
    pub fn delay_to(to: usize, delay: Duration) -> Self {
        NplFault::new(Some(to), FaultAction::Delay(delay))
    }

    /// Only messages sent by node `from`.
    pub fn from(mut self, from: usize) -> Self {
        self.sel.from = Some(from);
        self
    }

    /// Only in the round with this [`number`](super::RoundReport::number).
    pub fn in_round(mut self, number: u64) -> Self {
        self.round = Some(number);
        self
    }

    /// Only the sender's message number `index` of the round (0: its first).
    pub fn index(mut self, index: usize) -> Self {
        self.sel.index = Some(index);
        self
    }

    /// Only [`agree`](crate::agree) envelopes of this topic; a message that
    /// is no envelope has no topic and never matches.
    pub fn topic(mut self, topic: &str) -> Self {
        self.sel.topic = Some(topic.to_owned());
        self
    }

    fn matches(&self, from: usize, to: usize, round: u64, sent: (usize, Option<&str>)) -> bool {
        let (index, topic) = sent;
        self.round.is_none_or(|r| r == round) && self.sel.matches(from, to, index, topic)
    }
}

/// A message waiting in a node's queue.
#[derive(Clone, Debug)]
pub(crate) struct Queued {
    pub(crate) from: usize,
    pub(crate) data: Arc<Vec<u8>>,
    pub(crate) due: Instant,
}

#[derive(Default)]
struct Mailbox {
    running: bool,
    queue: VecDeque<Queued>,
    lost: Vec<NplLost>,
    /// NPL packets the host read from this node's contract so far.
    sent: usize,
    /// The contract ended (or could not start).
    ended: bool,
    /// The node is held back until others sent enough ([`NplHub::wait_for_sent`]).
    holding: bool,
    /// Peers' messages may reach the contract before it spoke: it is
    /// waiting for something (see [`NplHub::release_peers`]).
    released: bool,
}

impl Mailbox {
    /// Whether message `q` may be written to node `me`'s contract yet: a
    /// peer's waits for the node's own first message (see the module docs).
    fn deliverable(&self, q: &Queued, me: usize) -> bool {
        q.from == me || self.sent > 0 || self.released
    }
}

/// The shared NPL switchboard of one round.
pub(crate) struct NplHub {
    boxes: Mutex<Vec<Mailbox>>,
    /// Signalled whenever a node sends a packet or ends.
    progress: Condvar,
    /// Sender ends of each node's wake-up socket.
    wake: Vec<UnixDatagram>,
    faults: Vec<NplFault>,
    round: u64,
    public_keys: Vec<String>,
    /// Each node's lcl sequence number; empty: all on the same lcl.
    lcls: Vec<u64>,
}

impl NplHub {
    /// A hub for nodes with these public keys; returns the receiver ends of
    /// each node's wake-up socket (readable when its queue got a message).
    pub(crate) fn new(
        public_keys: Vec<String>,
        faults: Vec<NplFault>,
        round: u64,
    ) -> std::io::Result<(NplHub, Vec<UnixDatagram>)> {
        let mut wake = Vec::new();
        let mut wake_rx = Vec::new();
        for _ in &public_keys {
            let (tx, rx) = UnixDatagram::pair()?;
            tx.set_nonblocking(true)?;
            rx.set_nonblocking(true)?;
            wake.push(tx);
            wake_rx.push(rx);
        }
        let boxes = Mutex::new(public_keys.iter().map(|_| Mailbox::default()).collect());
        Ok((
            NplHub {
                boxes,
                progress: Condvar::new(),
                wake,
                faults,
                round,
                public_keys,
                lcls: Vec::new(),
            },
            wake_rx,
        ))
    }

    /// Puts each node on its lcl (by sequence number): a message between
    /// nodes on different lcls is dropped, as the engine drops NPL whose
    /// lcl is not the receiver's.
    pub(crate) fn with_lcls(mut self, lcls: Vec<u64>) -> NplHub {
        self.lcls = lcls;
        self
    }

    /// Why a message from `from` to `to` is irrelevant to the receiver:
    /// the two are on different lcls.
    fn lcl_mismatch(&self, from: usize, to: usize) -> Option<String> {
        let (sent, own) = (self.lcls.get(from)?, self.lcls.get(to)?);
        (sent != own).then(|| {
            format!(
                "the sender's lcl ({sent}) is not the receiver's ({own}): \
                 the engine drops it as irrelevant NPL"
            )
        })
    }

    fn boxes(&self) -> MutexGuard<'_, Vec<Mailbox>> {
        // A panic in another node's thread must not hide this node's report.
        self.boxes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The public key of node `i` (the first packet of each delivered message).
    pub(crate) fn public_key(&self, i: usize) -> &str {
        self.public_keys.get(i).map_or("", String::as_str)
    }

    /// Node `i`'s contract started (`true`) or ended (`false`). Ending moves
    /// whatever is still queued to the lost list.
    pub(crate) fn set_running(&self, i: usize, running: bool) {
        let mut boxes = self.boxes();
        if let Some(b) = boxes.get_mut(i) {
            b.running = running;
            if !running {
                b.ended = true;
                self.progress.notify_all();
                let left: Vec<Queued> = b.queue.drain(..).collect();
                for q in left {
                    b.lost.push(NplLost {
                        from: q.from,
                        to: i,
                        len: q.data.len(),
                        reason: "the receiver's contract ended before delivery".into(),
                    });
                }
            }
        }
    }

    /// Node `i`'s contract is waiting (blocked, or long enough) without
    /// having sent anything: deliver its peers' messages from now on, so that
    /// a contract that listens first still hears.
    pub(crate) fn release_peers(&self, i: usize) {
        if let Some(b) = self.boxes().get_mut(i) {
            b.released = true;
        }
    }

    /// Whether node `i` has peers' messages held for its first message.
    pub(crate) fn holds_peers(&self, i: usize) -> bool {
        self.boxes()
            .get(i)
            .is_some_and(|b| b.queue.iter().any(|q| !b.deliverable(q, i)))
    }

    /// Offers node `from`'s message to every node.
    pub(crate) fn broadcast(&self, from: usize, data: Vec<u8>) {
        let data = Arc::new(data);
        let now = Instant::now();
        let mut boxes = self.boxes();
        let seq = boxes.get(from).map_or(0, |b| b.sent);
        let topic = crate::agree::topic_of(&data);
        let sent = (seq, topic.as_deref());
        for (to, b) in boxes.iter_mut().enumerate() {
            let rule = self
                .faults
                .iter()
                .find(|f| f.matches(from, to, self.round, sent));
            let lost = |reason: &str| NplLost {
                from,
                to,
                len: data.len(),
                reason: reason.into(),
            };
            let due = match rule.map(|r| r.action) {
                Some(FaultAction::Drop) => {
                    b.lost.push(lost("dropped by an NplFault"));
                    continue;
                }
                Some(FaultAction::Delay(d)) => now + d,
                None => now + self.latency(from, to, seq),
            };
            if let Some(why) = self.lcl_mismatch(from, to) {
                b.lost.push(lost(&why));
                continue;
            }
            if !b.running {
                b.lost.push(lost("the receiver's contract was not running"));
                continue;
            }
            let q = Queued {
                from,
                data: Arc::clone(&data),
                due,
            };
            // A node's first message of the round overtakes the peers' held
            // for it (nothing of theirs was delivered yet); once they were
            // released, it queues behind what arrived before it.
            if to == from && seq == 0 && !b.released {
                b.queue.push_front(q);
            } else {
                b.queue.push_back(q);
            }
            if let Some(w) = self.wake.get(to) {
                // A full wake socket already means "wake up"; nothing to do on error.
                let _ = w.send(&[1]);
            }
        }
    }

    /// How long message `seq` of node `from` takes to reach node `to`: its
    /// own message comes back through the engine's self-channel at once, a
    /// peer's after a network latency, so each node sees the round's
    /// messages in its own order (as on a real cluster). The latency grows
    /// 6 ms per step by which the sender follows the receiver in index order
    /// (so the first and the last peer heard from differ from node to node),
    /// plus a seeded 0-3 ms.
    fn latency(&self, from: usize, to: usize, seq: usize) -> Duration {
        if from == to {
            return Duration::ZERO;
        }
        let n = self.public_keys.len().max(1);
        let rank = (from + n - to % n) % n;
        let parts = [self.round, from as u64, to as u64, seq as u64];
        let jitter = draw("npl latency", &parts, 4);
        Duration::from_millis(6 * rank as u64 + jitter)
    }

    /// Counts a packet the host read from node `from`'s contract, whether or
    /// not it was broadcast (call after [`broadcast`](Self::broadcast)).
    pub(crate) fn note_sent(&self, from: usize) {
        if let Some(b) = self.boxes().get_mut(from) {
            b.sent += 1;
            self.progress.notify_all();
        }
    }

    /// Blocks until the other nodes' contracts sent `messages` packets
    /// between them, or none of them can send more: each has ended or is
    /// itself held back here.
    pub(crate) fn wait_for_sent(&self, i: usize, messages: usize) {
        let mut boxes = self.boxes();
        if let Some(b) = boxes.get_mut(i) {
            b.holding = true;
        }
        self.progress.notify_all();
        loop {
            let others = boxes.iter().enumerate().filter(|(j, _)| *j != i);
            let sent: usize = others.clone().map(|(_, b)| b.sent).sum();
            let stuck = others.clone().all(|(_, b)| b.ended || b.holding);
            if sent >= messages || stuck {
                break;
            }
            boxes = self.progress.wait(boxes).unwrap_or_else(|e| e.into_inner());
        }
        if let Some(b) = boxes.get_mut(i) {
            b.holding = false;
        }
    }

    /// The first message (in arrival order) for node `i` that is due by
    /// `now`, if any. A delayed message does not hold back later ones.
    pub(crate) fn pop_due(&self, i: usize, now: Instant) -> Option<Queued> {
        let mut boxes = self.boxes();
        let b = boxes.get_mut(i)?;
        let pos = b
            .queue
            .iter()
            .position(|q| q.due <= now && b.deliverable(q, i))?;
        b.queue.remove(pos)
    }

    /// When node `i`'s earliest deliverable message becomes due (held ones
    /// wait for [`holds_peers`](Self::holds_peers) to turn false).
    pub(crate) fn next_due(&self, i: usize) -> Option<Instant> {
        let boxes = self.boxes();
        let b = boxes.get(i)?;
        let ready = b.queue.iter().filter(|q| b.deliverable(q, i));
        ready.map(|q| q.due).min()
    }

    /// Puts a message back at the head of node `i`'s queue (the socket was full).
    pub(crate) fn push_front(&self, i: usize, q: Queued) {
        if let Some(b) = self.boxes().get_mut(i) {
            b.queue.push_front(q);
        }
    }

    /// Records a message for node `i` as lost.
    pub(crate) fn lose(&self, i: usize, q: &Queued, reason: &str) {
        if let Some(b) = self.boxes().get_mut(i) {
            b.lost.push(NplLost {
                from: q.from,
                to: i,
                len: q.data.len(),
                reason: reason.into(),
            });
        }
    }

    /// Node `i`'s lost messages (call after the round).
    pub(crate) fn take_lost(&self, i: usize) -> Vec<NplLost> {
        self.boxes()
            .get_mut(i)
            .map(|b| std::mem::take(&mut b.lost))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub() -> NplHub {
        let keys = (0..3).map(|i| format!("ed{i:064}")).collect();
        let (hub, _wake) = NplHub::new(keys, Vec::new(), 1).unwrap();
        for i in 0..3 {
            hub.set_running(i, true);
        }
        hub
    }

    fn send(hub: &NplHub, from: usize, data: &[u8]) {
        hub.broadcast(from, data.to_vec());
        hub.note_sent(from);
    }

    fn senders(hub: &NplHub, i: usize, at: Instant) -> Vec<usize> {
        std::iter::from_fn(|| hub.pop_due(i, at))
            .map(|q| q.from)
            .collect()
    }

    #[test]
    fn peers_wait_for_the_nodes_own_first_message() {
        let hub = hub();
        send(&hub, 1, b"one");
        send(&hub, 2, b"two");
        let later = Instant::now() + Duration::from_millis(20);
        assert_eq!(senders(&hub, 0, later), Vec::<usize>::new());
        send(&hub, 0, b"zero");
        assert_eq!(senders(&hub, 0, later)[..1], [0]);
    }

    #[test]
    fn a_waiting_node_hears_its_peers_once_released() {
        let hub = hub();
        send(&hub, 1, b"one");
        let later = Instant::now() + Duration::from_millis(50);
        assert!(hub.holds_peers(0) && hub.next_due(0).is_none());
        hub.release_peers(0);
        assert!(!hub.holds_peers(0));
        assert_eq!(senders(&hub, 0, later), [1]);
    }

    #[test]
    fn once_released_a_nodes_first_message_queues_behind_its_peers() {
        let hub = hub();
        send(&hub, 1, b"one");
        hub.release_peers(0);
        send(&hub, 0, b"zero");
        let later = Instant::now() + Duration::from_millis(50);
        assert_eq!(senders(&hub, 0, later), [1, 0]);
    }

    #[test]
    fn later_own_messages_queue_behind_peers() {
        let hub = hub();
        send(&hub, 0, b"first");
        send(&hub, 1, b"one");
        send(&hub, 0, b"second");
        let later = Instant::now() + Duration::from_millis(50);
        assert_eq!(senders(&hub, 0, later), [0, 1, 0]);
    }
}
