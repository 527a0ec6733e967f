//! `hotpocket::testing::TestRound` against what the engine does between
//! rounds: every round of a contract with a state file starts from the saved
//! file, so what the file does not hold (`#[serde(skip)]` fields) is gone
//! in the next round, and a read request changes nothing.

use hotpocket::testing::TestRound;

use fussy::Fussy;
use greeter::Greeter;
use tally::Tally;

/// A contract whose state has a field the file does not hold.
mod tally {
    use hotpocket::prelude::*;

    /// A counter with a field the state file does not hold.
    #[derive(Default, Serialize, Deserialize)]
    pub(crate) struct Tally {
        pub(crate) total: u64,
        /// What this process saw since it loaded the state.
        #[serde(skip)]
        pub(crate) seen_this_round: u64,
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

/// A contract whose state cannot always be saved.
mod fussy {
    use hotpocket::prelude::*;

    /// A state whose encoding fails once `poisoned` is set, as a type whose
    /// `Serialize` refuses some values would.
    #[derive(Default, Serialize, Deserialize)]
    pub(crate) struct Fussy {
        pub(crate) n: u64,
        #[serde(serialize_with = "refuse_if_set")]
        pub(crate) poisoned: bool,
    }

    fn refuse_if_set<S: serde::Serializer>(
        set: &bool,
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        if *set {
            Err(serde::ser::Error::custom("poisoned"))
        } else {
            s.serialize_bool(false)
        }
    }

    #[hotpocket::contract(state = "fussy.json")]
    impl Fussy {
        #[on_input]
        fn input(&mut self, _ctx: &mut Round, user: &User, input: &str) -> Result<()> {
            self.n += 1;
            self.poisoned = input == "poison";
            user.send(format!("n={}", self.n))
        }
    }
}

#[test]
fn a_failed_save_keeps_the_previous_value_and_sends_nothing() {
    let mut fussy = Fussy::default();
    TestRound::new().input("alice", "ok").run(&mut fussy);
    let out = TestRound::new()
        .input("alice", "ok")
        .input("alice", "poison")
        .run(&mut fussy);
    assert_eq!(out.outputs("alice"), Vec::<String>::new());
    assert_eq!(
        out.problems,
        [
            "state file `fussy.json`: cannot serialise: poisoned; the previous state was kept \
          and none of this round's outputs were sent"
        ]
    );
    assert_eq!((fussy.n, fussy.poisoned), (1, false));

    // A value the test built that cannot be saved: the round does not start.
    let mut fussy = Fussy {
        n: 5,
        poisoned: true,
    };
    let out = TestRound::new().input("alice", "ok").run(&mut fussy);
    assert!(out.outputs("alice").is_empty());
    assert_eq!(
        out.problems,
        [
            "state file `fussy.json`: cannot serialise: poisoned; no handlers were run and the \
          value was left as it is"
        ]
    );
    assert_eq!((fussy.n, fussy.poisoned), (5, true));
}

/// A contract configured by its environment.
mod greeter {
    use hotpocket::prelude::*;

    #[derive(Default)]
    pub(crate) struct Greeter;

    #[hotpocket::contract]
    impl Greeter {
        #[on_input]
        fn greet(&self, ctx: &mut Round, user: &User, name: &str) -> Result<()> {
            let greeting = ctx.env("GREETING").unwrap_or("hello");
            user.send(format!("{greeting} {name}"))
        }

        #[on_round_end]
        fn end(&self, ctx: &mut Round) -> Result<(), String> {
            match ctx.env("PATH") {
                Some(path) => Err(format!("the test process's PATH leaked: {path}")),
                None => Ok(()),
            }
        }
    }
}

#[test]
fn the_environment_is_the_rounds_own() {
    let out = TestRound::new()
        .env("GREETING", "ahoy")
        .env("OTHER", "x")
        .input("alice", "bob")
        .run(&mut Greeter);
    assert_eq!(out.outputs("alice"), ["ahoy bob"]);
    assert!(
        std::env::var_os("PATH").is_some(),
        "the test process has a PATH"
    );
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    // Nothing carries over from the previous round.
    let out = TestRound::new().input("alice", "bob").run(&mut Greeter);
    assert_eq!(out.outputs("alice"), ["hello bob"]);
}
