//! Context parameters may be named by any path and bound by any pattern.

mod contract {
    #[derive(Default)]
    pub struct Paths;

    #[hotpocket::contract]
    impl Paths {
        #[on_input]
        fn input(
            &mut self,
            _: &mut hotpocket::Round,
            user @ &hotpocket::User { .. }: &::hotpocket::User,
            mut input: ::std::vec::Vec<u8>,
        ) -> hotpocket::Result<()> {
            input.push(b'!');
            user.send(input)
        }

        #[on_npl]
        fn npl(
            &mut self,
            _ctx: &mut hotpocket::Round,
            _from: &hotpocket::Node,
            _msg: &[core::primitive::u8],
        ) -> hotpocket::Npl {
            hotpocket::Npl::Done
        }
    }
}

fn main() {
    let out = hotpocket::testing::TestRound::new()
        .input("alice", "x")
        .run(&mut contract::Paths);
    assert_eq!(out.outputs("alice"), ["x!"]);
}
