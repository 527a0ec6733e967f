// In a module, so that `main` below is the test's and runs the contract in
// process.
mod contract {
    use hotpocket::prelude::*;

    #[derive(Default)]
    pub struct C;

    #[hotpocket::contract(error_reply = free)]
    impl C {
        #[on_input]
        fn input(&mut self, _ctx: &mut Round, user: &User, Json(n): Json<u32>) -> Result<()> {
            user.send(n.to_string())
        }
    }

    // A free function works as well as a method (`Self::reply`).
    fn free(_: &C, failure: &InputFailure<'_>) -> Option<Vec<u8>> {
        Some(format!("error: {failure}").into_bytes())
    }
}

fn main() {
    let out = hotpocket::testing::TestRound::new()
        .input("alice", "7")
        .input("alice", "x")
        .run(&mut contract::C);
    assert_eq!(
        out.outputs("alice"),
        [
            "7",
            "error: input is not a valid JSON command: expected value at line 1 column 1"
        ]
    );
}
