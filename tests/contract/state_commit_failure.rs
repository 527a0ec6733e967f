//! A round whose state cannot be saved tells no user anything: the ledger
//! example (its state in hotpocket::store's `state.sqlite`) on a file-size limit of zero (`RLIMIT_FSIZE`, which any user can
//! set) and, when the test runs as root, on a tmpfs too small for the save.
//! Every case checks that no output reached any user, that the database is
//! unchanged byte for byte, and that stderr says why.

use std::path::{Path, PathBuf};

use crate::support::stderr;
use hotpocket::sim::{Cluster, ClusterBuilder, Exit, cargo_example};

/// A wrapper around the ledger example that, while `flag` exists, starts it
/// with `RLIMIT_FSIZE` at 0 and SIGXFSZ ignored (so a write to a regular file
/// fails with EFBIG instead of killing the process).
fn limited_ledger(dir: &Path, flag: &Path) -> PathBuf {
    let ledger = cargo_example("ledger").unwrap();
    let script = dir.join("ledger-limited.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nif [ -e '{}' ]; then trap '' XFSZ; ulimit -f 0; fi\nexec '{}' \"$@\"\n",
            flag.display(),
            ledger.display()
        ),
    )
    .unwrap();
    let mut perm = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&script, perm).unwrap();
    script
}

/// Runs round 1 (alice opens an account, saved), then round 2 (bob opens
/// one) with `break_save` in force, and checks that round 2 told nobody.
fn failed_save_tells_no_user(
    cluster: ClusterBuilder,
    break_save: impl FnOnce(&Path),
    restore: impl FnOnce(&Path),
    why: &str,
) {
    let mut c = cluster.user("alice").user("bob").build().unwrap();
    c.input("alice", r#""open""#);
    c.round().unwrap().assert_success();
    let dir = c.state_dir(0);
    let before = std::fs::read(dir.join("state.sqlite")).unwrap();
    break_save(&dir);
    c.input("bob", r#""open""#).input("alice", r#""balance""#);
    let r = c.round().unwrap();
    let after = std::fs::read(dir.join("state.sqlite")).unwrap();
    restore(&dir);
    let n = r.node(0);
    let err = stderr(n);
    assert!(
        err.contains("state file `state.sqlite`: cannot commit: SQLite: ")
            && err.contains(why)
            && err.ends_with(
                "; the previous state was kept and none of this round's outputs were sent\n"
            ),
        "{err}"
    );
    assert!(
        n.output_strings("alice").is_empty(),
        "{:?}",
        n.output_strings("alice")
    );
    assert!(
        n.output_strings("bob").is_empty(),
        "{:?}",
        n.output_strings("bob")
    );
    assert_eq!(n.exit, Exit::Code(1));
    assert_eq!(after, before, "the state file is unchanged byte for byte");
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|f| f != "state.sqlite")
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
    // The next round, with room again, saves and answers as usual.
    c.input("bob", r#""open""#);
    let r = c.round().unwrap();
    r.assert_success();
    assert_eq!(r.node(0).output_strings("bob").len(), 1);
}

#[test]
fn a_save_over_the_file_size_limit_sends_nothing() {
    let tmp = std::env::temp_dir().join(format!("hp-fsize-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let flag = tmp.join("limit");
    let bin = limited_ledger(&tmp, &flag);
    failed_save_tells_no_user(
        Cluster::builder(bin),
        |_| std::fs::write(&flag, "").unwrap(),
        |_| std::fs::remove_file(&flag).unwrap(),
        "File too large (os error 27)",
    );
    std::fs::remove_dir_all(&tmp).unwrap();
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
    let keep = std::env::temp_dir().join(format!("hp-full-{}", std::process::id()));
    failed_save_tells_no_user(
        Cluster::builder(cargo_example("ledger").unwrap()),
        |dir| {
            // The state directory's files move onto a tmpfs mounted over
            // it, exactly as large as the database: the commit's journal
            // finds no room.
            std::fs::create_dir_all(&keep).unwrap();
            copy_files(dir, &keep);
            let size = std::fs::metadata(dir.join("state.sqlite")).unwrap().len();
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
        "database or disk is full",
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
