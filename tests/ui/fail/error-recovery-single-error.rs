//! One bad handler gives one error: the block is still emitted (so its
//! methods exist for other code), the `#[on_*]` attributes are gone (no
//! "cannot find attribute"), and there is a `main`.

use hotpocket::prelude::*;

#[derive(Default)]
struct Counter {
    total: i64,
}

#[hotpocket::contract]
impl Counter {
    #[on_input]
    fn add(self, _ctx: &mut Round, _user: &User, Json(n): Json<i64>) -> Result<()> {
        let _ = self.total + n;
        Ok(())
    }

    #[on_round_end]
    fn end(&mut self, _ctx: &mut Round) {}

    fn total(&self) -> i64 {
        self.total
    }
}

#[allow(dead_code)]
fn report(counter: &Counter) -> i64 {
    counter.total()
}
