//! The smallest contract: one handler.

mod contract {
    use hotpocket::prelude::*;

    #[derive(Default)]
    pub struct Ticker;

    #[hotpocket::contract]
    impl Ticker {
        #[on_round_end]
        fn end(&mut self, _ctx: &mut Round) {}
    }
}

fn main() {
    let out = hotpocket::testing::TestRound::new().run(&mut contract::Ticker);
    assert!(out.problems.is_empty(), "{:?}", out.problems);
}
