//! Typed contract state, persisted as JSON in the round's working directory
//! (the engine's `/state`, which it hashes after every consensus round).
//!
//! Every node must write byte-identical files for equal values, or the state
//! hashes differ and the nodes fork. serde_json output is deterministic for a
//! given value as long as the type has no iteration-order randomness: use
//! `BTreeMap`/`BTreeSet`, never `HashMap`/`HashSet`, anywhere in the state
//! type. Avoid floats whose computation can differ between machines.

use std::io;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::atomic::write_atomic;
use crate::error::{Error, Result};

/// True when `name` is a plain file name in the working directory: not
/// empty, not `.` or `..`, without `/` or NUL.
///
/// `const` so generated code can check a literal at compile time:
/// `const _: () = assert!(hotpocket::state::state_file_name_ok("counter.json"));`
// `get` is not const; every index is below `len()` by the loop condition.
#[allow(clippy::indexing_slicing)]
pub const fn state_file_name_ok(name: &str) -> bool {
    let bytes = name.as_bytes();
    if bytes.is_empty() {
        return false;
    }
    if bytes.len() <= 2 && is_all_dots(bytes) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'/' || bytes[i] == 0 {
            return false;
        }
        i += 1;
    }
    true
}

#[allow(clippy::indexing_slicing)]
const fn is_all_dots(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'.' {
            return false;
        }
        i += 1;
    }
    true
}

/// Loads the state from `file` in the working directory. A missing file
/// gives `T::default()` (the first round); an unreadable or corrupt file is
/// an [`Error::State`] naming the file and, for bad JSON, the line and column.
pub fn load_state<T: DeserializeOwned + Default>(file: &str) -> Result<T> {
    load_state_from(Path::new("."), file)
}

/// Saves the state to `file` in the working directory, atomically: the value
/// is serialised completely first (a serialisation error leaves the old file
/// untouched), then written to a temp file that replaces `file`.
pub fn save_state<T: Serialize>(value: &T, file: &str) -> Result<()> {
    save_state_to(Path::new("."), value, file)
}

/// [`load_state`] from `file` in `dir` instead of the working directory
/// (tests, tools inspecting a node's state directory).
pub fn load_state_from<T: DeserializeOwned + Default>(dir: &Path, file: &str) -> Result<T> {
    check_name(file)?;
    let bytes = match std::fs::read(dir.join(file)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(T::default()),
        Err(e) => return Err(state_error(file, format!("cannot read: {e}"))),
    };
    decode(&bytes, file)
}

/// [`save_state`] to `file` in `dir` instead of the working directory.
pub fn save_state_to<T: Serialize>(dir: &Path, value: &T, file: &str) -> Result<()> {
    check_name(file)?;
    let bytes = encode(value, file)?;
    write_atomic(&dir.join(file), &bytes)
        .map_err(|e| state_error(file, format!("cannot write: {e}")))
}

/// The one encoding of a state file, shared by [`save_state_to`] and
/// [`StateCodec`] so that an in-process round trip is byte for byte the file.
fn encode<T: Serialize>(value: &T, file: &str) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| state_error(file, format!("cannot serialise: {e}")))
}

/// The decoding that matches [`encode`], shared by [`load_state_from`] and
/// [`StateCodec`].
fn decode<T: DeserializeOwned>(bytes: &[u8], file: &str) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| state_error(file, format!("corrupt: {e}")))
}

/// A state file's encoding without the file: what [`save_state`] would
/// write for a value, and the value [`load_state`] would read back from
/// those bytes. [`testing::TestRound`](crate::testing::TestRound) passes the
/// contract through it between rounds, so that a test sees what the next
/// round on the engine sees: only what the file holds (a `#[serde(skip)]`
/// field is back to its default).
///
/// Made by [`json_codec`]; `#[contract(state = "...")]` returns one from
/// [`Contract::state_codec`](crate::Contract::state_codec).
pub struct StateCodec<T> {
    file: &'static str,
    encode: fn(&T, &str) -> Result<Vec<u8>>,
    decode: fn(&[u8], &str) -> Result<T>,
    load: fn(&Path, &str) -> Result<T>,
    save: fn(&Path, &T, &str) -> Result<()>,
}

/// The [`StateCodec`] of [`save_state`] and [`load_state`] (JSON) for
/// `file`. The generated code builds its `load`, `save` and `state_codec`
/// all from this one call, so a state type missing `Serialize`,
/// `Deserialize` or `Default` is reported once per missing trait.
pub fn json_codec<T>(file: &'static str) -> StateCodec<T>
where
    T: Serialize + DeserializeOwned + Default,
{
    StateCodec {
        file,
        encode: encode::<T>,
        decode: decode::<T>,
        load: load_state_from::<T>,
        save: save_state_to::<T>,
    }
}

impl<T> StateCodec<T> {
    /// The state file's name.
    pub fn file(&self) -> &'static str {
        self.file
    }

    /// The bytes [`save`](StateCodec::save) would write for `value`.
    pub fn encode(&self, value: &T) -> Result<Vec<u8>> {
        (self.encode)(value, self.file)
    }

    /// The value [`load`](StateCodec::load) would read from a file holding `bytes`.
    pub fn decode(&self, bytes: &[u8]) -> Result<T> {
        (self.decode)(bytes, self.file)
    }

    /// [`load_state`] of the file.
    pub fn load(&self) -> Result<T> {
        (self.load)(Path::new("."), self.file)
    }

    /// [`save_state`] of `value` to the file.
    pub fn save(&self, value: &T) -> Result<()> {
        (self.save)(Path::new("."), value, self.file)
    }
}

// Derives would demand `T: Clone`/`T: Debug`; the codec holds no `T`.
impl<T> Clone for StateCodec<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for StateCodec<T> {}

impl<T> std::fmt::Debug for StateCodec<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateCodec")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

fn check_name(file: &str) -> Result<()> {
    if state_file_name_ok(file) {
        Ok(())
    } else {
        Err(state_error(
            file,
            "must be a plain file name in the working directory (not empty, no '/', not '.' or '..')",
        ))
    }
}

fn state_error(file: &str, message: impl Into<String>) -> Error {
    Error::State {
        file: file.to_owned(),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serializer};

    use super::*;
    use crate::atomic::testdir::TestDir;

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    struct Counter {
        total: i64,
        by_user: BTreeMap<String, u32>,
    }

    fn sample() -> Counter {
        Counter {
            total: -7,
            by_user: [("zed".to_owned(), 1), ("amy".to_owned(), 2)].into(),
        }
    }

    fn state_error_of<T: std::fmt::Debug>(result: Result<T>) -> (String, String) {
        match result {
            Err(Error::State { file, message }) => (file, message),
            other => panic!("expected Error::State, got {other:?}"),
        }
    }

    #[test]
    fn file_names() {
        for ok in ["counter.json", "a", ".hidden", "...", "a..b", "with space"] {
            assert!(state_file_name_ok(ok), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "/abs", "dir/", "nul\0"] {
            assert!(!state_file_name_ok(bad), "{bad:?}");
        }
        const _: () = assert!(state_file_name_ok("compile-time.json"));
    }

    #[test]
    fn missing_file_gives_default() {
        let dir = TestDir::new("state-missing");
        let c: Counter = load_state_from(dir.path(), "counter.json").unwrap();
        assert_eq!(c, Counter::default());
    }

    #[test]
    fn round_trip_is_compact_and_byte_stable() {
        let dir = TestDir::new("state-roundtrip");
        save_state_to(dir.path(), &sample(), "counter.json").unwrap();
        let bytes = std::fs::read(dir.path().join("counter.json")).unwrap();
        assert_eq!(bytes, br#"{"total":-7,"by_user":{"amy":2,"zed":1}}"#);
        let back: Counter = load_state_from(dir.path(), "counter.json").unwrap();
        assert_eq!(back, sample());
        save_state_to(dir.path(), &back, "counter.json").unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("counter.json")).unwrap(),
            bytes
        );
        assert_eq!(dir.entries(), ["counter.json"]);
    }

    #[test]
    fn corrupt_file_names_file_and_position() {
        let dir = TestDir::new("state-corrupt");
        std::fs::write(dir.path().join("s.json"), "{\"total\":\n  oops}").unwrap();
        let (file, message) = state_error_of(load_state_from::<Counter>(dir.path(), "s.json"));
        assert_eq!(file, "s.json");
        assert!(message.contains("line 2 column"), "{message}");
        let err = load_state_from::<Counter>(dir.path(), "s.json").unwrap_err();
        assert!(
            err.to_string().starts_with("state file `s.json`: corrupt:"),
            "{err}"
        );
    }

    #[test]
    fn wrong_shape_is_corrupt() {
        let dir = TestDir::new("state-shape");
        std::fs::write(dir.path().join("s.json"), r#"{"total":"many"}"#).unwrap();
        let (_, message) = state_error_of(load_state_from::<Counter>(dir.path(), "s.json"));
        assert!(message.contains("column"), "{message}");
    }

    #[test]
    fn unreadable_file_is_an_error_not_default() {
        let dir = TestDir::new("state-unreadable");
        std::fs::create_dir(dir.path().join("s.json")).unwrap();
        let (file, message) = state_error_of(load_state_from::<Counter>(dir.path(), "s.json"));
        assert_eq!(file, "s.json");
        assert!(message.starts_with("cannot read"), "{message}");
    }

    #[test]
    fn bad_names_are_rejected() {
        let dir = TestDir::new("state-badname");
        state_error_of(load_state_from::<Counter>(dir.path(), "../x"));
        state_error_of(save_state_to(dir.path(), &sample(), ".."));
        state_error_of(save_state_to(dir.path(), &sample(), ""));
        assert!(dir.entries().is_empty());
    }

    struct Unserialisable;

    impl Serialize for Unserialisable {
        fn serialize<S: Serializer>(&self, _: S) -> std::result::Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("refused"))
        }
    }

    #[test]
    fn serialisation_error_leaves_the_old_file() {
        let dir = TestDir::new("state-serfail");
        save_state_to(dir.path(), &sample(), "s.json").unwrap();
        let before = std::fs::read(dir.path().join("s.json")).unwrap();
        let (_, message) = state_error_of(save_state_to(dir.path(), &Unserialisable, "s.json"));
        assert!(message.contains("refused"), "{message}");
        assert_eq!(std::fs::read(dir.path().join("s.json")).unwrap(), before);
        assert_eq!(dir.entries(), ["s.json"]);
    }

    #[test]
    fn write_failure_is_a_state_error() {
        let dir = TestDir::new("state-writefail");
        let missing = dir.path().join("missing");
        let (file, message) = state_error_of(save_state_to(&missing, &sample(), "s.json"));
        assert_eq!(file, "s.json");
        assert!(message.starts_with("cannot write"), "{message}");
    }
}
