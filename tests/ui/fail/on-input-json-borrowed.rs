use hotpocket::prelude::*;

#[derive(Default)]
struct C;

#[derive(Deserialize)]
struct Cmd<'a> {
    name: &'a str,
}

#[hotpocket::contract]
impl C {
    #[on_input]
    fn input(&mut self, _ctx: &mut Round, _user: &User, Json(cmd): Json<Cmd<'_>>) {
        let _ = cmd.name;
    }
}
