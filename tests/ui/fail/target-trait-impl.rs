use hotpocket::prelude::*;

#[derive(Default)]
struct C;

trait Handlers {
    fn end(&mut self, ctx: &mut Round);
}

#[hotpocket::contract]
impl Handlers for C {
    #[on_round_end]
    fn end(&mut self, _ctx: &mut Round) {}
}
