use hotpocket::prelude::*;

#[derive(Default)]
struct C;

#[hotpocket::contract(state = 5, npl_timeout_ms = "500", crate = hotpocket)]
impl C {
    #[on_npl]
    fn npl(&mut self, _ctx: &mut Round, _from: &Node, _msg: &[u8]) -> bool {
        true
    }
}
