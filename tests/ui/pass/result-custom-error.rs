//! Handlers may fail with any error type that implements `Display`.

mod contract {
    use std::fmt;

    use hotpocket::prelude::*;

    #[derive(Debug)]
    pub struct Rejected(pub &'static str);

    impl fmt::Display for Rejected {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "rejected: {}", self.0)
        }
    }

    #[derive(Default)]
    pub struct Strict;

    #[hotpocket::contract(npl_timeout_ms = 100)]
    impl Strict {
        #[on_round_start]
        fn start(&mut self, _ctx: &mut Round) -> Result<(), String> {
            Ok(())
        }

        #[on_input]
        fn input(&mut self, _ctx: &mut Round, _user: &User, _input: &[u8]) -> Result<(), Rejected> {
            Err(Rejected("always"))
        }

        #[on_npl]
        fn npl(&mut self, _ctx: &mut Round, _from: &Node, _msg: &[u8]) -> Result<bool, Rejected> {
            Ok(true)
        }

        #[on_round_end]
        fn end(&mut self, _ctx: &mut Round) -> std::result::Result<(), std::io::Error> {
            Ok(())
        }
    }
}

fn main() {
    let out = hotpocket::testing::TestRound::new()
        .input("alice", "x")
        .run(&mut contract::Strict);
    assert_eq!(out.problems.len(), 1, "{:?}", out.problems);
    assert!(
        out.problems[0].contains("rejected: always"),
        "{:?}",
        out.problems
    );
}
