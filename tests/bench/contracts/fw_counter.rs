//! Framework counter for the benchmark, written against the runtime API the
//! way `#[contract]` expands (until examples/counter.rs exists): `Json<Cmd>`
//! input, `send_json` of the total, state persisted in `counter.json`.

use hotpocket::{Contract, FromInput, HandlerError, Json, Round, User};
use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
struct Counter {
    total: i64,
}

#[derive(Deserialize)]
enum Cmd {
    Add(i64),
    Get,
}

const STATE: &str = "counter.json";

impl Contract for Counter {
    const STATE_FILE: Option<&'static str> = Some(STATE);

    fn load() -> hotpocket::Result<Self> {
        hotpocket::state::load_state(STATE)
    }

    fn save(&self) -> hotpocket::Result<()> {
        hotpocket::state::save_state(self, STATE)
    }

    fn on_input(&mut self, _: &mut Round, user: &User, input: &[u8]) -> Result<(), HandlerError> {
        let Json(cmd) = Json::<Cmd>::from_input(input).map_err(HandlerError::extract)?;
        if let Cmd::Add(n) = cmd {
            self.total = self.total.wrapping_add(n);
        }
        user.send_json(&self.total)
            .map_err(|e| HandlerError::Failed(e.to_string()))
    }
}

fn main() {
    hotpocket::run::<Counter>()
}
