//! `&[u8]` and `Vec<u8>` inputs.

mod contract {
    use hotpocket::prelude::*;

    #[derive(Default)]
    pub struct Bytes;

    #[hotpocket::contract]
    impl Bytes {
        #[on_input]
        fn borrowed(&mut self, _ctx: &mut Round, user: &User, input: &[u8]) -> Result<()> {
            user.send(input.len().to_string())
        }

        #[on_read_request]
        fn owned(&mut self, _ctx: &mut Round, user: &User, mut input: Vec<u8>) -> Result<()> {
            input.reverse();
            user.send(input)
        }
    }
}

use hotpocket::testing::TestRound;

fn main() {
    let out = TestRound::new()
        .input("alice", [0xff, 0x00, 0x01])
        .run(&mut contract::Bytes);
    assert_eq!(out.outputs("alice"), ["3"]);
    let out = TestRound::read_request()
        .input("bob", "abc")
        .run(&mut contract::Bytes);
    assert_eq!(out.outputs("bob"), ["cba"]);
}
