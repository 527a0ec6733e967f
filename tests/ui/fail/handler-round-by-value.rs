use hotpocket::prelude::*;

#[derive(Default)]
struct C;

#[hotpocket::contract]
impl C {
    #[on_round_start]
    fn start(&mut self, _ctx: Round) {}
}
