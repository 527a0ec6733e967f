//! Framework echo for the benchmark, written the way contract authors write
//! it (`#[hotpocket::contract]`): every input goes back to its user unchanged.

use hotpocket::prelude::*;

#[derive(Default)]
struct Echo;

#[hotpocket::contract]
impl Echo {
    #[on_input]
    fn echo(&mut self, _ctx: &mut Round, user: &User, input: &[u8]) -> Result<()> {
        user.send(input)
    }
}
