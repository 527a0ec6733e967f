//! The round's database connection: opened on first use (or at round start
//! when a crashed commit must be recovered), committed once after the
//! handlers, dropped at the end of the round.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::vfs;
use crate::error::{Error, Result};

/// The database file, in the working directory (the engine's state dir).
pub const DB_FILE: &str = "state.sqlite";

/// What this thread's round is, and its connection once opened.
pub(crate) struct Session {
    dir: PathBuf,
    read_only: bool,
    conn: Option<Connection>,
    /// Tables known to exist, so reads of a never-written map skip SQL errors.
    tables: BTreeSet<String>,
    /// Set when SQLite rolled the round's transaction back by itself (an I/O
    /// error while writing): the round can no longer commit, and every later
    /// store call fails instead of running outside the transaction.
    broken: Option<String>,
}

thread_local! {
    static CURRENT: RefCell<Option<Session>> = const { RefCell::new(None) };
}

pub(crate) fn store_error(message: impl Into<String>) -> Error {
    Error::State {
        file: DB_FILE.to_owned(),
        message: message.into(),
    }
}

pub(crate) fn sql_error(e: rusqlite::Error) -> Error {
    store_error(format!("SQLite: {e}"))
}

/// Starts a round of the store in `dir`: `read_only` for read requests,
/// the round's timestamp (unix ms) and a 32-byte seed for SQL's `random()`.
/// A consensus round recovers a crashed commit here, before any handler.
///
/// The runtime calls this itself; it is public for tests and tools that use
/// the store outside a contract run.
pub fn open_for_round(
    dir: &Path,
    read_only: bool,
    timestamp_ms: u64,
    seed: [u8; 32],
) -> Result<()> {
    vfs::register().map_err(store_error)?;
    vfs::set_round(i64::try_from(timestamp_ms).unwrap_or(i64::MAX), seed);
    let session = Session {
        dir: dir.to_owned(),
        read_only,
        conn: None,
        tables: BTreeSet::new(),
        broken: None,
    };
    let journal = dir.join(format!("{DB_FILE}-journal"));
    if !read_only && journal.exists() {
        recover(&session, &journal)?;
    }
    CURRENT.with(|c| *c.borrow_mut() = Some(session));
    Ok(())
}

/// Rolls a crashed commit back before any handler runs. Starting the
/// transaction makes SQLite roll a hot journal back. A journal SQLite does
/// not count as hot (killed before its header was complete: its first byte
/// is zero) is never used by SQLite, but it would sit in the state directory
/// on this node only and change its state hash, so it goes.
fn recover(session: &Session, journal: &Path) -> Result<()> {
    // A connection of its own, closed before the round's opens: SQLite
    // must not hold the journal open when a non-hot one is removed.
    let conn = open(&session.dir, false)?;
    conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
        .map_err(sql_error)?;
    conn.execute_batch("COMMIT").map_err(sql_error)?;
    conn.close().map_err(|(_, e)| sql_error(e))?;
    match std::fs::remove_file(journal) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(store_error(format!(
            "cannot remove the stale journal {}: {e}",
            journal.display()
        ))),
    }
}

/// Commits the round's changes (nothing when the store was not used, or in a
/// read request) and ends the store's round.
pub fn commit_round() -> Result<()> {
    let session = CURRENT.with(|c| c.borrow_mut().take());
    let Some(Session {
        conn: Some(conn),
        read_only: false,
        broken,
        ..
    }) = session
    else {
        return Ok(());
    };
    if let Some(why) = broken {
        return Err(store_error(format!(
            "cannot commit: {why}; SQLite rolled the round's changes back"
        )));
    }
    if let Err(e) = conn.execute_batch("COMMIT") {
        return Err(store_error(format!(
            "cannot commit: SQLite: {e}{}; the round's changes are rolled back",
            os_error(&conn)
        )));
    }
    conn.close().map_err(|(_, e)| sql_error(e))
}

/// The OS error behind SQLite's last failure (": <text> (os error N)"),
/// if there was one: SQLite's own message says only "disk I/O error".
fn os_error(conn: &Connection) -> String {
    // SAFETY: the handle is the live connection's; sqlite3_system_errno
    // only reads it.
    let errno = unsafe { rusqlite::ffi::sqlite3_system_errno(conn.handle()) };
    if errno == 0 {
        String::new()
    } else {
        format!(": {}", std::io::Error::from_raw_os_error(errno))
    }
}

/// Ends the store's round without committing (a failed round): dropping the
/// connection rolls the open transaction back.
pub(crate) fn end_round() {
    CURRENT.with(|c| c.borrow_mut().take());
}

/// The runtime's hook at the start of an engine round.
pub(crate) fn begin_engine_round(
    read_only: bool,
    timestamp_ms: u64,
    lcl: Option<&crate::Lcl>,
) -> Result<()> {
    open_for_round(Path::new("."), read_only, timestamp_ms, seed_from(lcl))
}

/// The SQL seed: 32 bytes from a generator seeded like [`Round::rng`]
/// (crate::Round::rng), drawn from its own copy so SQL does not shift the
/// numbers handlers draw.
fn seed_from(lcl: Option<&crate::Lcl>) -> [u8; 32] {
    let mut rng = crate::Rng::from_lcl(lcl);
    let mut seed = [0u8; 32];
    for chunk in seed.chunks_exact_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    seed
}

impl Session {
    fn connect(&mut self) -> Result<&Connection> {
        if self.conn.is_none() {
            self.conn = Some(open(&self.dir, self.read_only)?);
        }
        self.conn
            .as_ref()
            .ok_or_else(|| store_error("no connection"))
    }
}

fn open(dir: &Path, read_only: bool) -> Result<Connection> {
    let path = dir.join(DB_FILE);
    if read_only && !path.exists() {
        // Nothing written yet: a read request sees an empty database (and
        // must not create the file).
        let conn = Connection::open_in_memory().map_err(sql_error)?;
        conn.execute_batch("PRAGMA query_only=ON")
            .map_err(sql_error)?;
        return Ok(conn);
    }
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags_and_vfs(&path, flags, vfs::NAME).map_err(sql_error)?;
    conn.execute_batch(
        "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL; PRAGMA temp_store=MEMORY; \
         PRAGMA cache_size=-4096;",
    )
    .map_err(sql_error)?;
    if read_only {
        conn.execute_batch("PRAGMA query_only=ON")
            .map_err(sql_error)?;
    } else {
        conn.execute_batch("BEGIN IMMEDIATE").map_err(sql_error)?;
    }
    Ok(conn)
}

/// Runs `f` with the round's connection, inside the round's transaction (in
/// a read request: read-only, and writes fail). Do not `COMMIT` or `BEGIN`
/// yourself: the runtime commits once, after the handlers.
///
/// Outside a round of a contract run (no [`open_for_round`]) it is an error.
pub fn sql<T>(f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
    with_session(|s| {
        let conn = s.connect()?;
        f(conn).map_err(sql_error)
    })
}

/// Runs `f` as one unit inside the round (an SQLite savepoint): when it
/// returns `Err`, every store write it made is undone and the rest of the
/// round's writes stay. Use it around a command that makes several writes,
/// so that a failure halfway (a full disk while SQLite spills its cache)
/// cannot keep half a command.
pub fn atomically<T, E: From<Error>>(
    f: impl FnOnce() -> std::result::Result<T, E>,
) -> std::result::Result<T, E> {
    sql(|c| c.execute_batch("SAVEPOINT hotpocket_unit"))?;
    match f() {
        Ok(v) => {
            sql(|c| c.execute_batch("RELEASE hotpocket_unit"))?;
            Ok(v)
        }
        Err(e) => {
            // A failed undo (SQLite already rolled the whole round back)
            // marks the round broken; the caller's error is the one to see.
            let _ = sql(|c| c.execute_batch("ROLLBACK TO hotpocket_unit; RELEASE hotpocket_unit"));
            Err(e)
        }
    }
}

pub(crate) fn with_session<T>(f: impl FnOnce(&mut Session) -> Result<T>) -> Result<T> {
    CURRENT.with(|c| match c.borrow_mut().as_mut() {
        Some(s) => {
            if let Some(why) = &s.broken {
                return Err(store_error(format!(
                    "the round's transaction was rolled back after an earlier error ({why})"
                )));
            }
            let result = f(s);
            if let (Err(e), false, Some(conn)) = (&result, s.read_only, &s.conn)
                && conn.is_autocommit()
            {
                // SQLite ended the transaction itself: nothing of this
                // round can be kept, and nothing may run outside it.
                let what = match e {
                    Error::State { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                s.broken = Some(format!("{what}{}", os_error(conn)));
            }
            result
        }
        None => Err(store_error("the store is used outside a round")),
    })
}

/// Whether table `name` exists; cached per round.
pub(crate) fn table_exists(s: &mut Session, name: &str) -> Result<bool> {
    if s.tables.contains(name) {
        return Ok(true);
    }
    if s.read_only && !s.dir.join(DB_FILE).exists() {
        return Ok(false);
    }
    let conn = s.connect()?;
    let found: bool = conn
        .query_row(
            "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1",
            [name],
            |_| Ok(true),
        )
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(false),
            e => Err(e),
        })
        .map_err(sql_error)?;
    if found {
        s.tables.insert(name.to_owned());
    }
    Ok(found)
}

/// Creates table `name` with `columns` unless it exists (writes only).
pub(crate) fn ensure_table(s: &mut Session, name: &str, columns: &str) -> Result<()> {
    if s.read_only {
        return Err(store_error(format!(
            "`{name}` cannot be written in a read request (read requests never change state)"
        )));
    }
    if table_exists(s, name)? {
        return Ok(());
    }
    let conn = s.connect()?;
    conn.execute_batch(&format!(
        "CREATE TABLE \"{name}\" ({columns}) WITHOUT ROWID"
    ))
    .map_err(sql_error)?;
    s.tables.insert(name.to_owned());
    Ok(())
}

impl Session {
    pub(crate) fn read_only(&self) -> bool {
        self.read_only
    }

    pub(crate) fn conn(&mut self) -> Result<&Connection> {
        self.connect()
    }
}
