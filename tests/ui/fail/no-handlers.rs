use hotpocket::prelude::*;

#[derive(Default)]
struct Counter {
    total: i64,
}

#[hotpocket::contract]
impl Counter {
    fn end(&mut self, _ctx: &mut Round) {
        self.total += 1;
    }
}
