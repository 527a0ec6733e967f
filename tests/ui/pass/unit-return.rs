//! Handlers that cannot fail return `()`; `#[on_npl]` may return `bool` or `Npl`.

mod contract {
    use hotpocket::prelude::*;

    #[derive(Default)]
    pub struct Quiet {
        pub seen: usize,
    }

    #[hotpocket::contract]
    impl Quiet {
        #[on_round_start]
        fn start(&mut self, _ctx: &mut Round) {}

        #[on_input]
        fn input(&mut self, _ctx: &mut Round, _user: &User, _input: Vec<u8>) {
            self.seen += 1;
        }

        #[on_npl]
        fn npl(&mut self, _ctx: &mut Round, _from: &Node, _msg: &[u8]) -> bool {
            self.seen += 1;
            false
        }

        #[on_round_end]
        fn end(&mut self, _ctx: &mut Round) -> () {}
    }
}

fn main() {
    let mut quiet = contract::Quiet::default();
    let out = hotpocket::testing::TestRound::new()
        .input("alice", "a")
        .npl("ed01", "x")
        .npl("ed02", "y")
        .run(&mut quiet);
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    assert_eq!(quiet.seen, 3);
}
