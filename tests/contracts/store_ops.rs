//! Test contract for the store: random map operations and SQL with
//! `random()` and `CURRENT_TIMESTAMP` (tests/contract/store_determinism.rs). Every
//! input gets one reply saying what it did, so the nodes' outputs show any
//! difference in what they read.

use hotpocket::prelude::*;
use hotpocket::store::{self, Cell, Map};

static ENTRIES: Map<u64, String> = Map::new("entries");
static OPS: Cell<u64> = Cell::new("ops");

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Op {
    Put { key: u64, value: String },
    Del { key: u64 },
    Get { key: u64 },
    Log { text: String },
    Scan { from: u64, limit: usize },
}

#[derive(Default)]
struct Ops;

fn apply(op: Op) -> Result<String> {
    OPS.set(&(OPS.get()? + 1))?;
    Ok(match op {
        Op::Put { key, value } => {
            ENTRIES.insert(&key, &value)?;
            format!("put {key}")
        }
        Op::Del { key } => format!("del {key} {}", ENTRIES.remove(&key)?),
        Op::Get { key } => format!("get {key} {:?}", ENTRIES.get(&key)?),
        Op::Log { text } => store::sql(|c| {
            c.execute_batch(
                "CREATE TABLE IF NOT EXISTS log (id INTEGER PRIMARY KEY, at TEXT, r INTEGER, \
                 blob BLOB, text TEXT)",
            )?;
            c.execute(
                "INSERT INTO log (at, r, blob, text) VALUES \
                 (CURRENT_TIMESTAMP, random(), randomblob(16), ?1)",
                [&text],
            )?;
            c.query_row(
                "SELECT id, at, r, hex(blob), julianday('now') FROM log ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    Ok(format!(
                        "log {} {} {} {} {}",
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, f64>(4)?
                    ))
                },
            )
        })?,
        Op::Scan { from, limit } => {
            let keys: Vec<u64> = ENTRIES
                .iter_from(&from)
                .take(limit)
                .map(|e| e.map(|(k, _)| k))
                .collect::<Result<_>>()?;
            format!("scan {keys:?}")
        }
    })
}

#[hotpocket::contract(store)]
impl Ops {
    #[on_input]
    fn input(&mut self, _ctx: &mut Round, user: &User, Json(op): Json<Op>) -> Result<()> {
        let reply = store::atomically(|| apply(op))?;
        user.send(reply)
    }
}
