use hotpocket::prelude::*;

struct Counter {
    total: i64,
}

#[hotpocket::contract(state = "counter.json")]
impl Counter {
    #[on_round_end]
    fn end(&mut self, _ctx: &mut Round) {
        self.total += 1;
    }
}
