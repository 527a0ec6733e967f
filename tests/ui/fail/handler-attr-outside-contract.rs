use hotpocket::prelude::*;

#[derive(Default)]
struct C;

#[allow(dead_code)]
impl C {
    #[hotpocket::on_input]
    fn input(&mut self, _ctx: &mut Round, _user: &User, _input: &[u8]) {}
}

fn main() {}
