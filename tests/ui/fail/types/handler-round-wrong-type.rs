#[derive(Default)]
struct C;

mod mine {
    pub struct Round;
}

#[hotpocket::contract]
impl C {
    #[on_round_end]
    fn end(&mut self, _ctx: &mut mine::Round) {}
}
