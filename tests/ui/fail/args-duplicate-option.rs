use hotpocket::prelude::*;

#[derive(Default, Serialize, Deserialize)]
struct C;

#[hotpocket::contract(state = "a.json", state = "b.json")]
impl C {
    #[on_round_end]
    fn end(&mut self, _ctx: &mut Round) {}
}
