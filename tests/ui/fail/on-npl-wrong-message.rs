use hotpocket::prelude::*;

#[derive(Default)]
struct C;

#[hotpocket::contract]
impl C {
    #[on_npl]
    fn npl(&mut self, _ctx: &mut Round, _from: &Node, _msg: Vec<u8>) -> bool {
        true
    }
}
