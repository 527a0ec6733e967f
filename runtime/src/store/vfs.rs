//! The SQLite VFS every store connection uses: SQLite's own `unix-none`
//! (the unix file layer without any file locking: the engine guarantees one
//! writer, and its state directory is a FUSE filesystem), with the two things
//! SQLite takes from its VFS replaced by per-round deterministic values:
//!
//! - the current time (`CURRENT_TIMESTAMP`, `'now'` in every date function,
//!   `unixepoch()`): the round's timestamp;
//! - randomness (`random()`, `randomblob()`, the rollback journal's nonce):
//!   SQLite's PRNG reseeded from the round's lcl hash.
//!
//! Both are read through `xCurrentTime`/`xCurrentTimeInt64` and
//! `xRandomness`, the only time and entropy sources SQLite has, so no SQL
//! can reach the node's clock or the OS's randomness.

use std::cell::Cell;
use std::ffi::{c_char, c_int};
use std::sync::Mutex;

use rusqlite::ffi;

/// The name the VFS is registered under (and made SQLite's default, so that
/// SQLite's PRNG seeds itself from it).
pub(crate) const NAME: &std::ffi::CStr = c"hotpocket";

/// Julian day number of the unix epoch, in milliseconds (SQLite's unit for
/// `xCurrentTimeInt64`).
const UNIX_EPOCH_JD_MS: i64 = 210_866_760_000_000;

thread_local! {
    /// The round's timestamp (unix ms) for statements run on this thread.
    static NOW_MS: Cell<i64> = const { Cell::new(0) };
}

/// The seed `xRandomness` hands out; SQLite's PRNG is process-wide.
static SEED: Mutex<[u8; 32]> = Mutex::new([0; 32]);

/// Registers the VFS once per process; `Err` names what SQLite refused.
pub(crate) fn register() -> Result<(), String> {
    static DONE: Mutex<Option<Result<(), String>>> = Mutex::new(None);
    let mut done = DONE
        .lock()
        .map_err(|_| "the VFS registry lock is poisoned")?;
    if let Some(result) = done.as_ref() {
        return result.clone();
    }
    let result = register_once();
    *done = Some(result.clone());
    result
}

fn register_once() -> Result<(), String> {
    // SAFETY: sqlite3_vfs_find only reads SQLite's VFS list (initialising
    // the library first); the name is a NUL-terminated literal.
    let base = unsafe { ffi::sqlite3_vfs_find(c"unix-none".as_ptr()) };
    if base.is_null() {
        return Err("the bundled SQLite has no `unix-none` VFS".to_owned());
    }
    // SAFETY: `base` is a live, registered VFS that SQLite never frees; we
    // copy it by value and change only our own copy.
    let mut ours: ffi::sqlite3_vfs = unsafe { std::ptr::read(base) };
    ours.zName = NAME.as_ptr();
    ours.pNext = std::ptr::null_mut();
    ours.xRandomness = Some(x_randomness);
    ours.xCurrentTime = Some(x_current_time);
    if ours.iVersion >= 2 {
        ours.xCurrentTimeInt64 = Some(x_current_time_int64);
    }
    // SQLite keeps the pointer for the life of the process.
    let ours: &'static mut ffi::sqlite3_vfs = Box::leak(Box::new(ours));
    // SAFETY: `ours` lives forever and is a valid VFS: every method but the
    // three above is unix-none's own, and unix-none reads only `pAppData`
    // (copied unchanged) from the VFS it is handed.
    let rc = unsafe { ffi::sqlite3_vfs_register(ours, 1) };
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(format!(
            "SQLite refused to register the hotpocket VFS (code {rc})"
        ))
    }
}

/// Sets this round's time and seed. Reseeds SQLite's PRNG, so `random()`
/// from here on follows `seed` alone.
pub(crate) fn set_round(now_ms: i64, seed: [u8; 32]) {
    NOW_MS.with(|n| n.set(now_ms));
    if let Ok(mut s) = SEED.lock() {
        *s = seed;
    }
    // SAFETY: N = 0 with a null buffer is SQLite's documented way to make
    // its PRNG reseed from the default VFS's xRandomness on next use.
    unsafe { ffi::sqlite3_randomness(0, std::ptr::null_mut()) };
}

unsafe extern "C" fn x_randomness(_: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) -> c_int {
    let Ok(len) = usize::try_from(n) else {
        return 0;
    };
    if out.is_null() || len == 0 {
        return 0;
    }
    let seed = SEED.lock().map(|s| *s).unwrap_or([0; 32]);
    // SAFETY: SQLite passes a buffer of `n` writable bytes.
    let buf = unsafe { std::slice::from_raw_parts_mut(out.cast::<u8>(), len) };
    // The seed, then zeros: SQLite asks for a fixed size once per reseed.
    for (i, b) in buf.iter_mut().enumerate() {
        *b = seed.get(i).copied().unwrap_or(0);
    }
    n
}

unsafe extern "C" fn x_current_time(_: *mut ffi::sqlite3_vfs, out: *mut f64) -> c_int {
    let ms = NOW_MS.with(Cell::get) + UNIX_EPOCH_JD_MS;
    if !out.is_null() {
        // SAFETY: SQLite passes a valid out-pointer.
        unsafe { *out = ms as f64 / 86_400_000.0 };
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_current_time_int64(_: *mut ffi::sqlite3_vfs, out: *mut i64) -> c_int {
    if !out.is_null() {
        // SAFETY: SQLite passes a valid out-pointer.
        unsafe { *out = NOW_MS.with(Cell::get) + UNIX_EPOCH_JD_MS };
    }
    ffi::SQLITE_OK
}
