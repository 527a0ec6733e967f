//! A round whose state cannot be saved tells no user anything, for every
//! kind of state: the ledger example (its state in hotpocket::store's
//! `state.sqlite`) and the counter example (a JSON state file,
//! `counter.json`), each on a file-size limit of zero (`RLIMIT_FSIZE`, which
//! any user can set), with `fsync` failing with EIO (a seccomp filter, as a
//! failing disk reports a lost write) and, when the test runs as root, on a
//! tmpfs too small for the save. Every case checks that no output reached any
//! user, that the state file is unchanged byte for byte, that no temp file is
//! left, and that stderr says why.

use std::path::{Path, PathBuf};

use crate::support::stderr;
use hotpocket::sim::{Cluster, ClusterBuilder, Exit};

use hotpocket::sim::cargo_example;

/// A contract with state, the inputs of its two rounds, and how its failed
/// save is reported.
struct Subject {
    example: &'static str,
    file: &'static str,
    /// Round 1's input from alice (saved), then round 2's from bob.
    first: &'static str,
    second: &'static str,
    /// What stderr says before the OS error.
    failure: &'static str,
}

const LEDGER: Subject = Subject {
    example: "ledger",
    file: "state.sqlite",
    first: r#""open""#,
    second: r#""open""#,
    failure: "state file `state.sqlite`: cannot commit: SQLite: ",
};

const COUNTER: Subject = Subject {
    example: "counter",
    file: "counter.json",
    first: r#"{"Add":5}"#,
    second: r#"{"Add":2}"#,
    failure: "state file `counter.json`: cannot write: ",
};

/// How the wrapper breaks the save while its flag file exists.
#[derive(Clone, Copy)]
enum Break {
    /// `RLIMIT_FSIZE` at 0 and SIGXFSZ ignored, so a write to a regular file
    /// fails with EFBIG instead of killing the process.
    FileSize,
    /// Through `test-fsync-eio`: fsync and fdatasync fail with EIO.
    Fsync,
}

/// A wrapper around `example` that, while `flag` exists, starts it with its
/// saves broken as `how` says.
fn broken_contract(dir: &Path, flag: &Path, example: &str, how: Break) -> PathBuf {
    let bin = cargo_example(example).unwrap();
    let script = dir.join(format!("{example}-broken.sh"));
    let broken = match how {
        Break::FileSize => format!("trap '' XFSZ; ulimit -f 0; exec '{}' \"$@\"", bin.display()),
        Break::Fsync => format!(
            "exec '{}' '{}' \"$@\"",
            env!("CARGO_BIN_EXE_test-fsync-eio"),
            bin.display()
        ),
    };
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nif [ -e '{}' ]; then {broken}; fi\nexec '{}' \"$@\"\n",
            flag.display(),
            bin.display()
        ),
    )
    .unwrap();
    let mut perm = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&script, perm).unwrap();
    script
}

/// Runs `subject` with its save broken by the wrapper (`how`) in round 2.
fn broken_by_wrapper(subject: &Subject, how: Break, why: &str) {
    let tmp = std::env::temp_dir().join(format!(
        "hp-broken-{}-{}-{}",
        subject.example,
        why.len(),
        std::process::id()
    ));
    std::fs::create_dir_all(&tmp).unwrap();
    let flag = tmp.join("broken");
    let bin = broken_contract(&tmp, &flag, subject.example, how);
    failed_save_tells_no_user(
        subject,
        Cluster::builder(bin),
        |_| std::fs::write(&flag, "").unwrap(),
        |_| std::fs::remove_file(&flag).unwrap(),
        why,
    );
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// Runs round 1 (alice's input, saved), then round 2 (bob's, and alice's
/// again) with `break_save` in force, and checks that round 2 told nobody.
fn failed_save_tells_no_user(
    subject: &Subject,
    cluster: ClusterBuilder,
    break_save: impl FnOnce(&Path),
    restore: impl FnOnce(&Path),
    why: &str,
) {
    let mut c = cluster.user("alice").user("bob").build().unwrap();
    c.input("alice", subject.first);
    c.round().unwrap().assert_success();
    let dir = c.state_dir(0);
    let before = std::fs::read(dir.join(subject.file)).unwrap();
    break_save(&dir);
    c.input("bob", subject.second).input("alice", subject.first);
    let r = c.round().unwrap();
    let after = std::fs::read(dir.join(subject.file)).unwrap();
    restore(&dir);
    let n = r.node(0);
    let err = stderr(n);
    assert!(
        err.contains(subject.failure)
            && err.contains(why)
            && err.ends_with(
                "; the previous state was kept and none of this round's outputs were sent\n"
            ),
        "{err}"
    );
    for user in ["alice", "bob"] {
        assert!(
            n.output_strings(user).is_empty(),
            "{user}: {:?}",
            n.output_strings(user)
        );
    }
    assert_eq!(n.exit, Exit::Code(1));
    assert_eq!(after, before, "{} is unchanged byte for byte", subject.file);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|f| f.to_str() != Some(subject.file))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
    // The next round, with room again, saves and answers as usual.
    c.input("bob", subject.second);
    let r = c.round().unwrap();
    r.assert_success();
    assert_eq!(r.node(0).output_strings("bob").len(), 1);
}

#[test]
fn a_save_over_the_file_size_limit_sends_nothing() {
    broken_by_wrapper(&LEDGER, Break::FileSize, "File too large (os error 27)");
    broken_by_wrapper(&COUNTER, Break::FileSize, "File too large (os error 27)");
}

#[test]
fn a_failing_fsync_sends_nothing() {
    broken_by_wrapper(&LEDGER, Break::Fsync, "disk I/O error");
    broken_by_wrapper(&COUNTER, Break::Fsync, "Input/output error (os error 5)");
}

#[test]
fn a_save_on_a_full_filesystem_sends_nothing() {
    // SAFETY: geteuid only reads the process credentials.
    if unsafe { nix::libc::geteuid() } != 0 {
        eprintln!(
            "a_save_on_a_full_filesystem_sends_nothing: mounting a small tmpfs needs root; \
             case not exercised (the RLIMIT_FSIZE case covers the same path)"
        );
        return;
    }
    full_filesystem(&LEDGER, "database or disk is full");
    full_filesystem(&COUNTER, "No space left on device (os error 28)");
}

fn full_filesystem(subject: &Subject, why: &str) {
    let keep = std::env::temp_dir().join(format!(
        "hp-full-{}-{}",
        subject.example,
        std::process::id()
    ));
    failed_save_tells_no_user(
        subject,
        Cluster::builder(cargo_example(subject.example).unwrap()),
        |dir| {
            // The state directory's files move onto a tmpfs mounted over
            // it, exactly as large as the state file: the commit's journal
            // (or the JSON file's temp copy) finds no room.
            std::fs::create_dir_all(&keep).unwrap();
            copy_files(dir, &keep);
            let size = std::fs::metadata(dir.join(subject.file)).unwrap().len();
            mount_tmpfs(dir, &format!("size={}", size.div_ceil(4096) * 4096));
            copy_files(&keep, dir);
        },
        |dir| {
            let status = std::process::Command::new("umount")
                .arg(dir)
                .status()
                .unwrap();
            assert!(status.success(), "umount {}", dir.display());
            std::fs::remove_dir_all(&keep).unwrap();
        },
        why,
    );
}

fn mount_tmpfs(dir: &Path, options: &str) {
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", options, "tmpfs"])
        .arg(dir)
        .status()
        .unwrap();
    assert!(status.success(), "mount tmpfs on {}", dir.display());
}

fn copy_files(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}
