use hotpocket::prelude::*;

struct Echo;

#[hotpocket::contract]
impl Echo {
    #[on_input]
    fn input(&mut self, _ctx: &mut Round, user: &User, input: &[u8]) -> Result<()> {
        user.send(input)
    }
}
