//! Framework NPL exchange for the benchmark, written the way contract authors
//! write it (`#[hotpocket::contract]`): at round start send `NPL_COUNT`
//! messages of `NPL_SIZE` bytes; the NPL phase ends once `NPL_COUNT` arrived
//! from every UNL node (this node included), or after 10 s.

use hotpocket::prelude::*;

#[derive(Default)]
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

#[hotpocket::contract(npl_timeout_ms = 10000)]
impl Exchange {
    #[on_round_start]
    fn start(&mut self, ctx: &mut Round) -> Result<()> {
        let count = env("NPL_COUNT", 1000);
        let msg = vec![b'n'; env("NPL_SIZE", 256)];
        self.want = count * ctx.unl().len();
        for _ in 0..count {
            ctx.npl_send(&msg)?;
        }
        Ok(())
    }

    #[on_npl]
    fn npl(&mut self, _ctx: &mut Round, _from: &Node, _msg: &[u8]) -> Npl {
        self.got += 1;
        if self.got >= self.want {
            Npl::Done
        } else {
            Npl::Continue
        }
    }

    #[on_round_end]
    fn end(&mut self, _ctx: &mut Round) {
        if self.got < self.want {
            eprintln!("npl: heard {} of {}", self.got, self.want);
        }
    }
}
