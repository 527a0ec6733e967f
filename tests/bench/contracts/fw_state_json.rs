//! State-scaling benchmark, today's file state: a map of accounts in
//! `accounts.json`, loaded whole and saved whole every consensus round.
//! Each input `{"k":"...","v":n}` sets an account and gets its previous
//! value back (`null` if it had none).

use std::collections::BTreeMap;

use hotpocket::prelude::*;

#[derive(Default, Serialize, Deserialize)]
struct Accounts {
    balances: BTreeMap<String, u64>,
}

#[derive(Deserialize)]
struct Set {
    k: String,
    v: u64,
}

#[hotpocket::contract(state = "accounts.json")]
impl Accounts {
    #[on_input]
    fn set(&mut self, _ctx: &mut Round, user: &User, Json(s): Json<Set>) -> Result<()> {
        user.send_json(&self.balances.insert(s.k, s.v))
    }
}
