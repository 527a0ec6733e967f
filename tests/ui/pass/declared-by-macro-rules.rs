//! A contract written by a `macro_rules!` macro, with types passed as `ty`
//! fragments (which reach `#[contract]` wrapped in invisible groups).

mod contract {
    use hotpocket::prelude::*;

    macro_rules! echo_contract {
        ($name:ident, $round:ty, $input:ty) => {
            #[derive(Default)]
            pub struct $name;

            #[hotpocket::contract]
            impl $name {
                #[on_input]
                fn input(&mut self, _ctx: &mut $round, user: &User, input: $input) -> Result<()> {
                    user.send(input)
                }
            }
        };
    }

    echo_contract!(Echo, Round, &[u8]);
}

fn main() {
    let out = hotpocket::testing::TestRound::new()
        .input("alice", "x")
        .run(&mut contract::Echo);
    assert_eq!(out.outputs("alice"), ["x"]);
}
