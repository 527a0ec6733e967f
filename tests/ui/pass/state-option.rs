//! `state = "file"`: the contract type is loaded from and saved to that file.

mod contract {
    use hotpocket::prelude::*;

    #[derive(Default, Serialize, Deserialize)]
    pub struct Counter {
        pub total: i64,
    }

    #[hotpocket::contract(state = "counter.json")]
    impl Counter {
        #[on_input]
        fn add(&mut self, _ctx: &mut Round, _user: &User, Json(n): Json<i64>) {
            self.total += n;
        }
    }
}

use hotpocket::__private::Contract;

fn main() {
    assert_eq!(
        <contract::Counter as Contract>::STATE_FILE,
        Some("counter.json")
    );
    assert_eq!(<contract::Counter as Contract>::NPL_TIMEOUT_MS, None);
    // Run in an empty directory: no state file yet means `Default`.
    let dir = std::env::temp_dir().join(format!("hotpocket-ui-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::env::set_current_dir(&dir).unwrap();
    let mut counter = <contract::Counter as Contract>::load().unwrap();
    assert_eq!(counter.total, 0);
    counter.total = 7;
    counter.save().unwrap();
    assert_eq!(<contract::Counter as Contract>::load().unwrap().total, 7);
    std::fs::remove_dir_all(&dir).unwrap();
}
