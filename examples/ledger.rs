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
//! supply are `u64`, changed only with checked arithmetic. Accounts live in a
//! `BTreeMap`, so every node writes `ledger.json` byte for byte the same.
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

use std::collections::{BTreeMap, BTreeSet};

use hotpocket::prelude::*;

/// The environment variable listing the minters.
const MINTERS_VAR: &str = "LEDGER_MINTERS";

/// The contract's state, saved in `ledger.json` after every consensus round.
#[derive(Default, Serialize, Deserialize)]
struct Ledger {
    /// Open accounts and their balances, by public key.
    balances: BTreeMap<String, u64>,
    /// All tokens ever minted (transfers keep it constant).
    supply: u64,
    /// The minters, read from the environment every round; not saved.
    #[serde(skip)]
    minters: BTreeSet<String>,
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

fn parse(input: &[u8]) -> Result<Command, LedgerError> {
    serde_json::from_slice(input).map_err(|e| LedgerError::BadCommand {
        reason: e.to_string(),
    })
}

impl Ledger {
    /// The balance of an open account.
    fn balance_of(&self, account: &str) -> Result<u64, LedgerError> {
        self.balances
            .get(account)
            .copied()
            .ok_or_else(|| LedgerError::UnknownAccount {
                account: account.to_owned(),
            })
    }

    /// Carries out one command from `sender`. Checks everything before
    /// changing anything, so an error leaves the ledger as it was.
    fn apply(&mut self, sender: &str, cmd: Command) -> Result<Reply, LedgerError> {
        match cmd {
            Command::Open => {
                let balance = *self.balances.entry(sender.to_owned()).or_insert(0);
                Ok(Reply::Opened {
                    account: sender.to_owned(),
                    balance,
                })
            }
            Command::Mint { to, amount: raw } => {
                if !self.minters.contains(sender) {
                    return Err(LedgerError::NotAMinter);
                }
                let amount = amount(raw)?;
                let to = to.to_ascii_lowercase();
                let balance = self.balance_of(&to)?;
                let overflow = || LedgerError::Overflow {
                    supply: self.supply,
                    amount,
                };
                let supply = self.supply.checked_add(amount).ok_or_else(overflow)?;
                // No balance exceeds the supply, so this only fails if the line above did.
                let balance = balance.checked_add(amount).ok_or_else(overflow)?;
                self.supply = supply;
                self.balances.insert(to.clone(), balance);
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
                let credited = to_balance
                    .checked_add(amount)
                    .ok_or(LedgerError::Overflow {
                        supply: self.supply,
                        amount,
                    })?;
                self.balances.insert(sender.to_owned(), rest);
                self.balances.insert(to.clone(), credited);
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

#[hotpocket::contract(state = "ledger.json")]
impl Ledger {
    #[on_round_start]
    fn read_minters(&mut self, _ctx: &mut Round) {
        let list = std::env::var(MINTERS_VAR).unwrap_or_default();
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
        let reply = parse(input)
            .and_then(|cmd| self.apply(user.public_key(), cmd))
            .unwrap_or_else(Reply::Error);
        user.send_json(&reply)
    }

    #[on_read_request]
    fn query(&self, _ctx: &mut Round, user: &User, input: &[u8]) -> Result<()> {
        let reply = match parse(input) {
            Ok(Command::Balance) => match self.balance_of(user.public_key()) {
                Ok(balance) => Reply::Balance {
                    account: user.public_key().to_owned(),
                    balance,
                },
                Err(e) => Reply::Error(e),
            },
            Ok(_) => Reply::Error(LedgerError::ReadOnly),
            Err(e) => Reply::Error(e),
        };
        user.send_json(&reply)
    }
}
