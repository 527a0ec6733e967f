//! `hotpocket::testing::TestRound` against what the engine does between
//! rounds: every round of a contract with a state file starts from the saved
//! file, so what the file does not hold (`#[serde(skip)]` fields) is gone
//! in the next round, and a read request changes nothing.

use hotpocket::prelude::*;
use hotpocket::testing::TestRound;

/// A counter with a field the state file does not hold.
#[derive(Default, Serialize, Deserialize)]
struct Tally {
    total: u64,
    /// What this process saw since it loaded the state.
    #[serde(skip)]
    seen_this_round: u64,
}

#[hotpocket::contract(state = "tally.json")]
impl Tally {
    #[on_input]
    fn add(&mut self, _ctx: &mut Round, user: &User, _input: &[u8]) -> Result<()> {
        self.total += 1;
        self.seen_this_round += 1;
        user.send(format!("{} {}", self.total, self.seen_this_round))
    }

    #[on_read_request]
    fn read(&mut self, _ctx: &mut Round, user: &User, _input: &[u8]) -> Result<()> {
        // A read's changes are never saved by the engine.
        self.total += 100;
        self.seen_this_round += 100;
        user.send(format!("{} {}", self.total, self.seen_this_round))
    }
}

#[test]
fn a_skipped_field_does_not_survive_a_round() {
    let mut tally = Tally::default();
    let out = TestRound::new()
        .input("alice", "x")
        .input("alice", "x")
        .run(&mut tally);
    assert_eq!(out.outputs("alice"), ["1 1", "2 2"]);
    assert_eq!((tally.total, tally.seen_this_round), (2, 0));

    let out = TestRound::new().input("alice", "x").run(&mut tally);
    assert_eq!(
        out.outputs("alice"),
        ["3 1"],
        "the second round starts from the saved file"
    );
    assert!(out.problems.is_empty(), "{:?}", out.problems);
}

#[test]
fn a_read_request_leaves_the_value_unchanged() {
    let mut tally = Tally::default();
    TestRound::new().input("alice", "x").run(&mut tally);
    let out = TestRound::read_request().input("bob", "q").run(&mut tally);
    assert_eq!(out.outputs("bob"), ["101 100"]);
    assert_eq!((tally.total, tally.seen_this_round), (1, 0));
    let out = TestRound::new().input("alice", "x").run(&mut tally);
    assert_eq!(out.outputs("alice"), ["2 1"]);
}
