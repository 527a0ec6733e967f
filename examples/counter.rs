//! **counter**: a shared counter. It shows typed JSON commands (a serde
//! enum taken with the `Json` extractor), state persisted between rounds
//! (`state = "counter.json"`), and read requests answered from the state
//! without changing it (`#[on_read_request]` takes `&self`).
//!
//! Commands, one JSON value per input:
//!
//! | input | effect | reply |
//! |---|---|---|
//! | `{"Add":5}` | adds 5 (negative numbers subtract) | `{"value":5,"changes":1}` |
//! | `"Reset"` | sets the value to 0 | `{"value":0,"changes":2}` |
//! | `"Get"` | nothing | the current value |
//!
//! An `Add` that would leave the `i64` range changes nothing and is answered
//! with `{"error":"..."}`. An input that is not one of the commands never
//! reaches the handler: the runtime reports it on the node's stderr, with the
//! user and input index, and goes on with the next input (the ledger example
//! shows how to answer such inputs instead). A read request answers `"Get"`
//! from the saved state; other commands get an error reply, since a read
//! request cannot change anything.
//!
//! Run two rounds on a simulated 3-node cluster (the inputs go to the first),
//! then a read request:
//!
//! ```sh
//! cargo run --example counter -- --dev --nodes 3 --rounds 2 \
//!     --input alice:'{"Add":5}' --input bob:'{"Add":-2}' --read alice:'"Get"'
//! ```

use hotpocket::prelude::*;

/// The contract's state, saved in `counter.json` after every consensus round.
#[derive(Default, Serialize, Deserialize)]
struct Counter {
    /// The counter.
    value: i64,
    /// How many commands changed it (`Add` and `Reset`).
    changes: u64,
}

/// What users send.
#[derive(Deserialize)]
enum Command {
    /// Add this amount (negative to subtract).
    Add(i64),
    /// Set the value back to 0.
    Reset,
    /// Just reply with the value.
    Get,
}

/// What users get back.
#[derive(Serialize)]
#[serde(untagged)]
enum Reply {
    /// The counter after the command.
    Value { value: i64, changes: u64 },
    /// The command was refused; nothing changed.
    Error { error: String },
}

impl Counter {
    fn value(&self) -> Reply {
        Reply::Value {
            value: self.value,
            changes: self.changes,
        }
    }
}

#[hotpocket::contract(state = "counter.json")]
impl Counter {
    #[on_input]
    fn command(&mut self, _ctx: &mut Round, user: &User, Json(cmd): Json<Command>) -> Result<()> {
        let reply = match cmd {
            Command::Add(n) => match self.value.checked_add(n) {
                Some(value) => {
                    self.value = value;
                    self.changes = self.changes.saturating_add(1);
                    self.value()
                }
                None => Reply::Error {
                    error: format!("{} + {n} does not fit in an i64", self.value),
                },
            },
            Command::Reset => {
                self.value = 0;
                self.changes = self.changes.saturating_add(1);
                self.value()
            }
            Command::Get => self.value(),
        };
        user.send_json(&reply)
    }

    #[on_read_request]
    fn read(&self, _ctx: &mut Round, user: &User, Json(cmd): Json<Command>) -> Result<()> {
        let reply = match cmd {
            Command::Get => self.value(),
            Command::Add(_) | Command::Reset => Reply::Error {
                error: "read requests only answer \"Get\"; send Add and Reset as inputs".into(),
            },
        };
        user.send_json(&reply)
    }
}
