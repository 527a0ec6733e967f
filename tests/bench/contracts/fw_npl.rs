//! Framework NPL exchange for the benchmark: at round start send `NPL_COUNT`
//! messages of `NPL_SIZE` bytes; the NPL phase ends once `NPL_COUNT` arrived
//! from every UNL node (this node included), or after 10 s.

use hotpocket::{Contract, HandlerError, Node, Npl, Round};

struct Exchange {
    want: usize,
    got: usize,
}

fn env(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

impl Contract for Exchange {
    const HAS_NPL: bool = true;
    const NPL_TIMEOUT_MS: Option<u64> = Some(10_000);

    fn load() -> hotpocket::Result<Self> {
        Ok(Exchange { want: 0, got: 0 })
    }

    fn on_round_start(&mut self, round: &mut Round) -> Result<(), HandlerError> {
        let count = env("NPL_COUNT", 1000);
        let msg = vec![b'n'; env("NPL_SIZE", 256)];
        self.want = count * round.unl().len();
        for _ in 0..count {
            round
                .npl_send(&msg)
                .map_err(|e| HandlerError::Failed(e.to_string()))?;
        }
        Ok(())
    }

    fn on_npl(&mut self, _: &mut Round, _: &Node, _: &[u8]) -> Result<Npl, HandlerError> {
        self.got += 1;
        Ok(if self.got >= self.want {
            Npl::Done
        } else {
            Npl::Continue
        })
    }

    fn on_round_end(&mut self, _: &mut Round) -> Result<(), HandlerError> {
        if self.got < self.want {
            eprintln!("npl: heard {} of {}", self.got, self.want);
        }
        Ok(())
    }
}

fn main() {
    hotpocket::run::<Exchange>()
}
