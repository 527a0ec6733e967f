//! Framework echo for the benchmark, written against the runtime API the way
//! `#[contract]` expands (until examples/echo.rs exists): every input goes
//! back to its user unchanged.

use hotpocket::{Contract, HandlerError, Round, User};

struct Echo;

impl Contract for Echo {
    fn load() -> hotpocket::Result<Self> {
        Ok(Echo)
    }

    fn on_input(&mut self, _: &mut Round, user: &User, input: &[u8]) -> Result<(), HandlerError> {
        user.send(input)
            .map_err(|e| HandlerError::Failed(e.to_string()))
    }
}

fn main() {
    hotpocket::run::<Echo>()
}
