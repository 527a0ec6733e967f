use hotpocket::prelude::*;

#[derive(Default)]
struct C;

#[hotpocket::contract]
impl C {
    #[on_round_end]
    fn end(self: Box<Self>, _ctx: &mut Round) {}
}
