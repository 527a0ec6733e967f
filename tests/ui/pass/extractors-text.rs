//! `&str` and `String` inputs (UTF-8 checked by the runtime).

mod contract {
    use hotpocket::prelude::*;

    #[derive(Default)]
    pub struct Text;

    #[hotpocket::contract]
    impl Text {
        #[on_input]
        fn borrowed(&mut self, _ctx: &mut Round, user: &User, input: &str) -> Result<()> {
            user.send(input.to_uppercase())
        }

        #[on_read_request]
        fn owned(&mut self, _ctx: &mut Round, user: &User, mut input: String) -> Result<()> {
            input.push('!');
            user.send(input)
        }
    }
}

use hotpocket::testing::TestRound;

fn main() {
    let out = TestRound::new()
        .input("alice", "hi")
        .input("alice", [0xff])
        .run(&mut contract::Text);
    assert_eq!(out.outputs("alice"), ["HI"]);
    assert_eq!(out.problems.len(), 1, "{:?}", out.problems);
    let out = TestRound::read_request()
        .input("bob", "hey")
        .run(&mut contract::Text);
    assert_eq!(out.outputs("bob"), ["hey!"]);
}
