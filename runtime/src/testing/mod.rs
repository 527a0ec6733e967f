//! In-process tests for contracts: run a round of your contract type in a
//! plain `#[test]`, without spawning a process or touching file descriptors.
//!
//! ```
//! use hotpocket::testing::TestRound;
//! use hotpocket::{Contract, HandlerError, Round, User, Result};
//!
//! #[derive(Default)]
//! struct Echo;
//! impl Contract for Echo {
//!     fn load() -> Result<Self> { Ok(Echo) }
//!     fn on_input(&mut self, _: &mut Round, user: &User, input: &[u8]) -> Result<(), HandlerError> {
//!         user.send(input).map_err(HandlerError::extract)
//!     }
//! }
//!
//! let out = TestRound::new().input("alice", "hi").input("bob", "yo").run(&mut Echo);
//! assert_eq!(out.outputs("alice"), ["hi"]);
//! assert_eq!(out.outputs("bob"), ["yo"]);
//! assert!(out.problems.is_empty());
//! ```
//!
//! With `#[hotpocket::contract]` the same works on your type, since the macro
//! implements [`Contract`] for it. A round keeps to what the engine does
//! between rounds (see [`TestRound::run`]): a contract with a state file sees
//! only what the file holds, and a read request changes nothing. The
//! contract's environment is the round's own ([`TestRound::env`]).

mod saved;

mod cluster;

pub use cluster::{Cluster, ClusterRound, LostNpl, NodeRound, NplDrop};

use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use crate::args::{Lcl, Mode, PrivateKey, Variant};
use crate::config::PatchConfig;
use crate::contract::Contract;
use crate::lifecycle::{Inputs, NplSource, Outcome, Reporter, run_loaded};
use crate::panic::install_panic_hook;
use crate::round::{Node, Outbox, OutputSink, PatchStore, Round, RoundInfo, User};

/// A round to run in-process. Users are identified by whatever string you
/// give (used as their public key); they are visited in ascending order, as
/// the engine does.
#[derive(Clone, Debug)]
pub struct TestRound {
    mode: Mode,
    timestamp: u64,
    lcl: Option<Lcl>,
    public_key: String,
    unl: Vec<String>,
    users: BTreeMap<String, Vec<Vec<u8>>>,
    npl: Vec<(String, Vec<u8>)>,
    patch: Option<PatchConfig>,
    env: BTreeMap<String, String>,
}

impl Default for TestRound {
    fn default() -> Self {
        TestRound::new()
    }
}

/// The key [`TestRound`] uses for "this node" unless told otherwise.
pub const TEST_NODE_KEY: &str =
    "ed0000000000000000000000000000000000000000000000000000000000000001";

impl TestRound {
    /// A consensus round at lcl 1, timestamp 1,700,000,000,000, on a
    /// one-node UNL ([`TEST_NODE_KEY`]), with no users.
    pub fn new() -> TestRound {
        TestRound {
            mode: Mode::Consensus,
            timestamp: 1_700_000_000_000,
            lcl: Some(Lcl {
                seq_no: 1,
                hash: "ab".repeat(32),
            }),
            public_key: TEST_NODE_KEY.to_owned(),
            unl: vec![TEST_NODE_KEY.to_owned()],
            users: BTreeMap::new(),
            npl: Vec::new(),
            patch: None,
            env: BTreeMap::new(),
        }
    }

    /// A read request (read-only; no lcl, timestamp 0, no NPL).
    pub fn read_request() -> TestRound {
        TestRound {
            mode: Mode::ReadRequest,
            timestamp: 0,
            lcl: None,
            ..TestRound::new()
        }
    }

    /// A fallback round (engine fallback branch): no users.
    pub fn fallback() -> TestRound {
        TestRound {
            mode: Mode::ConsensusFallback,
            ..TestRound::new()
        }
    }

    /// Adds a user with no inputs (the engine lists connected users even
    /// when they sent nothing).
    pub fn user(mut self, user: &str) -> TestRound {
        self.users.entry(user.to_owned()).or_default();
        self
    }

    /// Adds an input for `user` (adding the user if needed).
    pub fn input(mut self, user: &str, input: impl AsRef<[u8]>) -> TestRound {
        self.users
            .entry(user.to_owned())
            .or_default()
            .push(input.as_ref().to_vec());
        self
    }

    /// Queues an NPL message from `from` for the NPL phase.
    pub fn npl(mut self, from: &str, message: impl AsRef<[u8]>) -> TestRound {
        self.npl.push((from.to_owned(), message.as_ref().to_vec()));
        self
    }

    /// Sets the UNL (this node's key is not added automatically).
    pub fn unl<I: IntoIterator<Item = S>, S: Into<String>>(mut self, nodes: I) -> TestRound {
        self.unl = nodes.into_iter().map(Into::into).collect();
        self.unl.sort();
        self
    }

    /// Sets this node's public key.
    pub fn node_key(mut self, key: &str) -> TestRound {
        self.public_key = key.to_owned();
        self
    }

    /// Sets the round's timestamp (unix ms).
    pub fn timestamp(mut self, ms: u64) -> TestRound {
        self.timestamp = ms;
        self
    }

    /// Sets the last closed ledger.
    pub fn lcl(mut self, seq_no: u64, hash: &str) -> TestRound {
        self.lcl = Some(Lcl {
            seq_no,
            hash: hash.to_owned(),
        });
        self
    }

    /// Gives the round a `patch.cfg` ([`Round::patch_config`] reads it and
    /// [`TestOutcome::patch_config`] shows it after any update).
    pub fn patch_config(mut self, config: PatchConfig) -> TestRound {
        self.patch = Some(config);
        self
    }

    /// Sets the contract's environment variable `key` for this round
    /// ([`Round::env`] reads it; the engine's `contract.environment`). The
    /// test process's own environment is not read.
    pub fn env(mut self, key: &str, value: &str) -> TestRound {
        self.env.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Runs the round on `contract`, the contract's state between rounds.
    ///
    /// With a state file (`#[contract(state = "...")]`, through
    /// [`Contract::state_codec`]) the round runs as on the engine, whose
    /// fresh process loads the saved file every round: the value is encoded
    /// exactly as the file would be and decoded before the handlers, and
    /// after a consensus round `contract` becomes what was saved, so a
    /// `#[serde(skip)]` field is back to its default. A read request leaves
    /// `contract` unchanged (the engine saves nothing after it); a failed
    /// save keeps the previous value and drops the round's outputs, and the
    /// problems say why. Nothing is written to disk.
    ///
    /// Without a state file (stateless, or state kept only in a `store`) the
    /// handlers run on `contract` itself, which keeps whatever they changed,
    /// and the store is neither opened nor committed.
    pub fn run<C: Contract>(self, contract: &mut C) -> TestOutcome {
        let read_only = self.mode.is_read_only();
        let npl_queue = self.npl.clone();
        let (mut round, mut inputs) = self.into_parts();
        let users = round.users_rc();
        let mut npl = if read_only {
            NplSource::None
        } else {
            NplSource::Memory(VecDeque::from(npl_queue))
        };
        let mut reporter = Reporter {
            echo: false,
            outcome: Outcome::default(),
        };
        install_panic_hook();
        match C::state_codec() {
            Some(codec) => saved::run_saved(
                codec,
                contract,
                &mut round,
                &mut inputs,
                &mut npl,
                &mut reporter,
            ),
            None => {
                run_loaded(
                    contract,
                    &mut round,
                    &mut inputs,
                    &mut npl,
                    &mut reporter,
                    |_| Ok(()),
                );
            }
        }
        TestOutcome::collect(&mut round, &users, reporter.outcome)
    }

    /// The round and its inputs, before any handler runs.
    pub(crate) fn into_parts(self) -> (Round, Inputs) {
        let read_only = self.mode.is_read_only();
        let users: Vec<User> = self
            .users
            .iter()
            .map(|(k, v)| User::new(k.clone(), v.len(), OutputSink::Memory(Default::default())))
            .collect();
        let unl: Vec<Node> = self
            .unl
            .iter()
            .map(|k| Node::new(k.clone(), self.timestamp, None, *k == self.public_key, true))
            .collect();
        let info = RoundInfo {
            variant: Variant::Mode,
            mode: self.mode,
            hp_version: "test".to_owned(),
            contract_id: "00000000-0000-0000-0000-000000000000".to_owned(),
            public_key: self.public_key.clone(),
            private_key: PrivateKey::for_tests(),
            timestamp: self.timestamp,
            lcl: self.lcl.clone(),
            non_consensus_rounds: (self.mode == Mode::ConsensusFallback).then_some(1),
            env: self.env.clone(),
        };
        let users: Rc<[User]> = users.into();
        let round = Round::new(
            info,
            Rc::clone(&users),
            unl.into(),
            Outbox::Memory {
                npl: Vec::new(),
                control: Vec::new(),
                npl_available: !read_only,
            },
            PatchStore::Memory(self.patch.clone()),
        );
        (round, Inputs::Memory(self.users.into_values().collect()))
    }
}

impl TestOutcome {
    fn collect(round: &mut Round, users: &[User], outcome: Outcome) -> TestOutcome {
        let outputs = users
            .iter()
            .map(|u| (u.public_key().to_owned(), u.take_memory_outputs()))
            .collect();
        let (npl_sent, control) = match round.outbox_mut() {
            Outbox::Memory { npl, control, .. } => (std::mem::take(npl), std::mem::take(control)),
            Outbox::Engine { .. } => (Vec::new(), Vec::new()),
        };
        let patch_config = match round.patch_store() {
            PatchStore::Memory(cfg) => cfg.clone(),
            PatchStore::File(_) => None,
        };
        TestOutcome {
            patch_config,
            all_outputs: outputs,
            npl_sent,
            control,
            problems: outcome.problems,
            npl_received: outcome.npl_received,
        }
    }
}

/// What a [`TestRound`] produced.
#[derive(Clone, Debug, Default)]
pub struct TestOutcome {
    /// Every user's outputs, in the order they were sent.
    pub all_outputs: BTreeMap<String, Vec<Vec<u8>>>,
    /// NPL messages the contract sent.
    pub npl_sent: Vec<Vec<u8>>,
    /// Control messages the contract sent (JSON), e.g. peer changesets.
    pub control: Vec<Vec<u8>>,
    /// Problems reported (bad inputs, handler errors and panics), as they
    /// would appear on stderr.
    pub problems: Vec<String>,
    /// How many NPL messages reached `on_npl`.
    pub npl_received: usize,
    /// The patch config after the round (as given, or as updated).
    pub patch_config: Option<PatchConfig>,
}

impl TestOutcome {
    /// A user's outputs as UTF-8 text (lossy), for easy assertions.
    pub fn outputs(&self, user: &str) -> Vec<String> {
        self.all_outputs
            .get(user)
            .map(|v| {
                v.iter()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A user's raw outputs.
    pub fn raw_outputs(&self, user: &str) -> &[Vec<u8>] {
        self.all_outputs.get(user).map_or(&[], Vec::as_slice)
    }
}
