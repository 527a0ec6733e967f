use hotpocket::prelude::*;

#[derive(Default)]
struct C;

#[hotpocket::contract]
impl C
where
    C: Default,
{
    #[on_round_end]
    fn end(&mut self, _ctx: &mut Round) {}
}
