//! **admin**: cluster administration from inside the contract. Authorised
//! users change the round time and the UNL (through `patch.cfg`) and the
//! node's peers (through a peer changeset); every change is validated first,
//! and a refused one is answered with a typed error and changes nothing.
//! Applied changes are kept in an audit log in the state.
//!
//! Commands, one JSON value per input; all but `"config"` need an authorised
//! user:
//!
//! | input | effect | reply |
//! |---|---|---|
//! | `"config"` | nothing (also as a read request) | `{"config":{"version":"1.0","roundtime":1000,"threshold":80,"unl":["ed…",…]}}` |
//! | `{"set_roundtime":2000}` | `consensus.roundtime` in `patch.cfg` | `{"roundtime_set":{"from":1000,"to":2000}}` |
//! | `{"add_unl_node":"ed…"}` | adds a node to `unl` in `patch.cfg` | `{"unl_node_added":{"node":"ed…","unl_size":4}}` |
//! | `{"remove_unl_node":"ed…"}` | removes a node from `unl` | `{"unl_node_removed":{"node":"ed…","unl_size":3}}` |
//! | `{"add_peers":["host:port",…]}` | asks the engine to connect to these peers | `{"peers_requested":{"add":[…],"remove":[]}}` |
//! | `{"remove_peers":["host:port",…]}` | asks the engine to drop these peers | `{"peers_requested":{"add":[],"remove":[…]}}` |
//!
//! Errors, `{"error":{"kind":"…", …}}`: `bad_command` (`reason`),
//! `not_authorised`, `read_only` (a change sent as a read request),
//! `no_change` (`reason`: the node is already in, or not in, the UNL),
//! `invalid_config` (`key`, `message`: the new `patch.cfg` breaks one of the
//! engine's rules, e.g. a round time of 0 or an empty UNL), `invalid_peer`
//! (`message`), `failed` (`message`: reading or writing a file failed).
//!
//! The authorised users are listed in the contract's environment, `ADMINS`
//! (public keys separated by commas), which every node has identically (see
//! the ledger example for why).
//!
//! How the engine takes the changes:
//!
//! - `patch.cfg` edits are validated here with the engine's rules
//!   (`Round::update_patch_config`), because the engine re-checks the file
//!   only after the nodes agreed on it, and an invalid file stalls the node.
//!   A valid edit takes effect once a later round agrees on the new file's
//!   hash: the engine then persists it to its config and refreshes the UNL and
//!   the round time before the next execution. Several edits in one round
//!   build on each other, since each reads the file the last one wrote.
//! - A peer changeset is a control message to this node's engine only, and
//!   the engine ignores it (logging a warning) while
//!   `mesh.peer_discovery.enabled` is true, which is its default. Since every
//!   node runs the same inputs, every node sends the same changeset.
//!
//! Run three rounds on a simulated 3-node cluster (dev mode derives the key
//! of the user named `admin` from its name; that is it below). The report
//! shows the new round time applied after round 1, the refused command from
//! `bob` and the peer changeset; round 2 closes no ledger, as the round after
//! a round-time change did on a real cluster, and round 3 comes 2000 ms after
//! it with the next ledger:
//!
//! ```sh
//! ADMIN=ed9ca14c702ec00a73cb4b255847aa01bb55c0e5d4f3601859efd2959c89ad7589
//! cargo run --example admin -- --dev --nodes 3 --rounds 3 --env ADMINS=$ADMIN \
//!     --input admin:'{"set_roundtime":0}' --input admin:'{"set_roundtime":2000}' \
//!     --input admin:'{"add_peers":["10.0.0.5:22861"]}' --input bob:'{"set_roundtime":5}' \
//!     --read admin:'"config"'
//! ```

use std::collections::BTreeSet;

use hotpocket::config::PatchConfig;
use hotpocket::peers::PeerChangeset;
use hotpocket::prelude::*;

/// The environment variable listing the authorised users.
const ADMINS_VAR: &str = "ADMINS";
/// How many audit entries the state keeps.
const AUDIT_ENTRIES: usize = 50;

/// The contract's state, saved in `admin.json`.
#[derive(Default, Serialize, Deserialize)]
struct Admin {
    /// The last [`AUDIT_ENTRIES`] applied changes, oldest first.
    audit: Vec<AuditEntry>,
    /// Read from the environment every round; not saved.
    #[serde(skip)]
    admins: BTreeSet<String>,
}

/// One applied change.
#[derive(Serialize, Deserialize)]
struct AuditEntry {
    /// The ledger (lcl sequence number) of the round that made it.
    ledger: u64,
    /// The round's agreed time, unix ms.
    timestamp: u64,
    /// Who asked for it.
    admin: String,
    /// The reply the admin got.
    change: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Command {
    Config,
    SetRoundtime(u32),
    AddUnlNode(String),
    RemoveUnlNode(String),
    AddPeers(Vec<String>),
    RemovePeers(Vec<String>),
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Reply {
    Config {
        version: String,
        roundtime: u32,
        threshold: u16,
        unl: Vec<String>,
    },
    RoundtimeSet {
        from: u32,
        to: u32,
    },
    UnlNodeAdded {
        node: String,
        unl_size: usize,
    },
    UnlNodeRemoved {
        node: String,
        unl_size: usize,
    },
    PeersRequested {
        add: Vec<String>,
        remove: Vec<String>,
    },
    Error(AdminError),
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum AdminError {
    BadCommand { reason: String },
    NotAuthorised,
    ReadOnly,
    NoChange { reason: String },
    InvalidConfig { key: String, message: String },
    InvalidPeer { message: String },
    Failed { message: String },
}

impl From<Error> for AdminError {
    fn from(e: Error) -> Self {
        match e {
            Error::Config { key, message } if !key.is_empty() => {
                AdminError::InvalidConfig { key, message }
            }
            Error::Control(message) => AdminError::InvalidPeer { message },
            other => AdminError::Failed {
                message: other.to_string(),
            },
        }
    }
}

fn parse(input: &[u8]) -> Result<Command, AdminError> {
    serde_json::from_slice(input).map_err(|e| AdminError::BadCommand {
        reason: e.to_string(),
    })
}

fn config_reply(cfg: PatchConfig) -> Reply {
    Reply::Config {
        version: cfg.version,
        roundtime: cfg.consensus.roundtime,
        threshold: cfg.consensus.threshold,
        unl: cfg.unl,
    }
}

/// Reads `patch.cfg`, lets `edit` change it, and writes it back if the
/// result passes the engine's rules.
fn edit_config<T>(
    ctx: &mut Round,
    edit: impl FnOnce(&mut PatchConfig) -> Result<T, AdminError>,
) -> Result<T, AdminError> {
    let mut cfg = ctx.patch_config()?;
    let out = edit(&mut cfg)?;
    ctx.update_patch_config(&cfg)?;
    Ok(out)
}

fn change(ctx: &mut Round, cmd: Command) -> Result<Reply, AdminError> {
    match cmd {
        Command::Config => Ok(config_reply(ctx.patch_config()?)),
        Command::SetRoundtime(to) => edit_config(ctx, |cfg| {
            let from = std::mem::replace(&mut cfg.consensus.roundtime, to);
            Ok(Reply::RoundtimeSet { from, to })
        }),
        Command::AddUnlNode(node) => edit_config(ctx, |cfg| {
            let node = node.to_ascii_lowercase();
            if cfg.unl.contains(&node) {
                return Err(AdminError::NoChange {
                    reason: format!("{node} is already in the UNL"),
                });
            }
            cfg.unl.push(node.clone());
            cfg.unl.sort();
            Ok(Reply::UnlNodeAdded {
                node,
                unl_size: cfg.unl.len(),
            })
        }),
        Command::RemoveUnlNode(node) => edit_config(ctx, |cfg| {
            let node = node.to_ascii_lowercase();
            let before = cfg.unl.len();
            cfg.unl.retain(|n| *n != node);
            if cfg.unl.len() == before {
                return Err(AdminError::NoChange {
                    reason: format!("{node} is not in the UNL"),
                });
            }
            Ok(Reply::UnlNodeRemoved {
                node,
                unl_size: cfg.unl.len(),
            })
        }),
        Command::AddPeers(peers) => {
            ctx.update_peers(&PeerChangeset::add(&peers)?)?;
            Ok(Reply::PeersRequested {
                add: peers,
                remove: Vec::new(),
            })
        }
        Command::RemovePeers(peers) => {
            ctx.update_peers(&PeerChangeset::remove(&peers)?)?;
            Ok(Reply::PeersRequested {
                add: Vec::new(),
                remove: peers,
            })
        }
    }
}

#[hotpocket::contract(state = "admin.json")]
impl Admin {
    #[on_round_start]
    fn read_admins(&mut self, ctx: &mut Round) {
        let list = ctx.env(ADMINS_VAR).unwrap_or_default();
        self.admins = list
            .split(',')
            .map(|k| k.trim().to_ascii_lowercase())
            .filter(|k| !k.is_empty())
            .collect();
    }

    #[on_input]
    fn command(&mut self, ctx: &mut Round, user: &User, input: &[u8]) -> Result<()> {
        let result = parse(input).and_then(|cmd| {
            let read = matches!(cmd, Command::Config);
            if !read && !self.admins.contains(user.public_key()) {
                return Err(AdminError::NotAuthorised);
            }
            change(ctx, cmd).map(|reply| (reply, read))
        });
        let reply = match result {
            Ok((reply, false)) => {
                self.audit.push(AuditEntry {
                    ledger: ctx.lcl_seq_no().unwrap_or_default(),
                    timestamp: ctx.timestamp(),
                    admin: user.public_key().to_owned(),
                    change: serde_json::to_value(&reply).map_err(Error::msg)?,
                });
                let excess = self.audit.len().saturating_sub(AUDIT_ENTRIES);
                self.audit.drain(..excess);
                reply
            }
            Ok((reply, true)) => reply,
            Err(e) => Reply::Error(e),
        };
        user.send_json(&reply)
    }

    #[on_read_request]
    fn query(&self, ctx: &mut Round, user: &User, input: &[u8]) -> Result<()> {
        let reply = match parse(input) {
            Ok(Command::Config) => ctx
                .patch_config()
                .map(config_reply)
                .unwrap_or_else(|e| Reply::Error(e.into())),
            Ok(_) => Reply::Error(AdminError::ReadOnly),
            Err(e) => Reply::Error(e),
        };
        user.send_json(&reply)
    }
}

/// In process (`cargo test --example admin`): the admins come from the
/// round's environment, and since `admins` is not saved, a round without
/// `ADMINS` has none, as on the engine.
#[cfg(test)]
mod tests {
    use hotpocket::testing::TestRound;

    use super::*;

    const ADD: &str = r#"{"add_peers":["10.0.0.5:22861"]}"#;
    const REFUSED: &str = r#"{"error":{"kind":"not_authorised"}}"#;

    #[test]
    fn only_the_admins_in_the_environment_may_change_anything() {
        let mut admin = Admin::default();
        let out = TestRound::new()
            .env(ADMINS_VAR, "Alice, carol")
            .input("alice", ADD)
            .input("bob", ADD)
            .run(&mut admin);
        assert_eq!(
            out.outputs("alice"),
            [r#"{"peers_requested":{"add":["10.0.0.5:22861"],"remove":[]}}"#]
        );
        assert_eq!(out.outputs("bob"), [REFUSED]);
        assert_eq!(out.control.len(), 1, "one peer changeset");
        assert_eq!(admin.audit.len(), 1);
        assert!(admin.admins.is_empty(), "not saved");

        let out = TestRound::new().input("alice", ADD).run(&mut admin);
        assert_eq!(out.outputs("alice"), [REFUSED]);
        assert_eq!(admin.audit.len(), 1);
    }
}
