//! Every handler may borrow the contract immutably.

mod contract {
    use hotpocket::prelude::*;

    #[derive(Default)]
    pub struct Greeter {
        pub greeting: String,
    }

    #[hotpocket::contract]
    impl Greeter {
        #[on_round_start]
        fn start(&self, _ctx: &mut Round) {}

        #[on_input]
        fn input(&self, _ctx: &mut Round, user: &User, name: &str) -> Result<()> {
            user.send(format!("{} {name}", self.greeting))
        }

        #[on_read_request]
        fn read(&self, _ctx: &mut Round, _user: &User, _input: &[u8]) {}

        #[on_npl]
        fn npl(&self, _ctx: &mut Round, _from: &Node, _msg: &[u8]) -> Npl {
            Npl::Done
        }

        #[on_round_end]
        fn end(&self, _ctx: &mut Round) {}
    }
}

fn main() {
    let mut greeter = contract::Greeter {
        greeting: "hello".into(),
    };
    let out = hotpocket::testing::TestRound::new()
        .input("alice", "bob")
        .run(&mut greeter);
    assert_eq!(out.outputs("alice"), ["hello bob"]);
}
