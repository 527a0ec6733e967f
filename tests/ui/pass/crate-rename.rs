//! `crate = "..."` for a runtime known under another name.

mod contract {
    use ::hotpocket as hp;

    #[derive(Default)]
    pub struct Renamed;

    #[hp::contract(crate = "hp")]
    impl Renamed {
        #[on_input]
        fn input(&mut self, _ctx: &mut hp::Round, user: &hp::User, input: &[u8]) -> hp::Result<()> {
            user.send(input)
        }
    }
}

fn main() {
    let out = hotpocket::testing::TestRound::new()
        .input("alice", "x")
        .run(&mut contract::Renamed);
    assert_eq!(out.outputs("alice"), ["x"]);
}
