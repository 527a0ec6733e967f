use hotpocket::prelude::*;

#[derive(Default)]
struct C;

#[hotpocket::contract]
impl C {
    #[on_round_end]
    fn end(&mut self, _ctx: &mut Round) -> i32 {
        0
    }
}
