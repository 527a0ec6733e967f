//! A stateless contract is a unit struct; it starts from `Default` each round.

mod contract {
    use hotpocket::prelude::*;

    #[derive(Default)]
    pub struct Echo;

    #[hotpocket::contract]
    impl Echo {
        #[on_input]
        fn echo(&mut self, _ctx: &mut Round, user: &User, input: &[u8]) -> Result<()> {
            user.send(input)
        }
    }
}

use hotpocket::__private::Contract;

fn main() {
    assert_eq!(<contract::Echo as Contract>::STATE_FILE, None);
    assert!(!<contract::Echo as Contract>::HAS_NPL);
    let mut echo = <contract::Echo as Contract>::load().unwrap();
    let out = hotpocket::testing::TestRound::new()
        .input("alice", "hi")
        .run(&mut echo);
    assert_eq!(out.outputs("alice"), ["hi"]);
}
