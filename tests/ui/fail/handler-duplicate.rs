use hotpocket::prelude::*;

#[derive(Default)]
struct C;

#[hotpocket::contract]
impl C {
    #[on_input]
    fn first(&mut self, _ctx: &mut Round, _user: &User, _input: &[u8]) {}

    #[on_input]
    fn second(&mut self, _ctx: &mut Round, _user: &User, _input: &str) {}
}
