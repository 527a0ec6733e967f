use hotpocket::prelude::*;

#[derive(Default)]
struct C;

#[derive(Debug)]
struct NoDisplay;

#[hotpocket::contract]
impl C {
    #[on_round_end]
    fn end(&mut self, _ctx: &mut Round) -> Result<(), NoDisplay> {
        Ok(())
    }
}
