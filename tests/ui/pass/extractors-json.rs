//! `Json<T>` inputs, destructured in the signature or not.

mod contract {
    use hotpocket::prelude::*;

    #[derive(Default)]
    pub struct Bank {
        pub balance: i64,
    }

    #[derive(Deserialize)]
    pub enum Cmd {
        Deposit(i64),
        Withdraw(i64),
    }

    #[derive(Deserialize)]
    pub struct Query {
        pub currency: String,
    }

    #[hotpocket::contract]
    impl Bank {
        #[on_input]
        fn command(&mut self, _ctx: &mut Round, user: &User, Json(cmd): Json<Cmd>) -> Result<()> {
            match cmd {
                Cmd::Deposit(n) => self.balance += n,
                Cmd::Withdraw(n) => self.balance -= n,
            }
            user.send_json(&self.balance)
        }

        #[on_read_request]
        fn query(&self, _ctx: &mut Round, user: &User, query: Json<Query>) -> Result<()> {
            user.send(format!("{} {}", self.balance, query.0.currency))
        }
    }
}

use hotpocket::testing::TestRound;

fn main() {
    let mut bank = contract::Bank::default();
    let out = TestRound::new()
        .input("alice", r#"{"Deposit":10}"#)
        .input("alice", r#"{"Withdraw":3}"#)
        .run(&mut bank);
    assert_eq!(out.outputs("alice"), ["10", "7"]);
    let out = TestRound::read_request()
        .input("bob", r#"{"currency":"EVR"}"#)
        .run(&mut bank);
    assert_eq!(out.outputs("bob"), ["7 EVR"]);
}
