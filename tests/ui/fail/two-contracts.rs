use hotpocket::prelude::*;

#[derive(Default)]
struct A;

#[derive(Default)]
struct B;

#[hotpocket::contract]
impl A {
    #[on_round_end]
    fn end(&mut self, _ctx: &mut Round) {}
}

#[hotpocket::contract]
impl B {
    #[on_round_end]
    fn end(&mut self, _ctx: &mut Round) {}
}
