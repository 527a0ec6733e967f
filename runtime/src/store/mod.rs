//! Scalable contract state (feature `store`): typed collections ([`Map`],
//! [`Cell`]) and SQL ([`sql`]) on one SQLite database, [`DB_FILE`] in the
//! working directory (the engine's `/state`).
//!
//! Cost follows the round's work: entries are read when asked for, and a
//! consensus round writes only the pages its changes touched, in one SQLite
//! transaction that the runtime commits after the last handler. A read
//! request opens the database read-only and never writes. On 1M entries a
//! 1-change round costs what it costs on an empty state, with the same peak
//! memory, and writes about 8 KiB per change (BENCHMARKS.md, "State
//! scaling"). `Map` and `Cell` sit on the same database as [`sql`] rather
//! than on files of their own: one journal commits a round's changes to every
//! collection and table at once, crash-safe and byte-identical on every
//! node, which files of their own would have to rebuild (BENCHMARKS.md says
//! why in full).
//!
//! **Crash safety**: SQLite's rollback journal (`journal_mode=DELETE`,
//! `synchronous=FULL`). A process killed mid-commit leaves a hot journal
//! holding the old pages; the next consensus round opens the database before
//! any handler runs, and SQLite puts the old pages back. The journal exists
//! only during a commit (it is deleted at its end), so a finished round leaves
//! the database file alone in the state directory.
//!
//! **Identical bytes on every node**: SQLite's only time and entropy sources
//! are its VFS, and the store's VFS gives the round's timestamp and the
//! lcl-seeded bytes (see `vfs.rs`): `CURRENT_TIMESTAMP`, every `'now'`,
//! `random()`, `randomblob()` and even the journal's nonce are the same on
//! every node. There is no file locking (the engine runs one writer, and hpfs
//! is FUSE).
//!
//! ```
//! use hotpocket::store::{Cell, Map};
//! static BALANCES: Map<String, u64> = Map::new("balances");
//! static ROUNDS: Cell<u64> = Cell::new("rounds");
//! # let dir = std::env::temp_dir().join(format!("hp-store-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! # hotpocket::store::open_for_round(&dir, false, 0, [1; 32]).unwrap();
//! BALANCES.insert(&"alice".to_owned(), &10)?;
//! ROUNDS.set(&(ROUNDS.get()? + 1))?;
//! assert_eq!(BALANCES.get(&"alice".to_owned())?, Some(10));
//! # hotpocket::store::commit_round().unwrap();
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), hotpocket::Error>(())
//! ```

mod collections;
mod key;
mod session;
mod vfs;

pub use collections::{Cell, Iter, Map};
pub use key::Key;
/// The SQLite bindings [`sql`] hands out, re-exported so contracts use the
/// same version.
pub use rusqlite;
pub use session::{DB_FILE, atomically, commit_round, open_for_round, sql};
pub(crate) use session::{begin_engine_round, end_round};

#[cfg(test)]
mod tests;
