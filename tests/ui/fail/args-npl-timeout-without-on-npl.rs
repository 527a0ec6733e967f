use hotpocket::prelude::*;

#[derive(Default)]
struct C;

#[hotpocket::contract(npl_timeout_ms = 500)]
impl C {
    #[on_round_end]
    fn end(&mut self, _ctx: &mut Round) {}
}
