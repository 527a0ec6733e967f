//! A type of the author's own becomes an extractor by implementing `FromInput`.

mod contract {
    use hotpocket::FromInput;
    use hotpocket::prelude::*;

    /// Whitespace-separated words.
    pub struct Words(pub Vec<String>);

    impl<'a> FromInput<'a> for Words {
        fn from_input(input: &'a [u8]) -> Result<Self> {
            let text = <&str>::from_input(input)?;
            Ok(Words(text.split_whitespace().map(str::to_owned).collect()))
        }
    }

    #[derive(Default)]
    pub struct Shell;

    #[hotpocket::contract]
    impl Shell {
        #[on_input]
        fn run(&mut self, _ctx: &mut Round, user: &User, Words(words): Words) -> Result<()> {
            user.send(words.len().to_string())
        }
    }
}

fn main() {
    let out = hotpocket::testing::TestRound::new()
        .input("alice", "add 1 2")
        .run(&mut contract::Shell);
    assert_eq!(out.outputs("alice"), ["3"]);
}
