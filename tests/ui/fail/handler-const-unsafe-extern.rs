use hotpocket::prelude::*;

#[derive(Default)]
struct C;

#[hotpocket::contract]
impl C {
    #[on_round_end]
    const unsafe extern "C" fn end(&mut self, _ctx: &mut Round) {}
}
