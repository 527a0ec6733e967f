use hotpocket::prelude::*;

#[derive(Default)]
struct C;

#[hotpocket::contract]
impl C {
    #[on_round_end]
    fn end(&mut self, __hotpocket_round: &mut Round) {
        let _ = __hotpocket_round;
    }
}
