//! Names the author defines (`Result`, `Ok`, `Option`, `core`, a `const`
//! named like a binding...) do not change what the generated code means.
#![allow(non_camel_case_types, non_upper_case_globals, dead_code)]

mod contract {
    use ::hotpocket::{Round, User};

    pub type Result = ();
    pub struct Ok;
    pub struct Err;
    pub struct Some;
    pub struct None;
    pub enum Option {}
    pub trait Default {}
    pub struct u8;
    pub struct bool;
    pub mod core {}
    pub mod hotpocket {}
    const value: i32 = 0;
    const error: i32 = 0;

    #[derive(::core::default::Default)]
    pub struct Shadowed;

    #[::hotpocket::contract(npl_timeout_ms = 5)]
    impl Shadowed {
        #[on_input]
        fn input(&mut self, _ctx: &mut Round, user: &User, input: &str) -> ::hotpocket::Result<()> {
            user.send(input)
        }

        #[on_npl]
        fn npl(
            &mut self,
            _: &mut Round,
            _: &::hotpocket::Node,
            _: &[::core::primitive::u8],
        ) -> ::core::primitive::bool {
            true
        }
    }
}

fn main() {
    let out = hotpocket::testing::TestRound::new()
        .input("alice", "x")
        .run(&mut contract::Shadowed);
    assert_eq!(out.outputs("alice"), ["x"]);
}
