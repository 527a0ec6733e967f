//! The store against real SQLite files in scratch directories.

use std::sync::Mutex;

use super::*;
use crate::atomic::testdir::TestDir;

/// SQLite's PRNG is process-wide: tests that open rounds take turns.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

static ACCOUNTS: Map<String, u64> = Map::new("accounts");
static BY_NUMBER: Map<i64, String> = Map::new("by_number");
static COUNT: Cell<u32> = Cell::new("count");

const T0: u64 = 1_700_000_000_123;

#[test]
fn writes_are_seen_at_once_and_kept_only_when_committed() {
    let _g = lock();
    let dir = TestDir::new("store-basic");
    open_for_round(dir.path(), false, T0, [1; 32]).unwrap();
    assert_eq!(ACCOUNTS.get(&"amy".into()).unwrap(), None);
    ACCOUNTS.insert(&"zed".into(), &1).unwrap();
    ACCOUNTS.insert(&"amy".into(), &2).unwrap();
    COUNT.set(&7).unwrap();
    assert_eq!(ACCOUNTS.get(&"amy".into()).unwrap(), Some(2));
    commit_round().unwrap();
    assert_eq!(dir.entries(), [DB_FILE]);

    open_for_round(dir.path(), false, T0 + 1, [2; 32]).unwrap();
    ACCOUNTS.insert(&"bob".into(), &3).unwrap();
    assert!(ACCOUNTS.remove(&"zed".into()).unwrap());
    COUNT.set(&8).unwrap();
    end_round(); // a failed round: nothing of it stays
    assert_eq!(dir.entries(), [DB_FILE]);

    open_for_round(dir.path(), true, T0 + 2, [3; 32]).unwrap();
    let all: Vec<(String, u64)> = ACCOUNTS.iter().map(Result::unwrap).collect();
    assert_eq!(all, [("amy".to_owned(), 2), ("zed".to_owned(), 1)]);
    assert_eq!(COUNT.get().unwrap(), 7);
    commit_round().unwrap();
}

#[test]
fn read_requests_never_write() {
    let _g = lock();
    let dir = TestDir::new("store-readonly");
    // No database yet: reads see nothing and create nothing.
    open_for_round(dir.path(), true, T0, [1; 32]).unwrap();
    assert_eq!(ACCOUNTS.get(&"amy".into()).unwrap(), None);
    assert_eq!(COUNT.get().unwrap(), 0);
    assert!(ACCOUNTS.iter().next().is_none());
    let err = ACCOUNTS.insert(&"amy".into(), &1).unwrap_err();
    assert!(err.to_string().contains("read request"), "{err}");
    commit_round().unwrap();
    assert!(dir.entries().is_empty());

    open_for_round(dir.path(), false, T0, [1; 32]).unwrap();
    ACCOUNTS.insert(&"amy".into(), &1).unwrap();
    commit_round().unwrap();
    let before = std::fs::read(dir.path().join(DB_FILE)).unwrap();
    open_for_round(dir.path(), true, T0, [1; 32]).unwrap();
    assert!(ACCOUNTS.remove(&"amy".into()).is_err());
    assert!(COUNT.set(&1).is_err());
    let sql_err = sql(|c| c.execute("DELETE FROM \"map:accounts\"", [])).unwrap_err();
    assert!(sql_err.to_string().contains("readonly"), "{sql_err}");
    assert_eq!(ACCOUNTS.get(&"amy".into()).unwrap(), Some(1));
    commit_round().unwrap();
    assert_eq!(std::fs::read(dir.path().join(DB_FILE)).unwrap(), before);
    assert_eq!(dir.entries(), [DB_FILE]);
}

#[test]
fn iteration_is_in_key_order_across_pages() {
    let _g = lock();
    let dir = TestDir::new("store-iter");
    open_for_round(dir.path(), false, T0, [1; 32]).unwrap();
    // More than one page (256 rows), negative and positive keys.
    let mut want = Vec::new();
    for i in (-400i64..400).rev().step_by(3) {
        BY_NUMBER.insert(&i, &i.to_string()).unwrap();
        want.push((i, i.to_string()));
    }
    want.sort();
    let got: Vec<(i64, String)> = BY_NUMBER.iter().map(Result::unwrap).collect();
    assert_eq!(got, want);
    let from: Vec<i64> = BY_NUMBER.iter_from(&0).map(|r| r.unwrap().0).collect();
    assert_eq!(
        from,
        want.iter()
            .map(|w| w.0)
            .filter(|&k| k >= 0)
            .collect::<Vec<_>>()
    );
    assert_eq!(BY_NUMBER.len().unwrap(), want.len() as u64);
    commit_round().unwrap();
}

fn show(v: rusqlite::types::ValueRef<'_>) -> String {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        other => format!("{other:?}"),
    }
}

/// What SQL's time and randomness give in a round with `timestamp` and `seed`.
fn sql_sources(dir: &std::path::Path, timestamp: u64, seed: [u8; 32]) -> Vec<String> {
    open_for_round(dir, false, timestamp, seed).unwrap();
    let row = sql(|c| {
        c.query_row(
            "SELECT CURRENT_TIMESTAMP, CURRENT_DATE, CURRENT_TIME, datetime('now'), \
             date('now'), time('now'), strftime('%s %f', 'now'), julianday('now'), \
             unixepoch(), unixepoch('now', 'subsec'), random(), hex(randomblob(8))",
            [],
            |r| {
                (0..12)
                    .map(|i| r.get_ref(i).map(show))
                    .collect::<rusqlite::Result<Vec<String>>>()
            },
        )
    })
    .unwrap();
    commit_round().unwrap();
    row
}

#[test]
fn sql_time_is_the_rounds_and_randomness_the_seeds() {
    let _g = lock();
    let dir = TestDir::new("store-sources");
    let a = sql_sources(dir.path(), T0, [5; 32]);
    assert_eq!(
        &a[..10],
        [
            "2023-11-14 22:13:20",
            "2023-11-14",
            "22:13:20",
            "2023-11-14 22:13:20",
            "2023-11-14",
            "22:13:20",
            "1700000000 20.123",
            "2460263.4259273494",
            "1700000000",
            "1700000000.123",
        ]
    );
    // The same seed on the same database gives the same numbers (the
    // journal's nonce draws from the same generator, so the database's
    // history counts too); another seed gives others.
    let twin = TestDir::new("store-sources-twin");
    assert_eq!(sql_sources(twin.path(), T0 + 999, [5; 32])[10..], a[10..]);
    let other = TestDir::new("store-sources-other");
    assert_ne!(sql_sources(other.path(), T0, [6; 32])[10..], a[10..]);
    let again = sql_sources(dir.path(), T0, [5; 32]);
    assert_eq!(sql_sources(twin.path(), T0, [5; 32]), again);
}

#[test]
fn equal_rounds_give_equal_bytes() {
    let _g = lock();
    let nodes = [TestDir::new("store-node-a"), TestDir::new("store-node-b")];
    let mut files = Vec::new();
    for node in &nodes {
        for round in 0..5u64 {
            open_for_round(node.path(), false, T0 + round * 1000, [round as u8; 32]).unwrap();
            for i in 0..50u64 {
                ACCOUNTS
                    .insert(&format!("user{}", (i * 7 + round) % 40), &(i * round))
                    .unwrap();
            }
            ACCOUNTS.remove(&format!("user{round}")).unwrap();
            sql(|c| {
                c.execute_batch(
                    "CREATE TABLE IF NOT EXISTS log (at TEXT, r INTEGER); \
                     INSERT INTO log VALUES (CURRENT_TIMESTAMP, random());",
                )
            })
            .unwrap();
            commit_round().unwrap();
        }
        files.push(std::fs::read(node.path().join(DB_FILE)).unwrap());
    }
    assert_eq!(files[0], files[1]);
}

#[test]
fn bad_names_are_reported() {
    let _g = lock();
    let dir = TestDir::new("store-names");
    open_for_round(dir.path(), false, T0, [1; 32]).unwrap();
    let bad: Map<u32, u32> = Map::new("no spaces");
    let err = bad.insert(&1, &1).unwrap_err();
    assert!(err.to_string().contains("\"no spaces\""), "{err}");
    end_round();
    let outside = ACCOUNTS.get(&"x".into()).unwrap_err();
    assert!(outside.to_string().contains("outside a round"), "{outside}");
}
