use hotpocket::prelude::*;

#[derive(Default)]
struct C;

#[hotpocket::contract]
impl C {
    #[on_input]
    #[on_read_request]
    fn input(&mut self, _ctx: &mut Round, _user: &User, _input: &[u8]) {}
}
