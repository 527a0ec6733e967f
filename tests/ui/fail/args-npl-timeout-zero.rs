use hotpocket::prelude::*;

#[derive(Default)]
struct C;

#[hotpocket::contract(npl_timeout_ms = 0)]
impl C {
    #[on_npl]
    fn npl(&mut self, _ctx: &mut Round, _from: &Node, _msg: &[u8]) -> bool {
        true
    }
}
