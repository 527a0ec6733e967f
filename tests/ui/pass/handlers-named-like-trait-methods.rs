//! Handlers may have the names of the runtime trait's methods: the generated
//! impl still calls the author's methods, not itself.

mod contract {
    use hotpocket::prelude::*;

    #[derive(Default)]
    pub struct Same {
        pub calls: Vec<&'static str>,
    }

    #[hotpocket::contract]
    impl Same {
        #[on_round_start]
        fn on_round_start(&mut self, _ctx: &mut Round) {
            self.calls.push("start");
        }

        #[on_input]
        fn on_input(&self, _ctx: &mut Round, user: &User, input: &[u8]) -> Result<()> {
            user.send(input)
        }

        #[on_npl]
        fn on_npl(&mut self, _ctx: &mut Round, _from: &Node, _msg: &[u8]) -> Npl {
            self.calls.push("npl");
            Npl::Done
        }

        #[on_round_end]
        fn on_round_end(&mut self, _ctx: &mut Round) {
            self.calls.push("end");
        }
    }
}

fn main() {
    let mut same = contract::Same::default();
    let out = hotpocket::testing::TestRound::new()
        .input("alice", "x")
        .npl("ed01", "m")
        .run(&mut same);
    assert_eq!(out.outputs("alice"), ["x"]);
    assert_eq!(same.calls, ["start", "npl", "end"]);
}
