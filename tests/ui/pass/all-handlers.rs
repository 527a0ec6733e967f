//! Every handler kind, each with its usual signature, and a helper method.

mod contract {
    use hotpocket::prelude::*;

    #[derive(Default)]
    pub struct Counter {
        pub total: i64,
        pub events: Vec<String>,
    }

    #[derive(Deserialize)]
    pub enum Cmd {
        Add(i64),
        Get,
    }

    #[hotpocket::contract(npl_timeout_ms = 500)]
    impl Counter {
        #[on_round_start]
        fn start(&mut self, _ctx: &mut Round) -> Result<()> {
            self.events.push("start".into());
            Ok(())
        }

        #[on_input]
        fn add(&mut self, _ctx: &mut Round, user: &User, Json(cmd): Json<Cmd>) -> Result<()> {
            if let Cmd::Add(n) = cmd {
                self.total += n;
            }
            user.send_json(&self.total())
        }

        #[on_read_request]
        fn query(&self, _ctx: &mut Round, user: &User, input: &str) -> Result<()> {
            user.send(format!("{input}: {}", self.total))
        }

        #[on_npl]
        fn vote(&mut self, _ctx: &mut Round, from: &Node, msg: &[u8]) -> Result<Npl> {
            self.events
                .push(format!("npl {} {}", from.public_key(), msg.len()));
            Ok(Npl::Done)
        }

        #[on_round_end]
        fn end(&mut self, _ctx: &mut Round) -> Result<()> {
            self.events.push("end".into());
            Ok(())
        }

        fn total(&self) -> i64 {
            self.total
        }
    }
}

use hotpocket::testing::TestRound;

fn main() {
    let mut counter = contract::Counter::default();
    let out = TestRound::new()
        .input("alice", r#"{"Add":5}"#)
        .input("alice", r#""Get""#)
        .npl("ed01", "hi")
        .run(&mut counter);
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    assert_eq!(out.outputs("alice"), ["5", "5"]);
    assert_eq!(counter.events, ["start", "npl ed01 2", "end"]);

    let out = TestRound::read_request()
        .input("bob", "total")
        .run(&mut counter);
    assert_eq!(out.outputs("bob"), ["total: 5"]);
}
