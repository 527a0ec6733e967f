//! Crash-safe file replacement: readers (the engine hashing `/state` and
//! `/patch.cfg`, the next round) see either the old file or the new one, never
//! a torn mix.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::process;
use std::sync::atomic::{AtomicU64, Ordering};

/// Mode of a file that did not exist before. Set explicitly with fchmod so
/// the result does not depend on the node's umask: the engine hashes the
/// state directory, and every node must end up with the same bytes.
const NEW_FILE_MODE: u32 = 0o644;

/// Distinguishes temp files of concurrent writes inside one process; the pid
/// distinguishes processes.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The temp file name [`write_atomic`] uses for `name`, without the
/// `<pid>-<n>` suffix.
fn temp_prefix(name: &std::ffi::OsStr) -> OsString {
    let mut prefix = OsString::from(".");
    prefix.push(name);
    prefix.push(".tmp-");
    prefix
}

/// Removes the temp files that writers of `path` killed mid-write left
/// behind: regular files named exactly `.<name>.tmp-<digits>-<digits>` next
/// to it. Call it only when no writer of `path` can be running (the start of
/// a round: the engine runs one consensus execution at a time). Best effort:
/// a file that cannot be removed (a read-only directory) is left, silently.
pub(crate) fn remove_stale_temps(path: &Path) {
    let Some(name) = path.file_name() else {
        return;
    };
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let prefix = temp_prefix(name);
    let prefix = prefix.as_encoded_bytes();
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(suffix) = file_name.as_encoded_bytes().strip_prefix(prefix) else {
            continue;
        };
        let is_ours = match suffix.iter().position(|&b| b == b'-') {
            Some(dash) => {
                let (pid, n) = suffix.split_at(dash);
                let n = n.get(1..).unwrap_or_default();
                !pid.is_empty()
                    && !n.is_empty()
                    && pid.iter().all(u8::is_ascii_digit)
                    && n.iter().all(u8::is_ascii_digit)
            }
            None => false,
        };
        // `file_type` does not follow symlinks: only plain files go.
        if is_ours && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Replaces `path` with `bytes`: writes a temp file in the same directory,
/// fsyncs it, renames it over `path`, then fsyncs the directory.
///
/// On failure before the rename, the temp file is removed and `path` is left
/// as it was. An existing file's permission bits are kept. An error from the
/// final directory fsync means the new content is in place but its durability
/// is not guaranteed.
///
/// A process killed mid-write leaves its `.<name>.tmp-<pid>-<n>` file behind;
/// a later write by a process with the same pid simply reuses and replaces it,
/// and [`remove_stale_temps`] clears such leftovers.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let (dir, name) = dir_and_name(path)?;
    let mut temp_name = temp_prefix(name);
    temp_name.push(format!(
        "{}-{}",
        process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    write_via(path, dir, &dir.join(temp_name), bytes)
}

/// [`write_atomic`] for a file that only one writer at a time ever replaces
/// (`patch.cfg`: the engine runs one consensus execution at a time, read
/// requests may not write it, and a round's handlers run on one thread). Its
/// temp file has the fixed name `.<name>.tmp`, so a leftover of a killed
/// write is removed by name (engine.rs, `remove_stale_temps`), with one
/// `unlink`, instead of by listing the directory every round.
pub(crate) fn write_atomic_single_writer(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let (dir, name) = dir_and_name(path)?;
    write_via(path, dir, &dir.join(single_writer_temp(name)), bytes)
}

/// Where [`write_atomic_single_writer`] puts its temp file for `path`. The
/// engine round removes a leftover of a killed write by this name, which
/// engine.rs spells out as a constant (its test checks the two agree).
#[cfg(test)]
pub(crate) fn single_writer_temp_path(path: &Path) -> Option<std::path::PathBuf> {
    let (dir, name) = dir_and_name(path).ok()?;
    Some(dir.join(single_writer_temp(name)))
}

fn single_writer_temp(name: &std::ffi::OsStr) -> OsString {
    let mut temp = OsString::from(".");
    temp.push(name);
    temp.push(".tmp");
    temp
}

fn dir_and_name(path: &Path) -> io::Result<(&Path, &std::ffi::OsStr)> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} does not name a file", path.display()),
        )
    })?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    Ok((dir, name))
}

/// Writes `bytes` to `temp`, fsyncs it, renames it over `path` and fsyncs
/// `dir`; on failure before the rename, removes `temp`.
fn write_via(path: &Path, dir: &Path, temp: &Path, bytes: &[u8]) -> io::Result<()> {
    let mode = match fs::metadata(path) {
        Ok(meta) => meta.permissions().mode() & 0o7777,
        Err(_) => NEW_FILE_MODE,
    };

    // Truncate rather than create_new: the name is ours (pid + counter, or
    // the single writer's), so an existing file can only be a leftover of a
    // killed write, and refusing to overwrite it would block every later one.
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(temp)?;

    let written = fill_and_rename(file, temp, path, bytes, mode);
    if let Err(e) = written {
        // Best effort: the original error is the one worth reporting.
        let _ = fs::remove_file(temp);
        return Err(e);
    }
    sync_dir(dir)
}

fn fill_and_rename(
    mut file: File,
    temp: &Path,
    path: &Path,
    bytes: &[u8],
    mode: u32,
) -> io::Result<()> {
    file.set_permissions(Permissions::from_mode(mode))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(temp, path)
}

/// Makes the rename durable. Filesystems that cannot fsync a directory say so
/// with EINVAL or ENOTSUP/ENOSYS; the rename is then as durable as it gets.
fn sync_dir(dir: &Path) -> io::Result<()> {
    let result = File::open(dir).and_then(|d| d.sync_all());
    match result {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported
            ) =>
        {
            Ok(())
        }
        other => other,
    }
}

/// Scratch directories for unit tests (no tempfile crate in this workspace).
#[cfg(test)]
pub(crate) mod testdir {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU64, Ordering};

    static COUNTER: AtomicU64 = AtomicU64::new(0);

    /// A fresh directory under the system temp dir, removed on drop.
    pub(crate) struct TestDir(PathBuf);

    impl TestDir {
        pub(crate) fn new(tag: &str) -> Self {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let dir = std::env::temp_dir().join(format!(
                "hotpocket-test-{tag}-{}-{}-{nanos}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            TestDir(dir)
        }

        pub(crate) fn path(&self) -> &Path {
            &self.0
        }

        /// Names of all entries, sorted, for "nothing else was left behind" checks.
        pub(crate) fn entries(&self) -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(&self.0)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        }
    }

    impl Drop for TestDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testdir::TestDir;
    use super::*;

    #[test]
    fn creates_a_new_file_with_a_fixed_mode() {
        let dir = TestDir::new("atomic-new");
        let path = dir.path().join("state.json");
        write_atomic(&path, b"hello").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"hello");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, NEW_FILE_MODE);
        assert_eq!(dir.entries(), ["state.json"]);
    }

    #[test]
    fn replaces_an_existing_file_and_keeps_its_mode() {
        let dir = TestDir::new("atomic-replace");
        let path = dir.path().join("state.json");
        fs::write(&path, b"old old old").unwrap();
        fs::set_permissions(&path, Permissions::from_mode(0o600)).unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600);
        assert_eq!(dir.entries(), ["state.json"]);
    }

    #[test]
    fn writes_empty_content() {
        let dir = TestDir::new("atomic-empty");
        let path = dir.path().join("f");
        fs::write(&path, b"x").unwrap();
        write_atomic(&path, b"").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"");
    }

    #[test]
    fn fails_when_the_parent_directory_is_missing() {
        let dir = TestDir::new("atomic-noparent");
        let path = dir.path().join("missing").join("f");
        assert!(write_atomic(&path, b"x").is_err());
        assert!(dir.entries().is_empty());
    }

    #[test]
    fn fails_when_the_parent_is_a_file() {
        let dir = TestDir::new("atomic-fileparent");
        let parent = dir.path().join("plain");
        fs::write(&parent, b"i am a file").unwrap();
        assert!(write_atomic(&parent.join("f"), b"x").is_err());
        assert_eq!(fs::read(&parent).unwrap(), b"i am a file");
        assert_eq!(dir.entries(), ["plain"]);
    }

    #[test]
    fn old_file_survives_when_the_temp_cannot_be_created() {
        // A 250-byte name is legal, but the temp name built from it exceeds
        // NAME_MAX (255), so creating the temp fails after the old file exists.
        let dir = TestDir::new("atomic-longname");
        let name = "n".repeat(250);
        let path = dir.path().join(&name);
        fs::write(&path, b"old").unwrap();
        assert!(write_atomic(&path, b"new").is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(dir.entries(), [name]);
    }

    #[test]
    fn temp_is_removed_when_the_rename_fails() {
        // Renaming a file over a non-empty directory fails (EISDIR).
        let dir = TestDir::new("atomic-renamefail");
        let target = dir.path().join("target");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("inner"), b"keep").unwrap();
        assert!(write_atomic(&target, b"x").is_err());
        assert_eq!(fs::read(target.join("inner")).unwrap(), b"keep");
        assert_eq!(dir.entries(), ["target"]);
    }

    #[test]
    fn stale_temps_of_the_file_are_removed_and_nothing_else() {
        let dir = TestDir::new("atomic-stale");
        let path = dir.path().join("state.json");
        fs::write(&path, b"current").unwrap();
        for leftover in [".state.json.tmp-123-0", ".state.json.tmp-4194304-17"] {
            fs::write(dir.path().join(leftover), b"torn").unwrap();
        }
        let keep = [
            ".state.json.tmp-12a-0",
            ".state.json.tmp-1-",
            ".state.json.tmp--1",
            ".state.json.tmp-1",
            ".other.json.tmp-1-0",
            "state.json.tmp-1-0",
            ".state.json.tmp-1-0-1",
        ];
        for name in keep {
            fs::write(dir.path().join(name), b"author's").unwrap();
        }
        // A directory with the exact name is not a temp file of ours.
        fs::create_dir(dir.path().join(".state.json.tmp-9-9")).unwrap();
        remove_stale_temps(&path);
        let mut want: Vec<&str> = keep.to_vec();
        want.push(".state.json.tmp-9-9");
        want.push("state.json");
        want.sort_unstable();
        assert_eq!(dir.entries(), want);
        assert_eq!(fs::read(&path).unwrap(), b"current");
        // A missing directory or a bare name is no error.
        remove_stale_temps(&dir.path().join("missing").join("x"));
        remove_stale_temps(Path::new("/"));
    }

    #[test]
    fn a_leftover_temp_does_not_block_the_next_write() {
        let dir = TestDir::new("atomic-leftover");
        let path = dir.path().join("s");
        let mine = dir.path().join(format!(
            ".s.tmp-{}-{}",
            process::id(),
            TEMP_COUNTER.load(Ordering::Relaxed)
        ));
        fs::write(&mine, b"half-written by a killed process").unwrap();
        write_atomic(&path, b"whole").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"whole");
    }

    #[test]
    fn rejects_a_path_without_a_file_name() {
        let err = write_atomic(Path::new("/"), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
