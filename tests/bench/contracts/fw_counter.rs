//! Framework counter for the benchmark, written the way contract authors
//! write it (`#[hotpocket::contract]`): `Json<Cmd>` input, `send_json` of the
//! total, state persisted in `counter.json`.

use hotpocket::prelude::*;

#[derive(Default, Serialize, Deserialize)]
struct Counter {
    total: i64,
}

#[derive(Deserialize)]
enum Cmd {
    Add(i64),
    Get,
}

#[hotpocket::contract(state = "counter.json")]
impl Counter {
    #[on_input]
    fn command(&mut self, _ctx: &mut Round, user: &User, Json(cmd): Json<Cmd>) -> Result<()> {
        if let Cmd::Add(n) = cmd {
            self.total = self.total.wrapping_add(n);
        }
        user.send_json(&self.total)
    }
}
