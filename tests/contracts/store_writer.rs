//! Writes rounds of the store as fast as it can, for the kill test
//! (tests/contract/store_crash_safety.rs): round `v` sets every one of `KEYS` entries
//! and the cell `version` to `v`, then commits and prints `v` on stdout.
//! Usage: `test-store-writer <dir> <first version>`.

use hotpocket::store::{self, Cell, Map};

/// Entries per round, each with this much padding: enough pages that a
/// commit (journal, pages, fsyncs) takes a good share of the run.
const KEYS: u64 = 300;
const PAD: usize = 1500;

static ENTRIES: Map<u64, String> = Map::new("entries");
static VERSION: Cell<u64> = Cell::new("version");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().ok_or("no directory")?);
    let first: u64 = args.next().ok_or("no version")?.parse()?;
    for v in first.. {
        store::open_for_round(&dir, false, v, [7; 32])?;
        let pad = char::from(b'a' + (v % 26) as u8).to_string().repeat(PAD);
        for k in 0..KEYS {
            ENTRIES.insert(&k, &format!("{v}:{pad}"))?;
        }
        VERSION.set(&v)?;
        store::commit_round()?;
        println!("{v}");
    }
    Ok(())
}
