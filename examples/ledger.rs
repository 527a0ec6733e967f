//! **ledger**: a small token ledger, and the example of error handling done
//! right. Every input gets exactly one reply; a command that cannot be carried
//! out gets a typed error and changes nothing.
//!
//! Accounts are keyed by the users' public keys (the `ed…` hex keys the
//! engine gives). Commands, one JSON value per input:
//!
//! | input | who | effect | reply |
//! |---|---|---|---|
//! | `"open"` | anyone | opens the sender's account (again: no change) | `{"opened":{"account":"ed…","balance":0}}` |
//! | `{"mint":{"to":"ed…","amount":100}}` | minters | creates tokens in an open account | `{"minted":{"to":"ed…","amount":100,"balance":100,"supply":100}}` |
//! | `{"transfer":{"to":"ed…","amount":30}}` | account holders | moves tokens to an open account | `{"transferred":{"to":"ed…","amount":30,"balance":70}}` (the sender's balance) |
//! | `"balance"` | account holders | nothing (also as a read request) | `{"balance":{"account":"ed…","balance":70}}` |
//!
//! Errors all have one shape, `{"error":{"kind":"…", …}}`, with these kinds
//! and fields:
//!
//! | kind | fields | when |
//! |---|---|---|
//! | `bad_command` | `reason` | not JSON, or not one of the commands above |
//! | `read_only` | | anything but `"balance"` as a read request |
//! | `not_a_minter` | | `mint` from a user the config does not list |
//! | `unknown_account` | `account` | the sender or the recipient has no open account |
//! | `negative_amount` | `amount` | the amount is below zero |
//! | `zero_amount` | | the amount is zero |
//! | `amount_too_large` | `amount`, `max` | the amount does not fit a balance (`u64`) |
//! | `insufficient_funds` | `balance`, `amount` | the sender has less than the amount |
//! | `overflow` | `supply`, `amount` | minting would take the total supply past `u64::MAX` |
//!
//! Amounts are read as 128-bit integers so that a negative or too large
//! amount is reported as such rather than as unreadable JSON; balances and the
//! supply are `u64`, changed only with checked arithmetic.
//!
//! **State that scales**: accounts live in a [`hotpocket::store::Map`] and
//! the supply in a [`hotpocket::store::Cell`] (`#[contract(store)]`), on the
//! store's SQLite database `state.sqlite`. A round reads only the accounts its
//! commands name and writes only the pages it changed, so a round costs the
//! same with ten accounts or a million. Each command runs as one unit
//! ([`hotpocket::store::atomically`]): a command that fails halfway keeps
//! nothing.
//!
//! **Who may mint** is configuration every node must have identically. It is
//! read from the contract's environment, `LEDGER_MINTERS` (public keys
//! separated by commas): the engine passes the `contract.environment` map of
//! its config as the contract's entire environment, and that map is part of
//! the contract's `patch.cfg`, which the nodes agree on like the state. (A
//! file seeded into the state directory would work too, and would let the
//! contract change the list itself; the environment keeps the list out of the
//! contract's reach and is set with one flag in dev mode.) Entries that are
//! not public keys are reported on stderr and ignored.
//!
//! Run it on a simulated 3-node cluster; dev mode derives each user's key from
//! its name, and these are the keys of `alice` and `zed`. zed is the minter;
//! alice's inputs run first (the engine orders users by key), so her `mint`
//! is refused, then zed opens his account, mints, pays alice and tries a
//! negative transfer:
//!
//! ```sh
//! ALICE=edd4549ee2b8256e34b49e77c2fe22d9a9bd9ff1d493c510d7131c2e8842122b25
//! ZED=eddb992d2d9cd504749ed1054bbab549734c4167b0eca6de7fd27146940e6fa2e2
//! cargo run --example ledger -- --dev --nodes 3 --env LEDGER_MINTERS=$ZED \
//!     --input alice:'"open"' --input "alice:{\"mint\":{\"to\":\"$ALICE\",\"amount\":5}}" \
//!     --input zed:'"open"' --input "zed:{\"mint\":{\"to\":\"$ZED\",\"amount\":100}}" \
//!     --input "zed:{\"transfer\":{\"to\":\"$ALICE\",\"amount\":30}}" \
//!     --input "zed:{\"transfer\":{\"to\":\"$ALICE\",\"amount\":-1}}" \
//!     --read alice:'"balance"'
//! ```

use std::collections::BTreeSet;

use hotpocket::prelude::*;
use hotpocket::store::{self, Cell, Map};

/// The environment variable listing the minters.
const MINTERS_VAR: &str = "LEDGER_MINTERS";

/// Open accounts and their balances, by public key.
static BALANCES: Map<String, u64> = Map::new("balances");
/// All tokens ever minted (transfers keep it constant).
static SUPPLY: Cell<u64> = Cell::new("supply");

/// The contract; its state is in the store, this holds only the round's view
/// of the configuration.
#[derive(Default)]
struct Ledger {
    /// The minters, read from the environment every round.
    minters: BTreeSet<String>,
}

/// Why a command got no regular reply: refused, or the store failed.
enum Failure {
    Refused(LedgerError),
    Store(hotpocket::Error),
}

impl From<LedgerError> for Failure {
    fn from(e: LedgerError) -> Self {
        Failure::Refused(e)
    }
}

impl From<hotpocket::Error> for Failure {
    fn from(e: hotpocket::Error) -> Self {
        Failure::Store(e)
    }
}

/// What users send.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Command {
    Open,
    Mint { to: String, amount: i128 },
    Transfer { to: String, amount: i128 },
    Balance,
}

/// What users get back: one reply per input.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Reply {
    Opened {
        account: String,
        balance: u64,
    },
    Minted {
        to: String,
        amount: u64,
        balance: u64,
        supply: u64,
    },
    Transferred {
        to: String,
        amount: u64,
        balance: u64,
    },
    Balance {
        account: String,
        balance: u64,
    },
    Error(LedgerError),
}

/// Why a command was refused. Serialised as `{"kind":"…", fields…}`.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum LedgerError {
    BadCommand { reason: String },
    ReadOnly,
    NotAMinter,
    UnknownAccount { account: String },
    NegativeAmount { amount: i128 },
    ZeroAmount,
    AmountTooLarge { amount: i128, max: u64 },
    InsufficientFunds { balance: u64, amount: u64 },
    Overflow { supply: u64, amount: u64 },
}

/// `ed` followed by 64 hex digits, the form of the engine's public keys.
fn is_public_key(s: &str) -> bool {
    s.len() == 66 && s.starts_with("ed") && s.bytes().skip(2).all(|b| b.is_ascii_hexdigit())
}

/// A valid amount: 1 to `u64::MAX`.
fn amount(amount: i128) -> Result<u64, LedgerError> {
    match u64::try_from(amount) {
        Ok(0) => Err(LedgerError::ZeroAmount),
        Ok(a) => Ok(a),
        Err(_) if amount < 0 => Err(LedgerError::NegativeAmount { amount }),
        Err(_) => Err(LedgerError::AmountTooLarge {
            amount,
            max: u64::MAX,
        }),
    }
}

fn parse(input: &[u8]) -> Result<Command, Failure> {
    serde_json::from_slice(input).map_err(|e| {
        Failure::Refused(LedgerError::BadCommand {
            reason: e.to_string(),
        })
    })
}

/// The reply for a finished command; a store failure is the handler's error
/// (reported on stderr; the user gets no reply for it).
fn reply(result: Result<Reply, Failure>) -> Result<Reply> {
    match result {
        Ok(reply) => Ok(reply),
        Err(Failure::Refused(e)) => Ok(Reply::Error(e)),
        Err(Failure::Store(e)) => Err(e),
    }
}

impl Ledger {
    /// The balance of an open account.
    fn balance_of(&self, account: &str) -> Result<u64, Failure> {
        BALANCES.get(&account.to_owned())?.ok_or_else(|| {
            Failure::Refused(LedgerError::UnknownAccount {
                account: account.to_owned(),
            })
        })
    }

    /// Carries out one command from `sender`. Checks everything before
    /// changing anything, so an error leaves the ledger as it was.
    fn apply(&mut self, sender: &str, cmd: Command) -> Result<Reply, Failure> {
        match cmd {
            Command::Open => {
                let key = sender.to_owned();
                let balance = match BALANCES.get(&key)? {
                    Some(balance) => balance,
                    None => {
                        BALANCES.insert(&key, &0)?;
                        0
                    }
                };
                Ok(Reply::Opened {
                    account: sender.to_owned(),
                    balance,
                })
            }
            Command::Mint { to, amount: raw } => {
                if !self.minters.contains(sender) {
                    return Err(LedgerError::NotAMinter.into());
                }
                let amount = amount(raw)?;
                let to = to.to_ascii_lowercase();
                let balance = self.balance_of(&to)?;
                let old_supply = SUPPLY.get()?;
                let overflow = || LedgerError::Overflow {
                    supply: old_supply,
                    amount,
                };
                let supply = old_supply.checked_add(amount).ok_or_else(overflow)?;
                // No balance exceeds the supply, so this only fails if the line above did.
                let balance = balance.checked_add(amount).ok_or_else(overflow)?;
                SUPPLY.set(&supply)?;
                BALANCES.insert(&to, &balance)?;
                Ok(Reply::Minted {
                    to,
                    amount,
                    balance,
                    supply,
                })
            }
            Command::Transfer { to, amount: raw } => {
                let amount = amount(raw)?;
                let to = to.to_ascii_lowercase();
                let from_balance = self.balance_of(sender)?;
                let to_balance = self.balance_of(&to)?;
                let rest =
                    from_balance
                        .checked_sub(amount)
                        .ok_or(LedgerError::InsufficientFunds {
                            balance: from_balance,
                            amount,
                        })?;
                if to == sender {
                    return Ok(Reply::Transferred {
                        to,
                        amount,
                        balance: from_balance,
                    });
                }
                // Balances add up to the supply, a u64, so this cannot fail.
                let Some(credited) = to_balance.checked_add(amount) else {
                    let supply = SUPPLY.get()?;
                    return Err(LedgerError::Overflow { supply, amount }.into());
                };
                BALANCES.insert(&sender.to_owned(), &rest)?;
                BALANCES.insert(&to, &credited)?;
                Ok(Reply::Transferred {
                    to,
                    amount,
                    balance: rest,
                })
            }
            Command::Balance => Ok(Reply::Balance {
                account: sender.to_owned(),
                balance: self.balance_of(sender)?,
            }),
        }
    }
}

#[hotpocket::contract(store)]
impl Ledger {
    #[on_round_start]
    fn read_minters(&mut self, ctx: &mut Round) {
        let list = ctx.env(MINTERS_VAR).unwrap_or_default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if is_public_key(entry) {
                self.minters.insert(entry.to_ascii_lowercase());
            } else {
                eprintln!("ledger: {MINTERS_VAR} entry {entry:?} is not a public key; ignored");
            }
        }
    }

    #[on_input]
    fn command(&mut self, _ctx: &mut Round, user: &User, input: &[u8]) -> Result<()> {
        let result =
            store::atomically(|| parse(input).and_then(|cmd| self.apply(user.public_key(), cmd)));
        user.send_json(&reply(result)?)
    }

    #[on_read_request]
    fn query(&self, _ctx: &mut Round, user: &User, input: &[u8]) -> Result<()> {
        let result = parse(input).and_then(|cmd| match cmd {
            Command::Balance => Ok(Reply::Balance {
                account: user.public_key().to_owned(),
                balance: self.balance_of(user.public_key())?,
            }),
            _ => Err(LedgerError::ReadOnly.into()),
        });
        user.send_json(&reply(result)?)
    }
}
