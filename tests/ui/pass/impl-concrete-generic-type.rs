//! The contract type may be an instance of a generic type, as long as the
//! block itself is not generic.

mod contract {
    use hotpocket::prelude::*;

    #[derive(Default)]
    pub struct Keep<T>(pub T);

    #[hotpocket::contract]
    impl Keep<u32> {
        #[on_input]
        fn input(&mut self, _ctx: &mut Round, _user: &User, _input: &[u8]) {
            self.0 += 1;
        }
    }
}

fn main() {
    let mut keep = contract::Keep(0u32);
    let _ = hotpocket::testing::TestRound::new()
        .input("alice", "x")
        .run(&mut keep);
    assert_eq!(keep.0, 1);
}
