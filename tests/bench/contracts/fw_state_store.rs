//! State-scaling benchmark, the store: the same accounts as
//! `fw_state_json.rs` in a `hotpocket::store::Map`, so a round reads and
//! writes only the entries its inputs touch.

use hotpocket::prelude::*;
use hotpocket::store::Map;

/// The table name the benchmark seeds (`tests/bench/state_scale.rs`).
static BALANCES: Map<String, u64> = Map::new("balances");

#[derive(Default)]
struct Accounts;

#[derive(Deserialize)]
struct Set {
    k: String,
    v: u64,
}

#[hotpocket::contract(store)]
impl Accounts {
    #[on_input]
    fn set(&mut self, _ctx: &mut Round, user: &User, Json(s): Json<Set>) -> Result<()> {
        let old = BALANCES.get(&s.k)?;
        BALANCES.insert(&s.k, &s.v)?;
        user.send_json(&old)
    }
}
