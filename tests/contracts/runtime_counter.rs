//! A counter written against the hotpocket runtime by hand (the `Contract`
//! trait, as `#[contract]` would generate it): inputs are numbers to add; each
//! user gets the new total; read requests answer with the total. An input
//! `roundtime=<ms>` changes `consensus.roundtime` in patch.cfg through the
//! runtime instead; `env=<KEY>` answers with the contract's environment
//! variable `KEY` as `Round::env` sees it (`<unset>` when it is not set). With the runtime's `run`, it gets dev mode: run it from a
//! terminal or with `--dev`.

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
        round: &mut Round,
        user: &User,
        input: &[u8],
    ) -> Result<(), HandlerError> {
        let text = String::from_utf8_lossy(input);
        if let Some(key) = text.strip_prefix("env=") {
            return user
                .send(round.env(key).unwrap_or("<unset>"))
                .map_err(|e| HandlerError::Failed(e.to_string()));
        }
        if let Some(ms) = text.strip_prefix("roundtime=") {
            let failed = |e: hotpocket::Error| HandlerError::Failed(e.to_string());
            let mut cfg = round.patch_config().map_err(failed)?;
            cfg.consensus.roundtime = ms
                .parse()
                .map_err(|_| HandlerError::Failed(format!("not a round time: {ms:?}")))?;
            round.update_patch_config(&cfg).map_err(failed)?;
            return user
                .send("patched")
                .map_err(|e| HandlerError::Failed(e.to_string()));
        }
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
