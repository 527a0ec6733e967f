//! A counter written against the hotpocket runtime by hand (the `Contract`
//! trait, as `#[contract]` would generate it): inputs are numbers to add; each
//! user gets the new total; read requests answer with the total. With the
//! runtime's `run`, it gets dev mode: run it from a terminal or with `--dev`.

use hotpocket::{Contract, HandlerError, Round, User};
use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
struct Counter {
    total: i64,
}

const STATE: &str = "counter.json";

impl Contract for Counter {
    const STATE_FILE: Option<&'static str> = Some(STATE);
    const HAS_READ_REQUEST: bool = true;

    fn load() -> hotpocket::Result<Self> {
        hotpocket::state::load_state(STATE)
    }

    fn save(&self) -> hotpocket::Result<()> {
        hotpocket::state::save_state(self, STATE)
    }

    fn on_input(
        &mut self,
        _round: &mut Round,
        user: &User,
        input: &[u8],
    ) -> Result<(), HandlerError> {
        let text = String::from_utf8_lossy(input);
        let n: i64 = text
            .trim()
            .parse()
            .map_err(|_| HandlerError::Failed(format!("not a number: {text:?}")))?;
        self.total += n;
        user.send(self.total.to_string())
            .map_err(|e| HandlerError::Failed(e.to_string()))
    }

    fn on_read_request(
        &mut self,
        _round: &mut Round,
        user: &User,
        _input: &[u8],
    ) -> Result<(), HandlerError> {
        user.send(format!("total {}", self.total))
            .map_err(|e| HandlerError::Failed(e.to_string()))
    }
}

fn main() {
    hotpocket::run::<Counter>()
}
