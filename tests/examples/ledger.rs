//! examples/ledger.rs on a simulated 3-node cluster: minting by the users the
//! config lists, transfers, balances, every kind of typed error, errors that
//! change nothing, the state in the store's database, and read requests.

use hotpocket::sim::{Cluster, RoundReport};

use crate::cargo_example;

fn error(kind: &str) -> String {
    format!(r#"{{"error":{{"kind":"{kind}"}}}}"#)
}

/// The ledger's store as lines: `balances <key> <balance>`, `supply <n>`.
fn stored(dir: &std::path::Path) -> Vec<String> {
    use hotpocket::store::rusqlite::{Connection, OpenFlags};
    let db = Connection::open_with_flags(
        dir.join(hotpocket::store::DB_FILE),
        OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut lines = Vec::new();
    let mut rows = db
        .prepare("SELECT k, v FROM \"map:balances\" ORDER BY k")
        .unwrap();
    let balances = rows
        .query_map([], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
        })
        .unwrap();
    for row in balances {
        let (k, v) = row.unwrap();
        lines.push(format!(
            "balances {} {}",
            String::from_utf8(k).unwrap(),
            String::from_utf8(v).unwrap()
        ));
    }
    let supply: Vec<u8> = db
        .query_row("SELECT v FROM cells WHERE k = 'supply'", [], |r| r.get(0))
        .unwrap();
    lines.push(format!("supply {}", String::from_utf8(supply).unwrap()));
    lines
}

fn all_say(r: &RoundReport, user: &str, expected: &[String]) {
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    r.assert_agree()
        .assert_success()
        .assert_outputs(user, &expected);
}

#[test]
fn mints_transfers_and_refuses_bad_commands_with_typed_errors() {
    let c = Cluster::builder(cargo_example("ledger").unwrap())
        .nodes(3)
        .user("alice")
        .user("zed")
        .user("amy");
    let alice = c.user_public_key("alice");
    let zed = c.user_public_key("zed");
    let amy = c.user_public_key("amy");
    // The engine's order (by key): alice, amy, zed.
    assert!(alice < amy && amy < zed);
    let mut c = c
        .env("LEDGER_MINTERS", &format!("{alice}, not-a-key"))
        .build()
        .unwrap();

    let transfer =
        |to: &str, amount: &str| format!(r#"{{"transfer":{{"to":"{to}","amount":{amount}}}}}"#);
    let mint = |to: &str, amount: &str| format!(r#"{{"mint":{{"to":"{to}","amount":{amount}}}}}"#);

    // Round 1: accounts open; alice mints; zed's account does not exist yet
    // when alice's inputs run.
    c.input("alice", r#""open""#)
        .input("alice", mint(&alice, "100"))
        .input("alice", transfer(&zed, "40"))
        .input("zed", r#""open""#);
    let r1 = c.round().unwrap();
    all_say(
        &r1,
        "alice",
        &[
            format!(r#"{{"opened":{{"account":"{alice}","balance":0}}}}"#),
            format!(r#"{{"minted":{{"to":"{alice}","amount":100,"balance":100,"supply":100}}}}"#),
            format!(r#"{{"error":{{"kind":"unknown_account","account":"{zed}"}}}}"#),
        ],
    );
    all_say(
        &r1,
        "zed",
        &[format!(r#"{{"opened":{{"account":"{zed}","balance":0}}}}"#)],
    );
    all_say(&r1, "amy", &[]);
    for node in &r1.nodes {
        assert_eq!(
            String::from_utf8_lossy(&node.stderr),
            "ledger: LEDGER_MINTERS entry \"not-a-key\" is not a public key; ignored\n"
        );
    }

    // Round 2: a transfer, then one of every error.
    c.input("alice", transfer(&zed, "40"))
        .input("alice", transfer(&zed, "-5"))
        .input("alice", transfer(&zed, "0"))
        .input("alice", transfer(&zed, "1000"))
        .input("alice", transfer(&zed, "18446744073709551616"))
        .input("alice", transfer(&amy, "1"))
        .input("alice", mint(&zed, &u64::MAX.to_string()))
        .input("alice", "not json")
        .input("alice", r#"{"burn":{"amount":1}}"#)
        .input(
            "alice",
            format!(r#"{{"transfer":{{"to":"{zed}","amount":1,"memo":"hi"}}}}"#),
        )
        .input("alice", transfer(&zed, "1.5"))
        .input("amy", r#""balance""#)
        .input("amy", mint(&amy, "5"))
        .input("zed", r#""balance""#)
        .input("zed", transfer(&alice, "41"))
        .input(
            "zed",
            transfer(&zed.to_uppercase().replacen("ED", "ed", 1), "10"),
        );
    let r2 = c.round().unwrap();
    all_say(
        &r2,
        "alice",
        &[
            format!(r#"{{"transferred":{{"to":"{zed}","amount":40,"balance":60}}}}"#),
            r#"{"error":{"kind":"negative_amount","amount":-5}}"#.to_owned(),
            error("zero_amount"),
            r#"{"error":{"kind":"insufficient_funds","balance":60,"amount":1000}}"#.to_owned(),
            r#"{"error":{"kind":"amount_too_large","amount":18446744073709551616,"max":18446744073709551615}}"#.to_owned(),
            format!(r#"{{"error":{{"kind":"unknown_account","account":"{amy}"}}}}"#),
            r#"{"error":{"kind":"overflow","supply":100,"amount":18446744073709551615}}"#.to_owned(),
            r#"{"error":{"kind":"bad_command","reason":"expected value at line 1 column 1"}}"#.to_owned(),
            r#"{"error":{"kind":"bad_command","reason":"unknown variant `burn`, expected one of `open`, `mint`, `transfer`, `balance` at line 1 column 7"}}"#.to_owned(),
            r#"{"error":{"kind":"bad_command","reason":"unknown field `memo`, expected `to` or `amount` at line 1 column 104"}}"#.to_owned(),
            r#"{"error":{"kind":"bad_command","reason":"expected `,` or `}` at line 1 column 98"}}"#.to_owned(),
        ],
    );
    all_say(
        &r2,
        "amy",
        &[
            format!(r#"{{"error":{{"kind":"unknown_account","account":"{amy}"}}}}"#),
            error("not_a_minter"),
        ],
    );
    all_say(
        &r2,
        "zed",
        &[
            format!(r#"{{"balance":{{"account":"{zed}","balance":40}}}}"#),
            r#"{"error":{"kind":"insufficient_funds","balance":40,"amount":41}}"#.to_owned(),
            // A transfer to oneself (the key in capitals) changes nothing.
            format!(r#"{{"transferred":{{"to":"{zed}","amount":10,"balance":40}}}}"#),
        ],
    );
    let dir = c.state_dir(1);
    let saved = vec![
        format!("balances {alice} 60"),
        format!("balances {zed} 40"),
        "supply 100".to_owned(),
    ];
    assert_eq!(stored(&dir), saved);
    // The database alone: no journal or temp file is left after a round.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("state.sqlite") || n.starts_with('.'))
        .collect();
    names.sort();
    assert_eq!(names, ["state.sqlite"]);

    // Round 3: nothing but refused commands leaves the state as it was.
    c.input("zed", transfer(&alice, "1000"))
        .input("zed", mint(&zed, "1"))
        .input("amy", transfer(&alice, "1"));
    let r3 = c.round().unwrap();
    r3.assert_agree();
    assert_eq!(r3.state_hash(), r2.state_hash());
    assert_eq!(stored(&dir), saved);

    // Read requests answer balances only, and change nothing.
    let read = c.read("zed", r#""balance""#).unwrap();
    all_say(
        &read,
        "zed",
        &[format!(
            r#"{{"balance":{{"account":"{zed}","balance":40}}}}"#
        )],
    );
    let read = c.read("zed", transfer(&alice, "1")).unwrap();
    all_say(&read, "zed", &[error("read_only")]);
    let read = c.read("amy", r#""balance""#).unwrap();
    all_say(
        &read,
        "amy",
        &[format!(
            r#"{{"error":{{"kind":"unknown_account","account":"{amy}"}}}}"#
        )],
    );
    let r4 = c.round().unwrap();
    r4.assert_agree();
    assert_eq!(r4.state_hash(), r2.state_hash());
}
