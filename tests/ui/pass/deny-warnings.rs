//! The generated code raises no warning, even under strict lint settings, and
//! counts as a use of every handler (no dead-code warnings for them).
#![deny(
    warnings,
    unused,
    unused_qualifications,
    rust_2018_idioms,
    unreachable_pub
)]
#![deny(
    missing_docs,
    missing_debug_implementations,
    trivial_casts,
    trivial_numeric_casts
)]
#![deny(
    unused_results,
    unused_import_braces,
    single_use_lifetimes,
    variant_size_differences
)]
#![deny(clippy::all, clippy::pedantic)]

mod contract {
    use hotpocket::prelude::*;

    #[derive(Debug, Default, Serialize, Deserialize)]
    pub(crate) struct Strict {
        total: i64,
    }

    #[derive(Debug, Deserialize)]
    enum Cmd {
        Add(i64),
    }

    #[hotpocket::contract(state = "strict.json", npl_timeout_ms = 100)]
    impl Strict {
        #[on_round_start]
        fn start(&mut self, _ctx: &mut Round) {}

        #[on_input]
        fn add(
            &mut self,
            _ctx: &mut Round,
            user: &User,
            Json(Cmd::Add(n)): Json<Cmd>,
        ) -> Result<()> {
            self.total += n;
            user.send_json(&self.total)
        }

        #[on_read_request]
        fn read(&self, _ctx: &mut Round, user: &User, _input: &str) -> Result<()> {
            user.send_json(&self.total)
        }

        #[on_npl]
        fn npl(&mut self, _ctx: &mut Round, _from: &Node, _msg: &[u8]) -> bool {
            true
        }

        #[on_round_end]
        fn end(&mut self, _ctx: &mut Round) -> Result<()> {
            Ok(())
        }
    }
}

/// Drives the contract in-process.
fn main() {
    let mut strict = contract::Strict::default();
    let out = hotpocket::testing::TestRound::new()
        .input("alice", r#"{"Add":2}"#)
        .run(&mut strict);
    assert_eq!(out.outputs("alice"), ["2"]);
}
