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
//! with `{"error":"..."}`; so is an input that is not one of the commands
//! (`{"error":"input is not a valid JSON command: ..."}`): the handler takes
//! `Result<Json<Command>, Rejection>`, so it hears of the refusal and answers
//! in its own format. A read request answers `"Get"` from the saved state;
//! other commands get an error reply, since a read request cannot change
//! anything. The tests at the end of this file (`cargo test --example
//! counter`) run the handlers in process with `hotpocket::testing::TestRound`.
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
    /// Applies one command; the reply says what came of it.
    fn apply(&mut self, cmd: Command) -> Reply {
        match cmd {
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
        }
    }

    fn value(&self) -> Reply {
        Reply::Value {
            value: self.value,
            changes: self.changes,
        }
    }
}

#[hotpocket::contract(state = "counter.json")]
impl Counter {
    /// Takes the extractor's verdict (`Result<_, Rejection>`), so that an
    /// input that is not a command is answered in the counter's own format.
    #[on_input]
    fn command(
        &mut self,
        _ctx: &mut Round,
        user: &User,
        cmd: Result<Json<Command>, Rejection>,
    ) -> Result<()> {
        let reply = match cmd {
            Ok(Json(cmd)) => self.apply(cmd),
            Err(why) => Reply::Error {
                error: why.to_string(),
            },
        };
        user.send_json(&reply)
    }

    #[on_read_request]
    fn read(
        &self,
        _ctx: &mut Round,
        user: &User,
        cmd: Result<Json<Command>, Rejection>,
    ) -> Result<()> {
        let reply = match cmd {
            Ok(Json(Command::Get)) => self.value(),
            Ok(Json(Command::Add(_) | Command::Reset)) => Reply::Error {
                error: "read requests only answer \"Get\"; send Add and Reset as inputs".into(),
            },
            Err(why) => Reply::Error {
                error: why.to_string(),
            },
        };
        user.send_json(&reply)
    }
}

/// In-process tests: `cargo test --example counter` runs the handlers as
/// the engine would, with the state going through `counter.json`'s
/// encoding between rounds.
#[cfg(test)]
mod tests {
    use super::*;
    use hotpocket::testing::TestRound;

    #[test]
    fn adds_refuses_overflow_and_answers_a_malformed_input() {
        let mut counter = Counter::default();
        let out = TestRound::new()
            .input("alice", r#"{"Add":5}"#)
            .input("alice", "add five")
            .input("alice", format!(r#"{{"Add":{}}}"#, i64::MAX))
            .run(&mut counter);
        assert_eq!(
            out.outputs("alice"),
            [
                r#"{"value":5,"changes":1}"#,
                r#"{"error":"input is not a valid JSON command: expected value at line 1 column 1"}"#,
                r#"{"error":"5 + 9223372036854775807 does not fit in an i64"}"#,
            ]
        );
        // Answered by the handler: nothing for the node's log.
        assert!(out.problems.is_empty(), "{:?}", out.problems);
        assert_eq!((counter.value, counter.changes), (5, 1));
    }

    #[test]
    fn read_requests_answer_get_and_change_nothing() {
        let mut counter = Counter {
            value: 7,
            changes: 2,
        };
        let read = TestRound::read_request()
            .input("alice", r#""Get""#)
            .run(&mut counter);
        assert_eq!(read.outputs("alice"), [r#"{"value":7,"changes":2}"#]);
        let refused = TestRound::read_request()
            .input("alice", r#""Reset""#)
            .run(&mut counter);
        assert_eq!(
            refused.outputs("alice"),
            [r#"{"error":"read requests only answer \"Get\"; send Add and Reset as inputs"}"#]
        );
        assert_eq!((counter.value, counter.changes), (7, 2));
    }
}
