use hotpocket::prelude::*;

#[derive(Default)]
struct C<T>(T);

#[hotpocket::contract]
impl<T> C<T> {
    #[on_round_end]
    fn end(&mut self, _ctx: &mut Round) {}
}
