//! The served cluster's user side, without sockets: sessions on each node,
//! the handshake, message handling, the round's inputs from every node, and
//! after a round the statuses, outputs and events each node sends.
//!
//! Inputs from any node reach every node (one queue: every node sees every
//! NUP); outputs go to the user on whichever node it is connected to, and
//! only from nodes whose output root is the one most nodes computed (a
//! disagreeing node's users get nothing for that round, as on the engine).
//! Outputs of the execution on ledger N are sent with ledger N+1, as hpcore
//! sends them at the next ledger close.

use std::collections::{BTreeMap, BTreeSet};

use super::doc::Protocol;
use super::handshake::{Verified, new_challenge, sign_server_challenge, verify_response};
use super::hash::{Hash, OutputTree, list_hash, output_hash};
use super::inputs::{NonceMap, at_consensus, on_arrival};
use super::reply::{self, LedgerId, LedgerRecord, Output, Status};
use super::request::{Channel, Request, SignedInput, parse};
use super::vote::{self, VoteStatus};
use crate::crypto;
use crate::sim::KeyPair;

/// A connection's id.
pub(crate) type SessionId = u64;

/// What the socket layer must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Send one message (a binary frame).
    Send(SessionId, Vec<u8>),
    /// Drop the connection (hpcore closes without a close frame).
    Close(SessionId),
    /// A log line for the terminal.
    Log(String),
    /// Run a read request on `node` for `user` and answer with
    /// [`Hub::read_done`].
    Read {
        session: SessionId,
        node: usize,
        user: String,
        id: String,
        content: Vec<u8>,
    },
}

/// The fixed facts of the served cluster.
#[derive(Clone, Debug)]
pub(crate) struct HubConfig {
    pub(crate) contract_id: String,
    pub(crate) contract_version: String,
    pub(crate) round_time_ms: u64,
    pub(crate) nodes: Vec<KeyPair>,
}

#[derive(Clone, Debug)]
enum State {
    Challenged(String),
    User {
        pubkey: Vec<u8>,
        protocol: Protocol,
        subscriptions: BTreeSet<Channel>,
    },
}

#[derive(Clone, Debug)]
struct Session {
    node: usize,
    state: State,
}

/// One node's view of a finished round.
#[derive(Clone, Debug, Default)]
pub(crate) struct NodeRound {
    /// Outputs per user (binary public key), in the order emitted.
    pub(crate) outputs: BTreeMap<Vec<u8>, Vec<Vec<u8>>>,
    /// The node's state hash after the round.
    pub(crate) state_hash: Hash,
}

/// What the cluster reports after a consensus round.
#[derive(Clone, Debug)]
pub(crate) struct RoundResult {
    /// The ledger the round closed (its seq no and hash as the contract saw).
    pub(crate) ledger: LedgerId,
    /// Consensus time of the ledger, ms.
    pub(crate) timestamp: u64,
    /// Every node, by index.
    pub(crate) nodes: Vec<NodeRound>,
    /// The UNL (binary keys) of a configuration the round applied, if any.
    pub(crate) unl: Option<Vec<Vec<u8>>>,
}

/// A node's signed outputs waiting for the next ledger.
#[derive(Clone, Debug)]
struct Signed {
    node: usize,
    root: Hash,
    tree: OutputTree,
    outputs: BTreeMap<Vec<u8>, Vec<Vec<u8>>>,
    sig: [u8; 64],
}

/// The inputs a round gives the contract: per user (hex key), in order.
pub(crate) type RoundInputs = Vec<(String, Vec<Vec<u8>>)>;

/// The user side of a served cluster.
#[derive(Debug)]
pub(crate) struct Hub {
    cfg: HubConfig,
    unl: Vec<Vec<u8>>,
    sessions: BTreeMap<SessionId, Session>,
    next: SessionId,
    nonces: NonceMap,
    queued: BTreeMap<Vec<u8>, Vec<SignedInput>>,
    admitted: Vec<(Vec<u8>, Hash)>,
    lcl: LedgerId,
    ledgers: BTreeMap<u64, LedgerRecord>,
    pending: Vec<Signed>,
    /// Each node's vote status, by index.
    votes: Vec<VoteStatus>,
}

fn key_bytes(hex_key: &str) -> Vec<u8> {
    hex::decode(hex_key).unwrap_or_default()
}

impl Hub {
    /// A hub at the genesis ledger (seq 0, zero hash).
    pub(crate) fn new(cfg: HubConfig) -> Hub {
        let mut unl: Vec<Vec<u8>> = cfg.nodes.iter().map(|k| key_bytes(&k.public_key)).collect();
        unl.sort();
        let genesis = LedgerId {
            seq_no: 0,
            hash: [0; 32],
        };
        let mut ledgers = BTreeMap::new();
        ledgers.insert(0, record(genesis, [0; 32], 0, [[0; 32]; 4]));
        Hub {
            unl,
            sessions: BTreeMap::new(),
            next: 1,
            nonces: NonceMap::default(),
            queued: BTreeMap::new(),
            admitted: Vec::new(),
            lcl: genesis,
            votes: vec![VoteStatus::Unknown; cfg.nodes.len()],
            cfg,
            ledgers,
            pending: Vec::new(),
        }
    }

    /// Continues from a ledger a previous run reached (`--keep-state`).
    pub(crate) fn resume_at(&mut self, lcl: LedgerId) {
        self.lcl = lcl;
        self.ledgers
            .insert(lcl.seq_no, record(lcl, [0; 32], 0, [[0; 32]; 4]));
    }

    /// A new connection on `node`: its id and the challenge to send.
    pub(crate) fn connect(&mut self, node: usize) -> std::io::Result<(SessionId, Vec<u8>)> {
        let challenge = new_challenge()?;
        let id = self.next;
        self.next += 1;
        let msg = reply::user_challenge(
            &self.cfg.contract_id,
            &self.cfg.contract_version,
            &challenge,
        );
        self.sessions.insert(
            id,
            Session {
                node,
                state: State::Challenged(challenge),
            },
        );
        Ok((id, msg))
    }

    /// True once the connection passed the handshake.
    pub(crate) fn is_verified(&self, id: SessionId) -> bool {
        matches!(
            self.sessions.get(&id),
            Some(Session {
                state: State::User { .. },
                ..
            })
        )
    }

    /// The connection is gone.
    pub(crate) fn disconnect(&mut self, id: SessionId) {
        self.sessions.remove(&id);
    }

    /// A whole message from the connection.
    pub(crate) fn receive(&mut self, id: SessionId, msg: &[u8]) -> Vec<Action> {
        let Some(s) = self.sessions.get(&id).cloned() else {
            return Vec::new();
        };
        match s.state {
            State::Challenged(issued) => self.handshake(id, s.node, msg, &issued),
            State::User {
                pubkey, protocol, ..
            } => self.request(id, s.node, &pubkey, protocol, msg),
        }
    }

    fn handshake(&mut self, id: SessionId, node: usize, msg: &[u8], issued: &str) -> Vec<Action> {
        let v: Verified = match verify_response(msg, issued) {
            Ok(v) => v,
            Err(why) => {
                self.sessions.remove(&id);
                return vec![
                    Action::Log(format!("node {node}: handshake refused, closed: {why}")),
                    Action::Close(id),
                ];
            }
        };
        let taken = self.sessions.iter().any(|(other, s)| {
            *other != id
                && s.node == node
                && matches!(&s.state, State::User { pubkey, .. } if *pubkey == v.pubkey)
        });
        if taken {
            // hpcore: the second connection of a key to one node is never
            // verified; its next message fails the handshake and drops it.
            self.sessions.remove(&id);
            return vec![
                Action::Log(format!(
                    "node {node}: user {} is already connected here, closed",
                    hex::encode(&v.pubkey)
                )),
                Action::Close(id),
            ];
        }
        let mut out = Vec::new();
        if let Some(theirs) = &v.server_challenge {
            let keys = self
                .cfg
                .nodes
                .get(node)
                .cloned()
                .unwrap_or_else(|| KeyPair::node(node));
            match sign_server_challenge(
                &keys.private_key,
                theirs,
                &self.cfg.contract_id,
                &self.cfg.contract_version,
            ) {
                Ok(sig) => out.push(Action::Send(
                    id,
                    reply::server_challenge_response(&sig, &key_bytes(&keys.public_key), &self.unl),
                )),
                Err(e) => out.push(Action::Log(format!(
                    "node {node}: cannot sign the server challenge: {e}"
                ))),
            }
        }
        out.push(Action::Log(format!(
            "node {node}: user {} connected ({:?})",
            hex::encode(&v.pubkey),
            v.protocol
        )));
        self.sessions.insert(
            id,
            Session {
                node,
                state: State::User {
                    pubkey: v.pubkey,
                    protocol: v.protocol,
                    subscriptions: BTreeSet::new(),
                },
            },
        );
        out
    }

    fn request(
        &mut self,
        id: SessionId,
        node: usize,
        pubkey: &[u8],
        p: Protocol,
        msg: &[u8],
    ) -> Vec<Action> {
        let user = hex::encode(pubkey);
        let log = |what: String| Action::Log(format!("node {node}: user {user}: {what}"));
        match parse(p, msg) {
            Request::Stat => {
                let s = Status {
                    lcl: self.lcl,
                    round_time: self.cfg.round_time_ms,
                    unl: &self.unl,
                    peers: &[],
                    vote_status: self.votes.get(node).copied().unwrap_or_default().as_str(),
                };
                vec![Action::Send(id, reply::stat_response(p, &s))]
            }
            Request::Lcl => vec![Action::Send(id, reply::lcl_response(p, self.lcl))],
            Request::Input(input) => {
                match on_arrival(&mut self.nonces, pubkey, &input, self.lcl.seq_no) {
                    Ok(()) => {
                        self.queued.entry(pubkey.to_vec()).or_default().push(input);
                        Vec::new()
                    }
                    Err(reason) => vec![
                        log(format!("input rejected: {reason}")),
                        Action::Send(
                            id,
                            reply::input_status(p, Some(reason), &input.hash(), None),
                        ),
                    ],
                }
            }
            Request::Read { id: rid, content } => vec![Action::Read {
                session: id,
                node,
                user,
                id: rid,
                content,
            }],
            Request::Subscribe { channel, enabled } => {
                if let Some(Session {
                    state: State::User { subscriptions, .. },
                    ..
                }) = self.sessions.get_mut(&id)
                {
                    if enabled {
                        subscriptions.insert(channel);
                    } else {
                        subscriptions.remove(&channel);
                    }
                }
                Vec::new()
            }
            Request::LedgerQuery {
                id: qid,
                seq_no,
                inputs,
                outputs,
            } => {
                let found = self.ledgers.get(&seq_no);
                // hpcore: a missing ledger with raw data asked for is an
                // exec_failure; without, an empty result.
                let result = match found {
                    None if inputs || outputs => Err(()),
                    other => Ok(other),
                };
                vec![Action::Send(
                    id,
                    reply::ledger_query_result(p, &qid, result, inputs, outputs),
                )]
            }
            Request::Reject { reason, hash } => {
                let h = hash.map(|h| h.to_vec()).unwrap_or_default();
                vec![
                    log(format!("bad message: {reason}")),
                    Action::Send(id, reply::input_status(p, Some(reason), &h, None)),
                ]
            }
            Request::Ignore(why) => vec![log(format!("ignored: {why}"))],
        }
    }

    /// The answers of a read request: one `contract_read_response` per
    /// output (none when there is none), if the session is still there.
    pub(crate) fn read_done(
        &self,
        session: SessionId,
        id: &str,
        outputs: &[Vec<u8>],
    ) -> Vec<Action> {
        let Some(Session {
            state: State::User { protocol, .. },
            ..
        }) = self.sessions.get(&session)
        else {
            return Vec::new();
        };
        outputs
            .iter()
            .map(|o| Action::Send(session, reply::read_response(*protocol, id, o)))
            .collect()
    }

    /// Every verified user's key, on any node, sorted and once each: the
    /// round's users (hpcore puts every connected user in the NUPs).
    fn connected_users(&self) -> BTreeSet<Vec<u8>> {
        self.sessions
            .values()
            .filter_map(|s| match &s.state {
                State::User { pubkey, .. } => Some(pubkey.clone()),
                State::Challenged(_) => None,
            })
            .collect()
    }

    /// Starts a round: the queued inputs pass the consensus checks; returns
    /// the contract's inputs per user and the rejections to send now.
    pub(crate) fn begin_round(&mut self) -> (RoundInputs, Vec<Action>) {
        let mut users: BTreeMap<Vec<u8>, Vec<Vec<u8>>> = self
            .connected_users()
            .into_iter()
            .map(|k| (k, Vec::new()))
            .collect();
        let mut actions = Vec::new();
        self.admitted.clear();
        let queued = std::mem::take(&mut self.queued);
        for (pubkey, inputs) in queued {
            let verify = |container: &[u8], sig: &[u8]| {
                let key: Option<[u8; 32]> = pubkey.get(1..).and_then(|k| k.try_into().ok());
                let sig: Option<[u8; 64]> = sig.try_into().ok();
                matches!((key, sig), (Some(k), Some(s)) if crypto::verify_bytes(&k, container, &s).is_ok())
            };
            let (ok, bad) =
                at_consensus(&mut self.nonces, &pubkey, verify, &inputs, self.lcl.seq_no);
            for r in bad {
                actions.push(Action::Log(format!(
                    "user {}: input rejected at consensus: {}",
                    hex::encode(&pubkey),
                    r.reason
                )));
                actions.extend(self.to_user(&pubkey, |p| {
                    reply::input_status(p, Some(r.reason), &r.hash, None)
                }));
            }
            for a in &ok {
                self.admitted.push((pubkey.clone(), a.hash));
            }
            users
                .entry(pubkey)
                .or_default()
                .extend(ok.into_iter().map(|a| a.data));
        }
        let inputs = users
            .into_iter()
            .map(|(k, v)| (hex::encode(k), v))
            .collect();
        (inputs, actions)
    }

    /// Ends a round: the ledger, `accepted` statuses, last round's outputs
    /// (sent with this ledger), ledger events; this round's outputs signed
    /// and kept for the next ledger.
    pub(crate) fn finish_round(&mut self, r: &RoundResult) -> Vec<Action> {
        let user_keys: Vec<Vec<u8>> = self.connected_users().into_iter().collect();
        let input_hashes: Vec<Hash> = self.admitted.iter().map(|(_, h)| *h).collect();
        let state = r.nodes.first().map(|n| n.state_hash).unwrap_or_default();
        // Ledger N records the outputs voted on in its round: those of the
        // execution on N-1, sent with N.
        let previous = std::mem::take(&mut self.pending);
        let voted = self.elected_root(&previous).unwrap_or_default();
        let rec = record(
            r.ledger,
            self.lcl.hash,
            r.timestamp,
            [
                state,
                list_hash(&user_keys),
                list_hash(&input_hashes),
                voted,
            ],
        );
        self.lcl = r.ledger;
        self.ledgers.insert(r.ledger.seq_no, rec.clone());
        let mut actions = self.notify(Channel::LedgerEvent, |p| reply::ledger_created(p, &rec));
        actions.extend(self.update_votes(r));
        for (pubkey, hash) in std::mem::take(&mut self.admitted) {
            actions.extend(self.to_user(&pubkey, |p| {
                reply::input_status(p, None, &hash, Some(r.ledger))
            }));
        }
        self.pending = self.sign_round(r);
        actions.extend(self.send_outputs(&previous));
        if let Some(unl) = &r.unl {
            actions.extend(self.change_unl(unl));
        }
        actions
    }

    /// Each node's vote status after round `r`; the `ledger_event`
    /// subscribers of a node whose status changed hear the new one.
    fn update_votes(&mut self, r: &RoundResult) -> Vec<Action> {
        let hashes: Vec<Hash> = r.nodes.iter().map(|n| n.state_hash).collect();
        let now = vote::after_round(&hashes);
        let mut actions = Vec::new();
        for (node, status) in now.into_iter().enumerate() {
            if self.votes.get(node) == Some(&status) {
                continue;
            }
            if let Some(v) = self.votes.get_mut(node) {
                *v = status;
            }
            actions.extend(self.notify_node(node, Channel::LedgerEvent, |p| {
                reply::vote_status(p, status.as_str())
            }));
        }
        actions
    }

    /// Takes a new UNL: `stat`, the handshake and output signatures follow
    /// it, and `unl_change` subscribers hear of it when it differs, as
    /// hpcore's `unl::update_unl_changes_from_patch` does.
    pub(crate) fn change_unl(&mut self, unl: &[Vec<u8>]) -> Vec<Action> {
        let mut unl = unl.to_vec();
        unl.sort();
        unl.dedup();
        if unl == self.unl {
            return Vec::new();
        }
        self.unl = unl;
        let mut actions = vec![Action::Log(format!(
            "UNL changed: {}",
            self.unl
                .iter()
                .map(hex::encode)
                .collect::<Vec<_>>()
                .join(", ")
        ))];
        actions.extend(self.notify(Channel::UnlChange, |p| reply::unl_change(p, &self.unl)));
        actions
    }

    fn sign_round(&self, r: &RoundResult) -> Vec<Signed> {
        r.nodes
            .iter()
            .enumerate()
            .map(|(node, n)| {
                let hashes: Vec<Hash> = n.outputs.iter().map(|(k, o)| output_hash(k, o)).collect();
                let tree = OutputTree::new(&hashes, n.state_hash);
                let root = tree.root();
                let key = self
                    .cfg
                    .nodes
                    .get(node)
                    .map(|k| k.private_key.clone())
                    .unwrap_or_default();
                let sig = crypto::sign_bytes(&key, &root).unwrap_or([0; 64]);
                Signed {
                    node,
                    root,
                    tree,
                    outputs: n.outputs.clone(),
                    sig,
                }
            })
            .collect()
    }

    /// The root most nodes computed, if a strict majority agrees... hpcore
    /// needs `threshold` (80 %) of the UNL; the simulator's verdict is the
    /// cluster's, so any root held by more than half is taken.
    fn elected_root(&self, signed: &[Signed]) -> Option<Hash> {
        let mut count: BTreeMap<Hash, usize> = BTreeMap::new();
        for s in signed {
            *count.entry(s.root).or_default() += 1;
        }
        count
            .into_iter()
            .find(|(_, n)| *n * 2 > signed.len())
            .map(|(h, _)| h)
    }

    fn send_outputs(&self, signed: &[Signed]) -> Vec<Action> {
        let mut actions = Vec::new();
        let Some(root) = self.elected_root(signed) else {
            if signed.iter().any(|s| !s.outputs.is_empty()) {
                actions.push(Action::Log(
                    "no output root has a majority: no outputs sent".into(),
                ));
            }
            return actions;
        };
        // hpcore collects signatures from the UNL's proposals only.
        let unl_sig: Vec<(Vec<u8>, [u8; 64])> = signed
            .iter()
            .filter(|s| s.root == root)
            .map(|s| {
                let key = self.cfg.nodes.get(s.node).map(|k| k.public_key.as_str());
                (key_bytes(key.unwrap_or_default()), s.sig)
            })
            .filter(|(key, _)| self.unl.contains(key))
            .collect();
        for s in signed {
            if s.root != root {
                actions.push(Action::Log(format!(
                    "node {}: outputs disagree with the majority: its users get none this round",
                    s.node
                )));
                continue;
            }
            for (user, outputs) in &s.outputs {
                let own = output_hash(user, outputs);
                let tree = s.tree.collapse(&own);
                for (sid, p) in self.sessions_of(user, Some(s.node)) {
                    let o = Output {
                        ledger: self.lcl,
                        outputs,
                        output_hash: own,
                        tree: &tree,
                        unl_sig: &unl_sig,
                    };
                    actions.push(Action::Send(sid, reply::contract_output(p, &o)));
                }
            }
        }
        actions
    }

    fn sessions_of(&self, user: &[u8], node: Option<usize>) -> Vec<(SessionId, Protocol)> {
        self.sessions
            .iter()
            .filter_map(|(id, s)| match &s.state {
                State::User {
                    pubkey, protocol, ..
                } if pubkey == user && node.is_none_or(|n| n == s.node) => Some((*id, *protocol)),
                _ => None,
            })
            .collect()
    }

    fn to_user(&self, user: &[u8], msg: impl Fn(Protocol) -> Vec<u8>) -> Vec<Action> {
        self.sessions_of(user, None)
            .into_iter()
            .map(|(id, p)| Action::Send(id, msg(p)))
            .collect()
    }

    fn notify(&self, channel: Channel, msg: impl Fn(Protocol) -> Vec<u8>) -> Vec<Action> {
        self.notify_where(|_| true, channel, msg)
    }

    /// Like [`notify`](Self::notify), for the sessions on `node` only.
    fn notify_node(
        &self,
        node: usize,
        channel: Channel,
        msg: impl Fn(Protocol) -> Vec<u8>,
    ) -> Vec<Action> {
        self.notify_where(|s| s.node == node, channel, msg)
    }

    fn notify_where(
        &self,
        on: impl Fn(&Session) -> bool,
        channel: Channel,
        msg: impl Fn(Protocol) -> Vec<u8>,
    ) -> Vec<Action> {
        self.sessions
            .iter()
            .filter(|(_, s)| on(s))
            .filter_map(|(id, s)| match &s.state {
                State::User {
                    protocol,
                    subscriptions,
                    ..
                } if subscriptions.contains(&channel) => Some(Action::Send(*id, msg(*protocol))),
                _ => None,
            })
            .collect()
    }
}

/// A ledger record; `hashes` = state, user, input, output hash.
fn record(id: LedgerId, prev: Hash, timestamp: u64, hashes: [Hash; 4]) -> LedgerRecord {
    let [state_hash, user_hash, input_hash, output_hash] = hashes;
    LedgerRecord {
        seq_no: id.seq_no,
        timestamp,
        hash: id.hash,
        prev_hash: prev,
        state_hash,
        config_hash: [0; 32],
        user_hash,
        input_hash,
        output_hash,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::serve::hash::client_root;
    use serde_json::Value;

    fn hub() -> Hub {
        Hub::new(HubConfig {
            contract_id: "cid".into(),
            contract_version: "1.0".into(),
            round_time_ms: 1000,
            nodes: (0..3).map(KeyPair::node).collect(),
        })
    }

    fn sent(actions: &[Action], to: SessionId) -> Vec<Value> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send(id, m) if *id == to => Some(serde_json::from_slice(m).unwrap()),
                _ => None,
            })
            .collect()
    }

    /// Connects `key` to `node` over JSON, as the JS client does.
    fn join(h: &mut Hub, node: usize, key: &KeyPair) -> SessionId {
        let (id, challenge) = h.connect(node).unwrap();
        let c: Value = serde_json::from_slice(&challenge).unwrap();
        let ch = c["challenge"].as_str().unwrap();
        let resp = format!(
            r#"{{"type":"user_challenge_response","sig":"{}","pubkey":"{}","server_challenge":"mine","protocol":"json"}}"#,
            key.sign(ch.as_bytes()).unwrap(),
            key.public_key
        );
        let a = h.receive(id, resp.as_bytes());
        let s = &sent(&a, id)[0];
        let node_key = KeyPair::node(node).public_key;
        assert_eq!(s["pubkey"], node_key.as_str());
        let sig = s["sig"].as_str().unwrap();
        assert!(crypto::verify(&node_key, b"minecid1.0", sig).is_ok());
        assert_eq!(s["unl"].as_array().unwrap().len(), 3);
        id
    }

    fn input(key: &KeyPair, data: &str, nonce: u64, max: u64) -> Vec<u8> {
        let container =
            format!(r#"{{"input":"{data}","nonce":{nonce},"max_ledger_seq_no":{max}}}"#);
        serde_json::json!({
            "type": "contract_input",
            "input_container": container,
            "sig": key.sign(container.as_bytes()).unwrap(),
        })
        .to_string()
        .into_bytes()
    }

    fn round(h: &mut Hub, seq: u64, outputs: &[BTreeMap<Vec<u8>, Vec<Vec<u8>>>]) -> Vec<Action> {
        let nodes = outputs.iter().map(|o| NodeRound {
            outputs: o.clone(),
            state_hash: [9; 32],
        });
        finish(h, seq, nodes.collect())
    }

    /// Finishes round `seq` with these nodes' results.
    fn finish(h: &mut Hub, seq: u64, nodes: Vec<NodeRound>) -> Vec<Action> {
        let r = RoundResult {
            ledger: LedgerId {
                seq_no: seq,
                hash: [seq as u8; 32],
            },
            timestamp: 1000 * seq,
            unl: None,
            nodes,
        };
        h.finish_round(&r)
    }

    /// What hotpocket-js-client checks before it emits an output.
    fn client_accepts(msg: &Value, user: &KeyPair, trusted: &[String]) -> bool {
        let outs: Vec<Vec<u8>> = msg["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o.as_str().unwrap().as_bytes().to_vec())
            .collect();
        let own = output_hash(&key_bytes(&user.public_key), &outs);
        if hex::encode(own) != msg["output_hash"] {
            return false;
        }
        fn tree(v: &Value) -> super::super::hash::Collapsed {
            use super::super::hash::Collapsed;
            match v {
                Value::Null => Collapsed::Own,
                Value::String(s) => Collapsed::Hash(hex::decode(s).unwrap().try_into().unwrap()),
                Value::Array(a) => Collapsed::Branch(a.iter().map(tree).collect()),
                _ => panic!(),
            }
        }
        let root = client_root(&tree(&msg["hash_tree"]), &own);
        let good = msg["unl_sig"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| {
                let k = p[0].as_str().unwrap();
                trusted.iter().any(|t| t == k)
                    && crypto::verify(k, &root, p[1].as_str().unwrap()).is_ok()
            })
            .count();
        good * 10 >= trusted.len() * 8
    }

    #[test]
    fn inputs_statuses_and_verifiable_outputs_one_ledger_later() {
        let mut h = hub();
        let alice = KeyPair::user("alice");
        let a0 = join(&mut h, 0, &alice);
        let a2 = join(&mut h, 2, &alice);
        assert!(h.receive(a0, &input(&alice, "one", 1, 10)).is_empty());
        assert!(h.receive(a2, &input(&alice, "two", 2, 10)).is_empty());
        // The same nonce again: nonce_expired only if an earlier one was
        // recorded; here both are still queued, so it passes on arrival.
        let (inputs, rejected) = h.begin_round();
        assert!(rejected.is_empty());
        assert_eq!(
            inputs,
            vec![(
                alice.public_key.clone(),
                vec![b"one".to_vec(), b"two".to_vec()]
            )]
        );

        let outs: BTreeMap<Vec<u8>, Vec<Vec<u8>>> = [(
            key_bytes(&alice.public_key),
            vec![b"got one".to_vec(), b"got two".to_vec()],
        )]
        .into();
        let a = round(&mut h, 1, &[outs.clone(), outs.clone(), outs.clone()]);
        let st = sent(&a, a0);
        assert_eq!(st.len(), 2);
        assert!(
            st.iter()
                .all(|s| s["status"] == "accepted" && s["ledger_seq_no"] == 1)
        );
        // No outputs yet: they go with the next ledger.
        assert!(!st.iter().any(|s| s["type"] == "contract_output"));

        let (_, _) = h.begin_round();
        let a = round(
            &mut h,
            2,
            &[BTreeMap::new(), BTreeMap::new(), BTreeMap::new()],
        );
        let trusted: Vec<String> = (0..3).map(|i| KeyPair::node(i).public_key).collect();
        for sid in [a0, a2] {
            let o = sent(&a, sid);
            assert_eq!(o.len(), 1, "{o:?}");
            assert_eq!(o[0]["ledger_seq_no"], 2);
            assert_eq!(o[0]["outputs"], serde_json::json!(["got one", "got two"]));
            assert!(client_accepts(&o[0], &alice, &trusted));
        }
        // The nonce order holds across rounds.
        let late = h.receive(a0, &input(&alice, "old", 2, 12));
        assert_eq!(sent(&late, a0)[0]["reason"], "nonce_expired");
    }

    #[test]
    fn a_disagreeing_nodes_users_get_nothing_and_bad_clients_are_answered() {
        let mut h = hub();
        let (alice, bob) = (KeyPair::user("alice"), KeyPair::user("bob"));
        let a1 = join(&mut h, 1, &alice);
        let b0 = join(&mut h, 0, &bob);
        let good: BTreeMap<Vec<u8>, Vec<Vec<u8>>> = [
            (key_bytes(&alice.public_key), vec![b"x".to_vec()]),
            (key_bytes(&bob.public_key), vec![b"y".to_vec()]),
        ]
        .into();
        let mut odd = good.clone();
        odd.insert(key_bytes(&alice.public_key), vec![b"z".to_vec()]);
        round(&mut h, 1, &[good.clone(), odd, good]);
        let a = round(
            &mut h,
            2,
            &[BTreeMap::new(), BTreeMap::new(), BTreeMap::new()],
        );
        assert!(sent(&a, a1).is_empty(), "node 1 disagreed");
        assert_eq!(sent(&a, b0).len(), 1);
        assert!(
            a.iter()
                .any(|x| matches!(x, Action::Log(l) if l.contains("node 1: outputs disagree")))
        );

        // Bad messages get the engine's replies; the session stays.
        let mut r = |m: &[u8]| sent(&h.receive(b0, m), b0);
        assert_eq!(r(b"{oops")[0]["reason"], "bad_msg_format");
        assert_eq!(r(br#"{"type":"dance"}"#)[0]["reason"], "invalid_msg_type");
        let mut forged = input(&bob, "x", 5, 10);
        forged = String::from_utf8(forged)
            .unwrap()
            .replace("\"x\"", "\"y\"")
            .into_bytes();
        assert!(
            r(&forged).is_empty(),
            "bad signatures are found at consensus"
        );
        assert_eq!(
            r(&input(&bob, "x", 6, 2))[0]["reason"],
            "max_ledger_expired"
        );
        assert_eq!(
            r(&input(&bob, "x", 6, 99))[0]["reason"],
            "max_ledger_offset_exceeded"
        );
        assert_eq!(r(br#"{"type":"lcl"}"#)[0]["ledger_seq_no"], 2);

        // A bad handshake closes the session.
        let (id, _) = h.connect(0).unwrap();
        let a = h.receive(
            id,
            br#"{"type":"user_challenge_response","sig":"00","pubkey":"ed00","protocol":"json"}"#,
        );
        assert!(a.contains(&Action::Close(id)));
    }

    #[test]
    fn a_forged_input_is_rejected_at_consensus_with_bad_sig() {
        let mut h = hub();
        let bob = KeyPair::user("bob");
        let b = join(&mut h, 0, &bob);
        let forged = String::from_utf8(input(&bob, "x", 5, 10))
            .unwrap()
            .replace("\\\"x\\\"", "\\\"y\\\"");
        assert!(h.receive(b, forged.as_bytes()).is_empty());
        let (inputs, a) = h.begin_round();
        assert_eq!(inputs, vec![(bob.public_key.clone(), vec![])]);
        assert_eq!(sent(&a, b)[0]["reason"], "bad_sig");
    }

    #[test]
    fn vote_status_changes_reach_the_nodes_ledger_event_subscribers() {
        let mut h = hub();
        let (alice, bob) = (KeyPair::user("alice"), KeyPair::user("bob"));
        let a = join(&mut h, 0, &alice);
        let b = join(&mut h, 2, &bob);
        let sub = br#"{"type":"subscription","channel":"ledger_event","enabled":true}"#;
        assert!(h.receive(a, sub).is_empty() && h.receive(b, sub).is_empty());
        let stat = |h: &mut Hub, id| {
            let r = h.receive(id, br#"{"type":"stat"}"#);
            sent(&r, id)[0]["vote_status"].as_str().unwrap().to_owned()
        };
        assert_eq!(stat(&mut h, a), "unknown");
        let votes = |actions: &[Action], id| -> Vec<String> {
            sent(actions, id)
                .into_iter()
                .filter(|m| m["event"] == "vote_status")
                .map(|m| m["vote_status"].as_str().unwrap().to_owned())
                .collect()
        };
        let finish = |h: &mut Hub, seq: u64, states: [u8; 3]| {
            let nodes = states.map(|s| NodeRound {
                outputs: BTreeMap::new(),
                state_hash: [s; 32],
            });
            finish(h, seq, nodes.to_vec())
        };
        let first = finish(&mut h, 1, [7, 7, 7]);
        assert_eq!(
            (votes(&first, a), votes(&first, b)),
            (vec!["synced".into()], vec!["synced".into()])
        );
        let same = finish(&mut h, 2, [7, 7, 7]);
        assert!(votes(&same, a).is_empty(), "only changes are sent");
        let split = finish(&mut h, 3, [8, 8, 9]);
        assert!(
            votes(&split, a).is_empty(),
            "node 0 is still with the majority"
        );
        assert_eq!(votes(&split, b), ["desync"]);
        assert_eq!(
            (stat(&mut h, a), stat(&mut h, b)),
            ("synced".into(), "desync".into())
        );
    }

    #[test]
    fn a_changed_unl_reaches_subscribers_stat_and_the_signatures() {
        let mut h = hub();
        let (alice, bob) = (KeyPair::user("alice"), KeyPair::user("bob"));
        let a = join(&mut h, 0, &alice);
        let b = join(&mut h, 1, &bob);
        let sub = br#"{"type":"subscription","channel":"unl_change","enabled":true}"#;
        assert!(h.receive(a, sub).is_empty(), "no reply, as hpcore");
        let two: Vec<Vec<u8>> = (0..2)
            .map(|i| key_bytes(&KeyPair::node(i).public_key))
            .collect();
        let mut r = RoundResult {
            ledger: LedgerId {
                seq_no: 1,
                hash: [1; 32],
            },
            timestamp: 1000,
            nodes: vec![NodeRound::default(); 3],
            unl: Some(two.iter().rev().cloned().collect()),
        };
        let actions = h.finish_round(&r);
        let told: Vec<Value> = sent(&actions, a)
            .into_iter()
            .filter(|m| m["type"] == "unl_change")
            .collect();
        let hexes: Vec<String> = two.iter().map(hex::encode).collect();
        assert_eq!(told, [serde_json::json!({"type":"unl_change","unl":hexes})]);
        assert!(sent(&actions, b).iter().all(|m| m["type"] != "unl_change"));
        let stat = sent(&h.receive(b, br#"{"type":"stat"}"#), b).remove(0);
        assert_eq!(stat["current_unl"], serde_json::json!(hexes));
        // The same UNL again is no change.
        r.ledger.seq_no = 2;
        assert!(
            sent(&h.finish_round(&r), a)
                .iter()
                .all(|m| m["type"] != "unl_change")
        );
        // Outputs now carry the two UNL nodes' signatures only.
        let mut outputs = BTreeMap::new();
        outputs.insert(key_bytes(&alice.public_key), vec![b"hi".to_vec()]);
        round(&mut h, 3, &[outputs.clone(), outputs.clone(), outputs]);
        let sent_out = round(
            &mut h,
            4,
            &[BTreeMap::new(), BTreeMap::new(), BTreeMap::new()],
        );
        let out = sent(&sent_out, a)
            .into_iter()
            .find(|m| m["type"] == "contract_output")
            .unwrap();
        assert_eq!(out["unl_sig"].as_array().map(Vec::len), Some(2));
        assert!(client_accepts(&out, &alice, &hexes));
    }
}
