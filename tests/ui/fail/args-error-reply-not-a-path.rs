use hotpocket::prelude::*;

#[derive(Default)]
struct C;

#[hotpocket::contract(error_reply = "reply")]
impl C {
    #[on_input]
    fn input(&mut self, _ctx: &mut Round, _user: &User, _input: &[u8]) {}
}
