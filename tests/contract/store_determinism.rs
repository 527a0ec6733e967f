//! hotpocket::store on 3 simulated nodes × 100 rounds of random operations
//! (inserts, updates, deletes, reads, scans, SQL with `random()`,
//! `randomblob()`, `CURRENT_TIMESTAMP` and `julianday('now')`): every round
//! the nodes agree on every output and on the state hash, and the state
//! changes exactly in the rounds that write.

use hotpocket::sim::Cluster;

const BIN: &str = env!("CARGO_BIN_EXE_test-store-ops");

/// xorshift64*: the test's operations are the same on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

fn random_op(rng: &mut Rng) -> String {
    let key = rng.below(40);
    match rng.below(6) {
        0 | 1 => format!(
            r#"{{"put":{{"key":{key},"value":"v{}"}}}}"#,
            rng.below(1000)
        ),
        2 => format!(r#"{{"del":{{"key":{key}}}}}"#),
        3 => format!(r#"{{"get":{{"key":{key}}}}}"#),
        4 => format!(r#"{{"log":{{"text":"t{}"}}}}"#, rng.below(1000)),
        _ => format!(r#"{{"scan":{{"from":{key},"limit":5}}}}"#),
    }
}

#[test]
fn three_nodes_agree_on_every_round_of_random_store_operations() {
    let mut c = Cluster::builder(BIN)
        .nodes(3)
        .user("alice")
        .user("bob")
        .build()
        .unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut hashes = Vec::new();
    let mut logs = Vec::new();
    for round in 0..100 {
        let mut inputs = 0;
        for user in ["alice", "bob"] {
            for _ in 0..rng.below(4) {
                c.input(user, random_op(&mut rng));
                inputs += 1;
            }
        }
        let r = c.round().unwrap();
        r.assert_agree().assert_success();
        let hash = r.state_hash().map(str::to_owned);
        assert!(hash.is_some(), "round {round}: no state hash");
        // Every input counts in the `ops` cell, so a round with inputs changes the state.
        if inputs > 0 {
            assert_ne!(hashes.last(), Some(&hash), "round {round} wrote nothing");
        } else if let Some(last) = hashes.last() {
            assert_eq!(
                last, &hash,
                "round {round} had no inputs but changed the state"
            );
        }
        hashes.push(hash);
        logs.extend(
            r.nodes[0]
                .outputs
                .iter()
                .flat_map(|u| &u.messages)
                .map(|m| String::from_utf8_lossy(m).into_owned())
                .filter(|o| o.starts_with("log ")),
        );
    }
    // SQL's randomness changes from round to round (the lcl changes).
    let randoms: std::collections::BTreeSet<&str> =
        logs.iter().filter_map(|l| l.split(' ').nth(4)).collect();
    assert!(logs.len() > 20 && randoms.len() == logs.len(), "{logs:#?}");
    let dir = c.state_dir(0);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["state.sqlite"]);
}
