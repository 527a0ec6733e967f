//! `store`: state in `hotpocket::store` collections; the contract type holds
//! only the round's view, so it needs no serde derives, and the handlers
//! return the store's `Result`.

mod contract {
    use hotpocket::prelude::*;
    use hotpocket::store::{Cell, Map};

    pub static SEEN: Map<String, u64> = Map::new("seen");
    pub static ROUNDS: Cell<u64> = Cell::new("rounds");

    #[derive(Default)]
    pub struct Tally;

    #[hotpocket::contract(store)]
    impl Tally {
        #[on_round_start]
        fn count_round(&mut self, _ctx: &mut Round) -> Result<()> {
            ROUNDS.set(&(ROUNDS.get()? + 1))
        }

        #[on_input]
        fn record(&mut self, _ctx: &mut Round, user: &User, _input: &[u8]) -> Result<()> {
            let key = user.public_key().to_owned();
            let n = SEEN.get(&key)?.unwrap_or(0) + 1;
            SEEN.insert(&key, &n)?;
            user.send_json(&n)
        }

        #[on_read_request]
        fn query(&self, _ctx: &mut Round, user: &User, _input: &[u8]) -> Result<()> {
            user.send_json(&SEEN.get(&user.public_key().to_owned())?)
        }
    }
}

use hotpocket::__private::Contract;

fn main() {
    assert!(<contract::Tally as Contract>::USES_STORE);
    assert!(<contract::Tally as Contract>::SAVES_STATE);
    assert_eq!(<contract::Tally as Contract>::STATE_FILE, None);
    assert!(<contract::Tally as Contract>::HAS_READ_REQUEST);
    // The collections work in a round the test opens itself.
    let dir = std::env::temp_dir().join(format!("hotpocket-ui-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    hotpocket::store::open_for_round(&dir, false, 1, [3; 32]).unwrap();
    contract::ROUNDS.set(&4).unwrap();
    hotpocket::store::commit_round().unwrap();
    hotpocket::store::open_for_round(&dir, true, 2, [3; 32]).unwrap();
    assert_eq!(contract::ROUNDS.get().unwrap(), 4);
    std::fs::remove_dir_all(&dir).unwrap();
}
