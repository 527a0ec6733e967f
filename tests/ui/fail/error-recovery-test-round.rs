//! A rejected block still implements `Contract` (a stub that is never run),
//! so a same-crate test that runs it through `TestRound` adds no second,
//! follow-on "trait `Contract` is not implemented" error.

use hotpocket::prelude::*;
use hotpocket::testing::TestRound;

#[derive(Default)]
struct Counter {
    total: i64,
}

#[hotpocket::contract]
impl Counter {
    #[on_input]
    fn add(&mut self, _ctx: &mut Round, Json(n): Json<i64>) -> Result<()> {
        self.total += n;
        Ok(())
    }
}

#[allow(dead_code)]
fn counts() {
    let mut counter = Counter::default();
    let _ = TestRound::new().input("alice", "5").run(&mut counter);
}
